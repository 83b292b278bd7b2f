"""Array utilization of the RTL on large GEMMs, from its own perf counters: MACS / (CYCLES * dim^2).

Runs on the Verilated RTL through the fast ctypes simulator (`nux.sim.SimDevice`), two workloads per size:

* resident: operands already in SP (the ISA's utilization claim, docs/isa.md section 4 GEMM note): for every
  (k tile, n tile) one GEMM preloading a weight tile and streaming M rows, accumulating into ACC; SP contents are
  whatever LOADs put there (values do not change timing). This is the >= 95 % target of the RTL issue.
* tiled: `nux.compiler.lower.tiled_gemm_program` end to end from DRAM (loads, GEMMs, stores overlapping through
  the decoupled queues), which also depends on the DMA bandwidth of the simulated DRAM. Twice: A row-major (the
  host's layout: one short burst per A row) and A pre-tiled by the planner (`a_tiled`: contiguous A tile loads
  that the load unit coalesces into long bursts). The result is checked against A @ B.
* with --requant also `tiled_gemm_requant_program` (int8 output, REQUANT + ReLU), checked against
  `gemm_requant_reference`.

Usage: python benchmarks/rtl_gemm.py [--sizes 256 512] [--dim 8] [--skip-tiled] [--requant]
       [--tile-m T --tile-nt N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from nux.compiler.lower.tiled_gemm import gemm_requant_reference, tiled_gemm_program, tiled_gemm_requant_program
from nux.isa import PERF, REG, Instr, NpuConfig, Status, assemble

PROG_BASE = 0x80_0000  # above the operands of a 512^3 GEMM


def resident_program(config: NpuConfig, M: int, K: int, N: int) -> list[Instr]:  # noqa: N803
    """Back-to-back GEMMs over SP-resident operands: A rows [0, M), weight tiles after them, two ACC buffers."""
    dim = config.dim
    if M + 2 * dim > config.sp_rows or 2 * M > config.acc_rows:
        raise SystemExit(f"M={M} does not fit sp_rows={config.sp_rows} / acc_rows={config.acc_rows}")
    prog = [Instr("load", dram_offset=0, x_size=M + 2 * dim, x_stride=dim, push_next=1)]
    first = True
    for nt in range(N // dim):
        for kt in range(K // dim):
            gemm = Instr("gemm", preload=1, accumulate=int(kt > 0), w_row=M + (kt % 2) * dim,
                         acc_base=(nt % 2) * M, a_base=0, x_size=M, pop_prev=int(first))
            prog.append(gemm)
            first = False
    prog.append(Instr("end"))
    return prog


def run(dev, config: NpuConfig, program: list[Instr], images: list[tuple[int, bytes]], arena: int) -> dict:
    code = assemble(program)
    dev.write(PROG_BASE, code)
    for offset, data in images:
        dev.write(offset, data)
    dev.write32(REG["CTRL"], 2)  # PERF_CLEAR
    dev.write32(REG["IRQ_ENABLE"], 3)
    for name, value in (("TASK_PROG_BASE_LO", PROG_BASE), ("TASK_PROG_BASE_HI", 0), ("TASK_PROG_LEN", len(program)),
                        ("TASK_ARENA_BASE_LO", 0), ("TASK_ARENA_BASE_HI", 0), ("TASK_ARENA_SIZE", arena),
                        ("TASK_TAG", 1), ("DOORBELL", 1)):
        dev.write32(REG[name], value)
    start = time.perf_counter()
    if not dev.wait_irq(3600):
        raise SystemExit("the NPU did not finish within an hour of wall time")
    wall = time.perf_counter() - start
    status = dev.read32(REG["STATUS"])
    if status & Status.ERROR:
        raise SystemExit(f"the NPU stopped with STATUS 0x{status:08x} at pc {dev.read32(REG['FAULT_PC'])}")
    counters = {}
    for name, offset in PERF.items():
        lo = dev.read32(offset)
        counters[name] = dev.read32(offset + 4) << 32 | lo
    counters["wall"] = wall
    dev.write32(REG["IRQ_STATUS"], 3)
    return counters


def report(label: str, config: NpuConfig, c: dict) -> None:
    util = c["MACS"] / (c["CYCLES"] * config.dim ** 2)
    print(f"{label:48s} cycles {c['CYCLES']:>10,d}  MACs {c['MACS']:>13,d}  utilization {100 * util:6.2f} %  "
          f"array-busy {100 * c['ARRAY_BUSY'] / c['CYCLES']:6.2f} %  stalls L/C/S {c['STALL_LOAD']:,}/"
          f"{c['STALL_COMPUTE']:,}/{c['STALL_STORE']:,}  ({c['CYCLES'] / c['wall'] / 1e6:.2f} Mcycles/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--skip-tiled", action="store_true")
    parser.add_argument("--tile-m", type=int, default=None, help="override the planner's tile_m")
    parser.add_argument("--tile-nt", type=int, default=None, help="override the planner's tile_nt")
    parser.add_argument("--requant", action="store_true", help="also the requantizing program (int8 C)")
    args = parser.parse_args()
    from nux.sim import SimDevice

    config = NpuConfig(dim=args.dim)
    print(f"config: {config}")
    with SimDevice(config, dram_size=64 << 20, progress=False) as dev:
        for size in args.sizes:
            prog = resident_program(config, size, size, size)
            rng = np.random.default_rng(size)
            image = [(0, rng.integers(0, 256, (size + 2 * config.dim) * config.dim, dtype=np.uint8).tobytes())]
            report(f"resident {size}^3", config, run(dev, config, prog, image, PROG_BASE + 32 * len(prog)))
            if args.skip_tiled:
                continue
            a = rng.integers(-128, 128, (size, size), dtype=np.int8)
            b = rng.integers(-128, 128, (size, size), dtype=np.int8)
            bias = rng.integers(-20000, 20000, size)
            mult, shift = rng.integers(1 << 30, (1 << 31) - 1, size), rng.integers(-14, -8, size)
            cases = [(False, a_tiled) for a_tiled in (False, True)] + ([(True, True)] if args.requant else [])
            for requant, a_tiled in cases:
                build = tiled_gemm_requant_program if requant else tiled_gemm_program
                program, layout = build(config, size, size, size, a_tiled=a_tiled, tile_m=args.tile_m,
                                        tile_nt=args.tile_nt)
                if layout.end > PROG_BASE:
                    raise SystemExit(f"operands ({layout.end} bytes) overlap the program at 0x{PROG_BASE:x}")
                images = layout.images(a, b, bias, mult, shift) if requant else layout.images(a, b)
                counters = run(dev, config, program, images, PROG_BASE + 32 * len(program))
                got = layout.output(dev.read(layout.c, size * size * layout.c_itemsize))
                expected = (gemm_requant_reference(a, b, bias, mult, shift) if requant
                            else a.astype(np.int64) @ b.astype(np.int64))
                if not np.array_equal(got, expected):
                    raise SystemExit(f"tiled {size}^3: the RTL's result differs from the reference")
                label = f"tiled{' requant' if requant else ''} {'A pre-tiled' if a_tiled else 'A row-major'} " \
                        f"{size}^3 ({layout.tile_m}x{layout.tile_nt})"
                report(label, config, counters)


if __name__ == "__main__":
    main()
