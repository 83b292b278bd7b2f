"""Helpers for the compiler tests (a module of its own: `from conftest import` finds whichever conftest was
collected first): float models built with onnx.helper, quantized with nux.quantizer, compiled and
run through nux.executor on the golden device, compared with the reference (nux.reference.run_onnx on the QDQ
model) in units of the output's quantization step."""

from __future__ import annotations

import numpy as np
import nux.compiler
import onnx
from nux.enf import Enf
from nux.executor import Executor
from nux.quantizer import post_training_quantization
from nux.reference import run_onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def float_model(nodes, inputs: dict[str, list[int]], outputs: dict[str, list[int]],
                inits: dict[str, np.ndarray] | None = None, opset: int = OPSET) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def samples(model: onnx.ModelProto, count: int = 4, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        feeds.append({vi.name: rng.uniform(-1, 1, [d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(
            np.float32) for vi in model.graph.input})
    return feeds


def quantize(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    calibration = samples(model, 8, seed)
    return post_training_quantization(model, [vi.name for vi in model.graph.input], calibration)


def run_enf(enf: Enf, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
    with Executor(enf, "golden") as ex:
        return ex.run(feeds, raw=raw)


def assert_close_in_steps(enf: Enf, qdq: onnx.ModelProto, feeds: dict[str, np.ndarray], fraction: float = 0.99):
    """Dequantized outputs within one quantization step of the reference on >= `fraction` of the elements."""
    ours = run_enf(enf, feeds)
    ref = run_onnx(qdq, feeds)
    for info in enf.outputs():
        diff = np.abs(ours[info.name].astype(np.float64) - ref[info.name]) / info.scale
        within = float(np.mean(diff <= 1.001))  # float32 rounding of q * scale
        assert within >= fraction, (info.name, within, float(diff.max()))


def placements(enf: Enf) -> dict[str, str]:
    return {r["name"]: r["placement"] for r in enf.meta["report"]["layers"]}


def compile_and_check(model: onnx.ModelProto, **options) -> tuple[Enf, onnx.ModelProto]:
    qdq = quantize(model)
    enf = nux.compiler.compile(qdq, **options)
    for feeds in samples(model, 2, seed=7):
        assert_close_in_steps(enf, qdq, feeds)
    return enf, qdq
