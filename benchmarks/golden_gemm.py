"""Golden-model speed on a tiled int8 GEMM (default 512x512x512 at dim 8), checked against NumPy.

    python benchmarks/golden_gemm.py [--dim 8] [--size 512] [--sp-rows 8192] [--acc-rows 2048] [--requant]

Prints the golden model's MAC/s, wall seconds and instruction count, and NumPy's own integer matmul MAC/s on
the same sizes for comparison.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from nux.compiler.lower.tiled_gemm import gemm_requant_reference, tiled_gemm_program, tiled_gemm_requant_program
from nux.golden.machine import Machine
from nux.isa import NpuConfig, assemble


def numpy_macs_per_second(a: np.ndarray, b: np.ndarray, dtype: type) -> float:
    x, y = a.astype(dtype), b.astype(dtype)
    start = time.perf_counter()
    np.matmul(x, y)
    return a.shape[0] * a.shape[1] * b.shape[1] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--size", type=int, default=512, help="M = K = N")
    parser.add_argument("--sp-rows", type=int, default=8192)
    parser.add_argument("--acc-rows", type=int, default=2048)
    parser.add_argument("--requant", action="store_true", help="bias + per-channel requant + ReLU, int8 output")
    args = parser.parse_args()
    config = NpuConfig(dim=args.dim, sp_rows=args.sp_rows, acc_rows=args.acc_rows)
    n = args.size
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, size=(n, n)).astype(np.int8)
    b = rng.integers(-128, 128, size=(n, n)).astype(np.int8)

    if args.requant:
        bias = rng.integers(-50000, 50000, size=n)
        m = rng.integers(1 << 30, (1 << 31) - 1, size=n)
        s = rng.integers(-16, -10, size=n)
        program, layout = tiled_gemm_requant_program(config, n, n, n, out_zp=-3)
        images = layout.images(a, b, bias, m, s)
        expected = gemm_requant_reference(a, b, bias, m, s, out_zp=-3)
    else:
        program, layout = tiled_gemm_program(config, n, n, n)
        images = layout.images(a, b)
        expected = a.astype(np.int64) @ b.astype(np.int64)

    code = assemble(program)
    dram = np.zeros(layout.end + len(code), dtype=np.uint8)
    for offset, data in images + [(layout.end, code)]:
        dram[offset : offset + len(data)] = np.frombuffer(data, dtype=np.uint8)
    machine = Machine(config, dram)
    start = time.perf_counter()
    machine.run_task(layout.end, len(program), 0, dram.size)
    wall = time.perf_counter() - start
    size = n * n * layout.c_itemsize
    got = layout.output(dram[layout.c : layout.c + size].tobytes())
    if not np.array_equal(got, expected):
        raise SystemExit("MISMATCH: golden model result differs from NumPy")

    macs = n * n * n
    print(f"config: dim={config.dim} sp_rows={config.sp_rows} acc_rows={config.acc_rows}; "
          f"GEMM {n}x{n}x{n} {'with requant' if args.requant else 'int32 out'}; "
          f"tiles: tile_m={layout.tile_m} tile_nt={layout.tile_nt}")
    print(f"instructions:        {len(program)}")
    print(f"golden wall seconds: {wall:.3f}")
    print(f"golden MAC/s:        {macs / wall:.3e}   (result checked: exact)")
    print(f"counters:            MACS={machine.counters['MACS']} ARRAY_BUSY={machine.counters['ARRAY_BUSY']} "
          f"DMA_RD_BYTES={machine.counters['DMA_RD_BYTES']} DMA_WR_BYTES={machine.counters['DMA_WR_BYTES']}")
    for dtype in (np.int32, np.int64):
        print(f"numpy matmul {np.dtype(dtype).name} MAC/s: {numpy_macs_per_second(a, b, dtype):.3e}")


if __name__ == "__main__":
    main()
