"""Front ends and bad input: onnxruntime's quantize_static (QDQ int8 / uint8, QOperator), dynamic quantization on
the host, and one-line errors for float models, corrupt files, dynamic shapes, unsupported cases, arena overflow."""

from __future__ import annotations

import numpy as np
import nux.compiler
import onnx
import pytest
from compiler_rig import assert_close_in_steps, float_model, placements, quantize, run_enf, samples
from nux.compiler import CompileError
from nux.compiler.host import host_model
from nux.isa import NpuConfig
from nux.reference import run_onnx
from onnx import helper, numpy_helper


def _net(rng) -> onnx.ModelProto:
    return float_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Flatten", ["r"], ["f"]), helper.make_node("Gemm", ["f", "g", "gb"], ["y"], transB=1)],
        {"x": [1, 3, 6, 6]}, {"y": [1, 7]},
        {"w": rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32), "b": rng.normal(0, 0.1, 4).astype(np.float32),
         "g": rng.normal(0, 0.2, (7, 144)).astype(np.float32), "gb": rng.normal(0, 0.1, 7).astype(np.float32)})


def _ort_quantize(model: onnx.ModelProto, tmp_path, quant_format: str, activation: str, weight: str,
                  per_channel: bool) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    feeds = samples(model, 8)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(model, src)
    quantize_static(str(src), str(dst), Reader(), quant_format=getattr(QuantFormat, quant_format),
                    activation_type=getattr(QuantType, activation), weight_type=getattr(QuantType, weight),
                    per_channel=per_channel)
    return onnx.load(dst)


def _qdq_equivalent(quantized: onnx.ModelProto) -> onnx.ModelProto:
    """The model as float-simulated QDQ (what the compiler's IR means), with float inputs and outputs: the
    reference for QOperator models with u8 x s8 products, which onnxruntime's integer kernels compute with int16
    saturation on CPUs without VNNI (NOTES.md; measured here: 66 steps off on a QLinearConv)."""
    graph = nux.compiler.import_model(quantized)
    model = onnx.load_from_string(host_model(graph, graph.nodes, graph.inputs, graph.outputs))
    body = model.graph
    for vi in list(body.input) + list(body.output):
        t = graph[vi.name]
        scale = numpy_helper.from_array(np.float32(t.quant.scalar_scale), f"{vi.name}__ioscale")
        zp = numpy_helper.from_array(np.array(t.quant.scalar_zero_point, t.dtype), f"{vi.name}__iozp")
        body.initializer.extend([scale, zp])
    for vi in body.input:
        body.node.insert(0, helper.make_node("QuantizeLinear", [f"{vi.name}__float", f"{vi.name}__ioscale",
                                                                f"{vi.name}__iozp"], [vi.name]))
        vi.name = f"{vi.name}__float"
        vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    for vi in body.output:
        body.node.append(helper.make_node("DequantizeLinear", [vi.name, f"{vi.name}__ioscale", f"{vi.name}__iozp"],
                                          [f"{vi.name}__float"]))
        vi.name = f"{vi.name}__float"
        vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    return model


@pytest.mark.parametrize("quant_format, activation, weight, per_channel, ort_exact", [
    ("QDQ", "QInt8", "QInt8", True, True), ("QDQ", "QUInt8", "QUInt8", False, True),
    ("QOperator", "QUInt8", "QInt8", True, False), ("QOperator", "QUInt8", "QUInt8", False, True)],
    ids=["qdq-s8-perchannel", "qdq-u8-pertensor-u8w", "qop-u8-s8w", "qop-u8-u8w"])
def test_onnxruntime_quantize_static_models_run_on_the_npu(rng, tmp_path, quant_format, activation, weight,
                                                           per_channel, ort_exact):
    model = _net(rng)
    quantized = _ort_quantize(model, tmp_path, quant_format, activation, weight, per_channel)
    enf = nux.compiler.compile(quantized)
    assert {r["op"] for r in enf.meta["report"]["layers"] if r["placement"] == "npu"} & {"Gemm", "MatMul"}
    assert "Conv" in {r["op"] for r in enf.meta["report"]["layers"] if r["placement"] == "npu"}
    equivalent = _qdq_equivalent(quantized)
    for feeds in samples(model, 2, seed=5):
        if ort_exact:  # the importer's meaning of the model is onnxruntime's
            ref = run_onnx(quantized, feeds)["y"]
            np.testing.assert_allclose(run_onnx(equivalent, {"x__float": feeds["x"]})["y__float"], ref)
            assert_close_in_steps(enf, quantized, feeds)
        else:
            ours = run_enf(enf, feeds)["y"]
            ref = run_onnx(equivalent, {"x__float": feeds["x"]})["y__float"]
            assert np.mean(np.abs(ours - ref) <= 1.001 * enf.outputs()[0].scale) >= 0.99


