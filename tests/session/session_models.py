"""Small models for the session tests (a uniquely named module: `conftest` names clash across test folders)."""

from __future__ import annotations

import numpy as np
import onnx
from nux.quantizer import post_training_quantization
from onnx import TensorProto, helper, numpy_helper

X_SHAPE = (1, 2, 8, 8)


def float_model(middle: str) -> onnx.ModelProto:
    """x (1x2x8x8) -> Conv 3x3 pad 1 -> `middle` (an elementwise op) -> Conv 3x3 -> y (1x3x6x6)."""
    rng = np.random.default_rng(1)
    inits = {"w": rng.normal(0, 0.4, (4, 2, 3, 3)).astype(np.float32),
             "w2": rng.normal(0, 0.3, (3, 4, 3, 3)).astype(np.float32)}
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node(middle, ["c"], ["m"]),
         helper.make_node("Conv", ["m", "w2"], ["y"])], "session_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, X_SHAPE)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 3, 6, 6))],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def quantized(middle: str) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    calibration = [{"x": rng.uniform(-1, 1, X_SHAPE).astype(np.float32)} for _ in range(4)]
    return post_training_quantization(float_model(middle), ["x"], calibration)
