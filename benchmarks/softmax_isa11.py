"""Predicted cycles of Softmax / LpNormalization / ReduceL2 layers on ISA 1.1, and of a classifier ending in a
1000-way Softmax compiled for ISA 1.1 (all on the NPU) vs ISA 1.0 (Softmax on the host). The performance model
of docs/compiler_lowering.md (on ISA 1.0 the Softmax is a host step, not counted in NPU cycles).

    python benchmarks/softmax_isa11.py [--dim 8]
"""

from __future__ import annotations

import argparse

import numpy as np
import nux.compiler
import onnx
from nux.compiler.lower import ArenaEmitter, lp_normalize, reduce_l2, softmax
from nux.isa import NpuConfig
from nux.quantizer import post_training_quantization
from onnx import TensorProto, helper, numpy_helper

LAYERS = [  # (name, lowering, x shape, axes, y shape)
    ("Softmax 1x1000 (classifier head)", softmax, (1, 1000), (1,), (1, 1000)),
    ("Softmax 8x1000", softmax, (8, 1000), (1,), (8, 1000)),
    ("Softmax C=21 over 32x32 pixels", softmax, (1, 21, 32, 32), (1,), (1, 21, 32, 32)),
    ("Softmax over H (GATHER), 1x16x32x32", softmax, (1, 16, 32, 32), (2,), (1, 16, 32, 32)),
    ("LpNormalization C=256 over 7x7", lp_normalize, (1, 256, 7, 7), (1,), (1, 256, 7, 7)),
    ("ReduceL2 over C=256, 7x7", reduce_l2, (1, 256, 7, 7), (1,), (1, 1, 7, 7)),
]


def layer_cycles(config: NpuConfig) -> None:
    print(f"{'layer (ISA 1.1)':40} {'cycles':>9} {'instrs':>7} {'cycles/element':>15}")
    for name, fn, xs, axes, ys in LAYERS:
        em = ArenaEmitter(config)
        x, y = em.activation(xs, "int8", 0.05, 0), em.activation(ys, "int8", 1 / 256, -128)
        cost = fn(em, x, y, axes)
        print(f"{name:40} {cost.predicted_cycles:9d} {cost.instructions:7d} "
              f"{cost.predicted_cycles / x.nbytes:15.2f}")


def classifier(features: int = 512, classes: int = 1000) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.05, (features, classes)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, classes).astype(np.float32), "b")]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"]), helper.make_node("Softmax", ["z"], ["y"], axis=-1)],
        "classifier", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    calibration = [{"x": rng.uniform(-1, 1, (1, features)).astype(np.float32)} for _ in range(8)]
    return post_training_quantization(model, ["x"], calibration)


def classifier_cycles(config: NpuConfig) -> None:
    qdq = classifier()
    print(f"\n{'classifier 512 -> 1000 + Softmax':34} {'Gemm':>8} {'Softmax':>8} {'NPU total':>10}")
    for minor in (1, 0):
        enf = nux.compiler.compile(qdq, config, isa_minor=minor)
        report = enf.meta["report"]
        layers = {r["op"]: r for r in report["layers"]}
        soft = layers["Softmax"]
        soft_cycles = soft["predicted_cycles"] if soft["placement"] == "npu" else "host"
        print(f"{f'ISA 1.{minor}':34} {layers['Gemm']['predicted_cycles']:8d} {soft_cycles!s:>8} "
              f"{report['predicted_cycles']:10d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=8)
    config = NpuConfig(dim=parser.parse_args().dim, sp_rows=4096, acc_rows=1024)
    layer_cycles(config)
    classifier_cycles(config)


if __name__ == "__main__":
    main()
