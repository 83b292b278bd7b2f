"""Modelled cycles (docs/compiler_lowering.md performance model) of ISA 1.1's data-mover and GEMM additions vs the
1.0 lowerings: transposes / DepthToSpace / channel shuffles by GATHER and STORE lane_stride rows instead of one-byte
rows, 1x1 convs with per-channel uint8 weight zero points (GEMM wzp_en vs the equivalent 1.0 split into two int8
weight halves, i.e. K doubled; the 1.0 compiler itself runs them on the host), bias initialisation (GEMM bias_en vs
one broadcast bias row per output row), and a ShuffleNet-v1-like network. Results are checked bit for bit in
tests/compiler/test_ops_isa11_movers.py; this prints figures only.

    python benchmarks/isa11_movers.py [--dim 8] [--net]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from nux.compiler.lower import ArenaEmitter, conv2d
from nux.compiler.lower.movers import depth_to_space, gather, transpose
from nux.isa import NpuConfig

MOVERS = [  # (name, lowering, x shape, y shape, arguments)
    ("transpose NCHW->NHWC 1x64x28x28", transpose, (1, 64, 28, 28), (1, 28, 28, 64), ((0, 2, 3, 1),)),
    ("transpose 2-D 256x384", transpose, (256, 384), (384, 256), ((1, 0),)),
    ("depth_to_space CRD b2 1x64x28x28", depth_to_space, (1, 64, 28, 28), (1, 16, 56, 56), (2, "CRD")),
    ("depth_to_space DCR b2 1x16x56x56", depth_to_space, (1, 16, 56, 56), (1, 4, 112, 112), (2, "DCR")),
    ("shuffle g3 1x240x28x28", gather, (1, 240, 28, 28), (1, 240, 28, 28),
     (np.arange(240).reshape(3, 80).T.ravel(), 1)),
    ("shuffle g2 1x116x28x28", gather, (1, 116, 28, 28), (1, 116, 28, 28),
     (np.arange(116).reshape(2, 58).T.ravel(), 1)),
]
CONVS = [("1x1 c64->64 28x28", 64, 64, 28), ("1x1 c128->256 14x14", 128, 256, 14), ("1x1 c256->512 7x7", 256, 512, 7)]


def _mover(config: NpuConfig, minor: int, lower, xs, ys, args) -> int:
    em = ArenaEmitter(config, isa_minor=minor)
    return lower(em, em.activation(xs), em.activation(ys), *args).predicted_cycles


def _conv(config: NpuConfig, minor: int, c: int, o: int, size: int, *, per_channel: bool, bias: bool,
          split: bool = False) -> int:
    """A 1x1 conv; `split` prices the 1.0 alternative to wzp_en: int8 weight halves as K = 2C."""
    rng = np.random.default_rng(0)
    em = ArenaEmitter(config, isa_minor=minor)
    k = 2 * c if split else c
    x, y = em.activation((1, k, size, size), "uint8", 0.05, 128), em.activation((1, o, size, size), "uint8", 0.1, 0)
    if per_channel and not split:
        w, zp = rng.integers(0, 256, (o, k, 1, 1)).astype(np.uint8), rng.integers(0, 256, o)
    else:
        w, zp = rng.integers(-128, 128, (o, k, 1, 1)).astype(np.int8), 0
    b = rng.integers(-5000, 5000, o) if bias else None
    return conv2d(em, x, y, w, rng.uniform(0.002, 0.02, o), zp, b).predicted_cycles


def _network(config: NpuConfig) -> list[tuple]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import nux.compiler
    from networks import SHUFFLENET, quantized, shufflenet

    qdq = quantized(shufflenet, 224, stages=SHUFFLENET, groups=3)
    rows = []
    reports = [nux.compiler.compile(qdq, config, isa_minor=m).meta["report"] for m in (0, 1)]
    for what, pick in (("shuffle layers (Gather)", lambda r: r["op"] == "Gather"), ("whole network", lambda r: True)):
        old, new = (sum(r["predicted_cycles"] for r in rep["layers"] if pick(r)) for rep in reports)
        rows.append((f"ShuffleNet v1 g3 224: {what}", old, new, f"{old / new:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--net", action="store_true", help="also compile the 224x224 ShuffleNet (slow)")
    args = parser.parse_args()
    config = NpuConfig(dim=args.dim)
    rows = [(name, _mover(config, 0, lower, xs, ys, a), _mover(config, 1, lower, xs, ys, a))
            for name, lower, xs, ys, a in MOVERS]
    for name, c, o, size in CONVS:
        rows.append((f"{name} uint8 per-channel zp: split vs wzp_en",
                     _conv(config, 0, c, o, size, per_channel=True, bias=True, split=True),
                     _conv(config, 1, c, o, size, per_channel=True, bias=True)))
        rows.append((f"{name} bias: broadcast rows vs bias_en", _conv(config, 0, c, o, size, per_channel=False,
                                                                       bias=True),
                     _conv(config, 1, c, o, size, per_channel=False, bias=True)))
    rows = [(*r, f"{r[1] / r[2]:.2f}") for r in rows]
    if args.net:
        rows += _network(config)
    print(f"{'layer':58} {'ISA 1.0 cycles':>15} {'ISA 1.1 cycles':>15} {'speed-up':>8}")
    for name, old, new, gain in rows:
        print(f"{name:58} {old:15,d} {new:15,d} {gain:>8}")


if __name__ == "__main__":
    main()
