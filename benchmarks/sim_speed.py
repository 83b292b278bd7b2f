"""Speed of the Verilator simulator (`sim` device): simulated cycles per second on a large GEMM, and build times.

    python benchmarks/sim_speed.py                 # dims 4, 8, 16 with the default build options
    python benchmarks/sim_speed.py --study         # also the flag study at dim 8 (one build per variant)
    python benchmarks/sim_speed.py --dims 8 --size 256 --study --cache /tmp/simbench

For each configuration it builds the simulator (or takes it from the cache: then the build time printed is the one
recorded when it was built), runs a tiled int32 GEMM (nux.compiler.lower.tiled_gemm_program, operands in DRAM,
loads/stores included) from doorbell to interrupt, checks the result against NumPy bit for bit, and prints
cycles/s, wall time and array utilisation (ARRAY_BUSY / CYCLES). `--study` rebuilds dim 8 with one option changed
at a time (Verilator -O level, X handling, C++ -O level, tracing compiled out, --threads 2, output splitting,
module inlining, the DFG optimiser) and also measures an active FST trace, which is how the defaults in
nux.sim.build.BuildOptions were chosen.

Rates are given per wall second and per CPU second of this process (the simulation runs in-process, single
threaded unless --threads > 1): on a shared machine the CPU figure is the stable one; the load average is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nux.compiler.lower.tiled_gemm import tiled_gemm_program
from nux.isa import PERF, REG, TEST_CONFIGS, Irq, NpuConfig, Status, assemble
from nux.sim.build import BuildOptions, build
from nux.sim.device import SimDevice

DEFAULT_SIZES = {4: 256, 8: 512, 16: 512}


def gemm_run(device: SimDevice, size: int, seed: int = 0) -> dict[str, float]:
    """Run one size^3 GEMM task on `device`; return cycles, wall seconds and utilisation. Exits on a mismatch."""
    config = device.config
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(size, size)).astype(np.int8)
    b = rng.integers(-128, 128, size=(size, size)).astype(np.int8)
    program, layout = tiled_gemm_program(config, size, size, size)
    code = assemble(program)
    arena = -(-(layout.end + len(code)) // 4096) * 4096
    if arena > device.dram_size:
        raise SystemExit(f"GEMM {size}^3 needs {arena} bytes of DRAM; the device has {device.dram_size}")
    for offset, data in [*layout.images(a, b), (layout.end, code)]:
        device.write(offset, data)
    for name, value in [("TASK_PROG_BASE_LO", layout.end), ("TASK_PROG_BASE_HI", 0), ("TASK_PROG_LEN", len(program)),
                        ("TASK_ARENA_BASE_LO", 0), ("TASK_ARENA_BASE_HI", 0), ("TASK_ARENA_SIZE", arena),
                        ("TASK_TAG", 1), ("IRQ_ENABLE", int(Irq.DONE | Irq.ERROR)), ("CTRL", 2)]:
        device.write32(REG[name], value)
    start_cycles, start, cpu = device.cycles, time.perf_counter(), time.process_time()
    device.write32(REG["DOORBELL"], 1)
    if not device.wait_irq(3600):
        raise SystemExit("GEMM did not finish within an hour")
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    cycles = device.cycles - start_cycles
    status = device.read32(REG["STATUS"])
    if status & Status.ERROR:
        raise SystemExit(f"GEMM stopped with STATUS 0x{status:08x}, FAULT_PC {device.read32(REG['FAULT_PC'])}")
    got = layout.output(device.read(layout.c, size * size * layout.c_itemsize))
    if not np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64)):
        raise SystemExit("MISMATCH: the simulated NPU's GEMM differs from NumPy")
    busy = device.read32(PERF["ARRAY_BUSY"])
    npu_cycles = device.read32(PERF["CYCLES"])
    return {"cycles": cycles, "wall": wall, "rate": cycles / wall, "cpu_rate": cycles / cpu,
            "util": busy / max(npu_cycles, 1)}


def idle_rate(device: SimDevice, cycles: int = 300_000) -> float:
    """Cycles per CPU second with the NPU idle (no task): the cost of the clock, eval and harness alone."""
    start = time.process_time()
    device.sim.step(cycles)
    return cycles / (time.process_time() - start)


def measure(config: NpuConfig, size: int, options: BuildOptions, label: str, trace: Path | None = None) -> dict:
    build_result = build(config, options=options, progress=sys.stderr.isatty())
    meta = json.loads((build_result.entry / "build.json").read_text())
    with SimDevice(config, dram_size=64 << 20, trace=trace, build_options=options, progress=False) as device:
        run = gemm_run(device, size)
        idle = idle_rate(device) if trace is None else float("nan")
    row = {"label": label, "dim": config.dim, "size": size, "build_s": meta["build_seconds"],
           "cached": build_result.build_seconds is None, "idle": idle, **run}
    print(f"{label:<28} dim {config.dim:>2}  GEMM {size}^3  {row['cycles']:>10,} cycles  {row['wall']:7.2f} s wall  "
          f"{row['rate'] / 1e6:6.3f} M cycles/s wall  {row['cpu_rate'] / 1e6:6.3f} M/CPU-s  "
          f"(idle {idle / 1e6:6.3f} M/CPU-s)  util {row['util']:.1%}  "
          f"build {row['build_s']:.0f} s{' (cached)' if row['cached'] else ''}  load {os.getloadavg()[0]:.1f}",
          flush=True)
    return row


def study_variants(base: BuildOptions) -> list[tuple[str, BuildOptions]]:
    replace = dataclasses.replace
    return [
        ("verilator -O0", replace(base, opt_verilator="-O0")),
        ("x-assign/x-initial unique", replace(base, x_assign="unique", x_initial="unique")),
        ("C++ -Os (verilated.mk)", replace(base, opt_cxx="-Os")),
        ("C++ -O3", replace(base, opt_cxx="-O3")),
        ("C++ -O3 -march=native", replace(base, opt_cxx="-O3 -march=native")),
        ("trace not compiled in", replace(base, trace=False)),
        ("--threads 2", replace(base, threads=2)),
        ("--output-split 0", replace(base, extra_verilator_args=("--output-split", "0"))),
        ("--inline-mult 100000", replace(base, extra_verilator_args=("--inline-mult", "100000"))),
        ("-fno-dfg", replace(base, extra_verilator_args=("-fno-dfg",))),
        ("--output-split-cfuncs 0", replace(base, extra_verilator_args=("--output-split-cfuncs", "0"))),
        ("verilator -O2", replace(base, opt_verilator="-O2")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="*", default=[4, 8, 16])
    parser.add_argument("--size", type=int, help="GEMM M = K = N (default: 256 at dim 4, else 512)")
    parser.add_argument("--study", action="store_true", help="flag study at dim 8")
    parser.add_argument("--cache", type=Path, help="build cache directory (default: the user cache)")
    parser.add_argument("--only", nargs="+", default=[], help="study only variants whose label contains one of these")
    args = parser.parse_args()
    if args.cache:
        os.environ["NUX_SIM_CACHE"] = str(args.cache)
    configs = {c.dim: c for c in TEST_CONFIGS}
    base = BuildOptions()
    print(f"default build options: {base.verilator_args()} C++ {base.opt_cxx}; {os.cpu_count()} CPUs")
    for dim in args.dims:
        measure(configs[dim], args.size or DEFAULT_SIZES[dim], base, "default")
    if args.study:
        size = args.size or 256
        for label, options in study_variants(base):
            if not args.only or any(word in label for word in args.only):
                measure(configs[8], size, options, label)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "gemm.fst"
            measure(configs[8], size, base, "default, FST trace on", trace=path)
            print(f"{'':<28} trace file: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