def test_dynamic_quantization_runs_on_the_host_exactly(rng, tmp_path):
    """quantize_dynamic: DynamicQuantizeLinear + MatMulInteger work on raw integers with run-time scales."""
    from onnxruntime.quantization import quantize_dynamic

    model = float_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [2, 16]}, {"y": [2, 8]},
                        {"w": rng.normal(0, 1, (16, 8)).astype(np.float32)})
    src, dst = tmp_path / "f.onnx", tmp_path / "d.onnx"
    onnx.save(model, src)
    quantize_dynamic(str(src), str(dst))
    quantized = onnx.load(dst)
    enf = nux.compiler.compile(quantized)
    assert set(placements(enf).values()) == {"host"}
    feeds = samples(model, 1)[0]
    np.testing.assert_array_equal(run_enf(enf, feeds)["y"], run_onnx(quantized, feeds)["y"])


def test_a_float_model_is_refused_with_how_to_quantize(rng):
    with pytest.raises(CompileError, match=r"float32.*nux quantize.*post_training_quantization"):
        nux.compiler.compile(_net(rng))


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage\xff\xff")
    with pytest.raises(CompileError, match="is not an ONNX model|has no nodes"):
        nux.compiler.compile(bad)
    with pytest.raises(CompileError, match="not found"):
        nux.compiler.compile(tmp_path / "nope.onnx")
    with pytest.raises(CompileError, match="takes an onnx.ModelProto"):
        nux.compiler.compile(42)


def test_dynamic_input_shapes_need_hints(rng):
    qdq = quantize(_net(rng))
    dims = qdq.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    with pytest.raises(CompileError, match=r"input 'x' has dynamic shape.*input_shapes"):
        nux.compiler.compile(qdq)
    enf = nux.compiler.compile(qdq, input_shapes={"x": (1, 3, 6, 6)})
    assert enf.inputs()[0].shape == (1, 3, 6, 6)
    with pytest.raises(CompileError, match="not model inputs"):
        nux.compiler.compile(qdq, input_shapes={"nope": (1,)})


def test_an_unsupported_attribute_case_falls_back_with_its_reason(rng):
    """A Mean of three inputs: one ADD is exact for two; the Mean runs on the host and the result still matches."""
    model = float_model([helper.make_node("Mean", ["x", "z", "u"], ["y"])], {n: [1, 2, 9] for n in "xzu"},
                        {"y": [1, 2, 9]})
    qdq = quantize(model)
    enf = nux.compiler.compile(qdq)
    (layer,) = enf.meta["report"]["layers"]
    assert layer["placement"] == "host" and "Mean of 3 inputs" in layer["reason"]
    assert_close_in_steps(enf, qdq, samples(model, 1)[0])


def test_a_model_too_big_for_device_memory_is_an_error(rng):
    qdq = quantize(float_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                               {"x": [1, 8, 64, 64]}, {"y": [1, 8, 64, 64]},
                               {"w": rng.normal(0, 0.5, (8, 8, 3, 3)).astype(np.float32)}))
    with pytest.raises(CompileError, match=r"needs a \d+-byte arena, more than the NPU can address"):
        nux.compiler.compile(qdq, NpuConfig(dram_addr_bits=16))


def test_batchnorm_left_by_quantize_static_runs_on_the_npu(rng, tmp_path):
    """Without onnxruntime's pre-processing BatchNormalization stays in the model (with quantized parameters)."""
    c = 6
    model = float_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]), helper.make_node("Relu", ["n"],
                                                                                                     ["y"])],
        {"x": [1, 3, 6, 6]}, {"y": [1, c, 6, 6]},
        {"w": rng.normal(0, 0.4, (c, 3, 3, 3)).astype(np.float32), "s": rng.uniform(-2, 2, c).astype(np.float32),
         "b": rng.normal(0, 0.3, c).astype(np.float32), "m": rng.normal(0, 0.2, c).astype(np.float32),
         "v": rng.uniform(0.5, 2, c).astype(np.float32)})
    quantized = _ort_quantize(model, tmp_path, "QDQ", "QInt8", "QInt8", True)
    assert "BatchNormalization" in [n.op_type for n in quantized.graph.node]
    enf = nux.compiler.compile(quantized)
    assert set(placements(enf).values()) == {"npu"}
    for feeds in samples(model, 2, seed=9):
        assert_close_in_steps(enf, quantized, feeds)
