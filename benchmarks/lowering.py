"""Predicted vs measured cycles of lowered conv layers: the performance model against the RTL's perf counters.

Each layer is lowered by `nux.compiler.lower.conv2d` (random int8 data, per-channel scales, bias), run on a device
(`sim`: Verilator of the RTL, the default NpuConfig at --dim) and checked bit for bit against the golden kernel;
the table prints the model's `predicted_cycles`, the CYCLES counter, their ratio, and utilization
MACs / (cycles * dim^2) both ways. Layers are ResNet-like, scaled down so a Verilator run takes seconds to minutes.

    python benchmarks/lowering.py                 # dim 8, the small set
    python benchmarks/lowering.py --dim 16 --big  # plus bigger ResNet-50-shaped layers
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from nux.compiler.lower import ArenaEmitter
from nux.compiler.lower.conv import conv2d
from nux.driver import Npu
from nux.golden import kernels, quantize_multiplier
from nux.isa import INSTR_BYTES, Instr, NpuConfig, assemble

CODE_SPACE = 1 << 20  # the program sits at arena offset 0 (Npu.run_program); data after it

# (name, C, H, O, k, stride, pad)
SMALL = [("3x3 c32", 32, 14, 32, 3, 1, 1), ("1x1 c64->64", 64, 14, 64, 1, 1, 0),
         ("3x3/2 c16->32", 16, 16, 32, 3, 2, 1), ("7x7/2 rgb", 3, 32, 16, 7, 2, 3)]
BIG = [("3x3 c64 56x56", 64, 56, 64, 3, 1, 1), ("3x3 c128 28x28", 128, 28, 128, 3, 1, 1),
       ("1x1 c256->64 28x28", 256, 28, 64, 1, 1, 0)]


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
    code = assemble(em.program + [Instr("end")])
    if len(code) > CODE_SPACE:
        raise SystemExit(f"{name}: program of {len(code) // INSTR_BYTES} instructions exceeds the code space")
    inputs = dict(em.blobs)
    inputs[x.offset] = xv.transpose(0, 2, 3, 1).tobytes()
    npu.clear_perf()
    start = time.perf_counter()
    arena = npu.run_program(code, -(-em.end // 4096) * 4096, inputs, timeout=3600)
    wall = time.perf_counter() - start
    perf = npu.perf()
    got = np.frombuffer(arena[y.offset : y.offset + y.nbytes], np.int8).reshape(1, ho, ho, o).transpose(0, 3, 1, 2)
    ms = [quantize_multiplier(0.05 * s / 0.1) for s in scales]
    expected = kernels.conv2d(xv, wv, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=3, out_zp=-2, lo=-2,
                              stride=stride, padding=pad)
    peak = config.dim * config.dim
    return dict(name=name, exact=bool(np.array_equal(got, expected)), predicted=cost.predicted_cycles,
                measured=perf["CYCLES"], macs=cost.macs, peak=peak, wall=wall, instrs=cost.instructions)


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
        for spec in SMALL + (BIG if args.big else []):
            r = layer(npu, config, spec, rng)
            print(f"{r['name']:22} {str(r['exact']):5} {r['instrs']:7d} {r['predicted']:10d} {r['measured']:10d} "
                  f"{r['predicted'] / r['measured']:9.3f} {r['macs'] / (r['predicted'] * r['peak']):9.3f} "
                  f"{r['macs'] / (r['measured'] * r['peak']):9.3f} {r['wall']:7.1f}", flush=True)


if __name__ == "__main__":
    main()
