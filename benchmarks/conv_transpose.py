"""Predicted cycles of ConvTranspose layers lowered per output phase vs by zero insertion (the performance model
of docs/compiler_lowering.md; no device run: both forms are checked bit for bit in the tests).

    python benchmarks/conv_transpose.py [--dim 8]
"""

from __future__ import annotations

import argparse

import numpy as np
from nux.compiler.lower import ArenaEmitter, conv_transpose
from nux.isa import NpuConfig

# (name, C, H, O, k, stride, pad)
LAYERS = [("2x2/2 c64->32 16x16 (U-Net)", 64, 16, 32, 2, 2, 0), ("4x4/2 p1 c32->16 8x8 (DCGAN)", 32, 8, 16, 4, 2, 1),
          ("3x3/2 p1 c16->16 14x14", 16, 14, 16, 3, 2, 1)]


def predict(config: NpuConfig, layer: tuple, per_phase: bool):
    _, c, h, o, k, s, p = layer
    em = ArenaEmitter(config)
    ho = (h - 1) * s + k - 2 * p
    x, y = em.activation((1, c, h, h)), em.activation((1, o, ho, ho))
    w = np.random.default_rng(0).integers(-127, 128, (c, o, k, k)).astype(np.int8)
    return conv_transpose(em, x, y, w, 0.01, 0, None, (s, s), (p, p), per_phase=per_phase)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=8)
    config = NpuConfig(dim=parser.parse_args().dim, sp_rows=4096, acc_rows=1024)
    print(f"{'layer':32} {'MACs':>9} {'per phase':>10} {'util':>5} {'zero-ins.':>10} {'util':>5} {'speed-up':>8}")
    for layer in LAYERS:
        a, b = predict(config, layer, True), predict(config, layer, False)
        print(f"{layer[0]:32} {a.macs:9d} {a.predicted_cycles:10d} {a.utilization(config):5.2f} "
              f"{b.predicted_cycles:10d} {b.utilization(config):5.2f} {b.predicted_cycles / a.predicted_cycles:8.2f}")


if __name__ == "__main__":
    main()
