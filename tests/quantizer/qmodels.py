"""Helpers for the quantizer tests: tiny models built with onnx.helper, and `nux.reference` as the executor.

A module of its own (not conftest.py): several test folders have a conftest, and `from conftest import` picks
whichever was imported first when pytest collects more than one folder."""

from __future__ import annotations

import numpy as np
import onnx
from baseline import snr_db  # noqa: F401 - the tests import it from here
from nux.quantizer.checks import IR_VERSION
from nux.reference import run_onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def make_model(nodes, inputs: dict[str, list], outputs: dict[str, list | None], inits: dict[str, np.ndarray],
               opset: int = OPSET, ir_version: int = IR_VERSION) -> onnx.ModelProto:
    """A float32 model: inputs/outputs map names to shapes (None: unknown), inits to values. The IR version is
    nux's, not the installed onnx's default, which the installed onnxruntime may not read."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)
    model = onnx.shape_inference.infer_shapes(model)  # fills in the outputs given without a shape
    onnx.checker.check_model(model)
    return model


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The model's outputs in graph order, executed by the CPU-independent reference."""
    return list(run_onnx(model, feeds).values())


def rng_array(shape, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
