"""ENF write/read speed on a network-sized executable, and the vectorised decode check vs instruction-by-instruction.

    python benchmarks/bench_enf.py [--instructions 200000] [--tensors 2000] [--consts-mib 16]
"""

from __future__ import annotations

import argparse
import time

from nux.enf import DType, Enf, Layout, Program, TensorInfo, TensorRole, read_enf, tensor_nbytes, write_enf
from nux.enf.validate import check_code
from nux.isa import TEST_CONFIGS, Instr, assemble, disassemble


def big_enf(n_instr: int, n_tensors: int, const_bytes: int) -> Enf:
    config = TEST_CONFIGS[2]
    body = [Instr("load", dram_offset=64, x_size=16), Instr("gemm", preload=1, x_size=256), Instr("sync")]
    per_program = 10_000
    programs, cursor = [], 0
    for start in range(0, n_instr, per_program):
        count = min(per_program, n_instr - start)
        code = assemble((body * (count // len(body) + 1))[: count - 1] + [Instr("end")])
        programs.append(Program(code, cursor, f"part{len(programs)}"))
        cursor += len(code)
    consts_at = cursor
    cursor += const_bytes
    tensors = []
    for i in range(n_tensors):
        shape = (1, 64, 7, 7)
        size = tensor_nbytes(DType.INT8, Layout.NHWC, shape, config.dim)
        tensors.append(TensorInfo(f"t{i}", TensorRole.INTERNAL, DType.INT8, shape, cursor, size, 0.02, 3, Layout.NHWC))
        cursor += size
    return Enf(config, programs, tensors, cursor, bytes(const_bytes), consts_at, meta={"bench": True})


def timed(label: str, fn, repeat: int = 3) -> float:
    best = min(_once(fn) for _ in range(repeat))
    print(f"{label:<44} {best * 1e3:9.1f} ms")
    return best


def _once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instructions", type=int, default=200_000)
    parser.add_argument("--tensors", type=int, default=2000)
    parser.add_argument("--consts-mib", type=int, default=16)
    args = parser.parse_args()
    enf = big_enf(args.instructions, args.tensors, args.consts_mib << 20)
    image = write_enf(enf)
    print(f"ENF: {args.instructions} instructions in {len(enf.programs)} programs, {args.tensors} tensors, "
          f"{args.consts_mib} MiB consts -> {len(image) / 2**20:.1f} MiB file")
    timed("write_enf", lambda: write_enf(enf))
    t = timed("read_enf (parse + validate)", lambda: read_enf(image))
    print(f"{'read throughput':<44} {len(image) / t / 2**20:9.1f} MiB/s")
    codes = [p.code for p in enf.programs]
    t_fast = timed("decode check, vectorised (check_code)", lambda: [check_code(c, "p") for c in codes])
    t_slow = timed("decode check, nux.isa.disassemble", lambda: [disassemble(c) for c in codes], repeat=1)
    print(f"{'vectorised speed-up':<44} {t_slow / t_fast:9.0f} x")


if __name__ == "__main__":
    main()
