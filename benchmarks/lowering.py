"""Predicted vs measured cycles of lowered layers: the performance model against the RTL's perf counters.

Each conv layer is lowered by `nux.compiler.lower.conv2d` (random int8 data, per-channel scales, bias, ReLU), run
on a device (`sim`: Verilator of the RTL, the default NpuConfig at --dim) and checked bit for bit against the
golden kernel; then a max pool, an add and a channel concat (checked against the golden kernels / NumPy). The
table prints the model's `predicted_cycles`, the CYCLES counter, their ratio, and utilization
MACs / (cycles * dim^2) both ways. Layers are ResNet-like, scaled down so a Verilator run takes seconds to minutes.

    python benchmarks/lowering.py                 # dim 8, the small set
    python benchmarks/lowering.py --dim 16 --big  # plus bigger ResNet-50-shaped layers
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from nux.compiler.lower import ArenaEmitter, add, concat, conv2d, gemm, max_pool
from nux.driver import Npu
from nux.golden import kernels, quantize_multiplier
from nux.isa import INSTR_BYTES, Instr, NpuConfig, assemble

CODE_SPACE = 1 << 20  # the program sits at arena offset 0 (Npu.run_program); data after it

# (name, C, H, O, k, stride, pad)
SMALL = [("3x3 c32", 32, 14, 32, 3, 1, 1), ("1x1 c64->64", 64, 14, 64, 1, 1, 0),
         ("3x3/2 c16->32", 16, 16, 32, 3, 2, 1), ("7x7/2 rgb", 3, 32, 16, 7, 2, 3)]
BIG = [("3x3 c64 56x56", 64, 56, 64, 3, 1, 1), ("3x3 c128 28x28", 128, 28, 128, 3, 1, 1),
       ("1x1 c256->64 28x28", 256, 28, 64, 1, 1, 0)]


def execute(npu: Npu, em: ArenaEmitter, inputs: dict[int, bytes]) -> tuple[bytes, int, float]:
    """Run the emitted layer (+ END) with its constants and inputs; (arena bytes, CYCLES, wall seconds)."""
    code = assemble(em.program + [Instr("end")])
    if len(code) > CODE_SPACE:
        raise SystemExit(f"program of {len(code) // INSTR_BYTES} instructions exceeds the code space")
    npu.clear_perf()
    start = time.perf_counter()
    arena = npu.run_program(code, -(-em.end // 4096) * 4096, {**dict(em.blobs), **inputs}, timeout=3600)
    return arena, npu.perf()["CYCLES"], time.perf_counter() - start


def nhwc(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).tobytes()


def read(arena: bytes, t, dtype=np.int8) -> np.ndarray:
    n, c, h, w = t.shape
    return np.frombuffer(arena[t.offset : t.offset + t.nbytes], dtype).reshape(n, h, w, c).transpose(0, 3, 1, 2)


def other_layers(npu: Npu, config: NpuConfig, rng) -> list[dict]:
    """Max pool 3x3/2, a residual add and a channel concat on 28x28x64 tensors (int8); a batch-1 FC (GEMV)."""
    rows = []
    shape = (1, 64, 28, 28)
    xv, bv = (rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(2))
    for name in ("maxpool 3x3/2 c64 28", "add c64 28x28", "concat 2x c64 28x28"):
        em = ArenaEmitter(config, base=CODE_SPACE)
        x, b = em.activation(shape, "int8", 0.05, 3), em.activation(shape, "int8", 0.07, -5)
        if name.startswith("maxpool"):
            y = em.activation((1, 64, 14, 14), "int8", 0.05, 3)
            cost = max_pool(em, x, y, (3, 3), (2, 2), (1, 1, 1, 1))
            expected = kernels.max_pool2d(xv, 3, 2, 1)
        elif name.startswith("add"):
            y = em.activation(shape, "int8", 0.1, 0)
            cost = add(em, x, b, y)
            expected = kernels.qadd(xv, bv, a_zp=3, a_scale=0.05, b_zp=-5, b_scale=0.07, out_zp=0, out_scale=0.1)
        else:
            b = em.activation(shape, "int8", 0.05, 3)
            y = em.activation((1, 128, 28, 28), "int8", 0.05, 3)
            cost = concat(em, [x, b], y, 1)
            expected = np.concatenate([xv, bv], axis=1)
        arena, cycles, wall = execute(npu, em, {x.offset: nhwc(xv), b.offset: nhwc(bv)})
        rows.append(dict(name=name, exact=bool(np.array_equal(read(arena, y), expected)), measured=cycles, macs=0,
                         predicted=cost.predicted_cycles, peak=config.dim**2, wall=wall, instrs=cost.instructions))
    em = ArenaEmitter(config, base=CODE_SPACE)
    x, y = em.activation((1, 1024), "int8", 0.05, 3), em.activation((1, 256), "int8", 0.2, 0)
    xv, wv = rng.integers(-128, 128, (1, 1024), dtype=np.int8), rng.integers(-128, 128, (256, 1024), dtype=np.int8)
    cost = gemm(em, x, y, wv, 0.002, 0, None, trans_b=True)
    arena, cycles, wall = execute(npu, em, {x.offset: xv.tobytes()})
    m, s = quantize_multiplier(0.05 * 0.002 / 0.2)
    exact = np.array_equal(np.frombuffer(arena[y.offset : y.offset + 256], np.int8), kernels.gemm(xv, wv.T, None, m, s,
                                                                                                    a_zp=3)[0])
    rows.append(dict(name="fc 1024->256 batch 1", exact=exact, measured=cycles, macs=cost.macs,
                     predicted=cost.predicted_cycles, peak=config.dim**2, wall=wall, instrs=cost.instructions))
    return rows


def layer(npu: Npu, config: NpuConfig, spec, rng) -> dict:
    name, c, h, o, k, stride, pad = spec
    em = ArenaEmitter(config, base=CODE_SPACE)
    x = em.activation((1, c, h, h), "int8", 0.05, 3)
    ho = (h + 2 * pad - k) // stride + 1
    y = em.activation((1, o, ho, ho), "int8", 0.1, -2)
    xv = rng.integers(-128, 128, (1, c, h, h), dtype=np.int8)
    wv = rng.integers(-128, 128, (o, c, k, k), dtype=np.int8)
    scales, bias = rng.uniform(0.0005, 0.002, o), rng.integers(-5000, 5000, o)
    cost = conv2d(em, x, y, wv, scales, 0, bias, (stride, stride), (pad,) * 4, clamp=(-2, 127))
    arena, cycles, wall = execute(npu, em, {x.offset: nhwc(xv)})
    got = read(arena, y)
    ms = [quantize_multiplier(0.05 * s / 0.1) for s in scales]
    expected = kernels.conv2d(xv, wv, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=3, out_zp=-2, lo=-2,
                              stride=stride, padding=pad)
    peak = config.dim * config.dim
    return dict(name=name, exact=bool(np.array_equal(got, expected)), predicted=cost.predicted_cycles,
                measured=cycles, macs=cost.macs, peak=peak, wall=wall, instrs=cost.instructions)


def show(r: dict) -> None:
    print(f"{r['name']:22} {str(r['exact']):5} {r['instrs']:7d} {r['predicted']:10d} {r['measured']:10d} "
          f"{r['predicted'] / r['measured']:9.3f} {r['macs'] / (r['predicted'] * r['peak']):9.3f} "
          f"{r['macs'] / (r['measured'] * r['peak']):9.3f} {r['wall']:7.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="sim")
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--big", action="store_true", help="also the ResNet-50-sized layers (minutes each)")
    args = parser.parse_args()
    config = NpuConfig(dim=args.dim)
    rng = np.random.default_rng(0)
    print(f"device {args.device}, {config}")
    print(f"{'layer':22} {'exact':5} {'instrs':>7} {'predicted':>10} {'measured':>10} {'pred/meas':>9} "
          f"{'util pred':>9} {'util meas':>9} {'wall s':>7}")
    with Npu(args.device, config=config) as npu:
        for spec in SMALL + [None] + (BIG if args.big else []):
            for r in other_layers(npu, config, rng) if spec is None else [layer(npu, config, spec, rng)]:
                show(r)


if __name__ == "__main__":
    main()
