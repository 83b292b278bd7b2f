"""nux.reference: the CPU-independent reference executor (onnxruntime at ORT_DISABLE_ALL, TFLite BUILTIN_REF)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from nux.reference import REFERENCE_OPT_LEVEL_NAME, ReferenceError, onnx_session, run_onnx, run_session, run_tflite
from onnx import TensorProto, helper, numpy_helper

OUT_SCALE = 4096.0


def qdq_conv(act_type: type, weight: int, channels: int = 8) -> onnx.ModelProto:
    """x -> Q/DQ (scale 1) -> 1x1 Conv with every int8 weight `weight` -> Q/DQ (scale OUT_SCALE) -> y."""
    inits = {"s1": np.float32(1.0), "zp": act_type(0), "wq": np.full((1, channels, 1, 1), weight, np.int8),
             "ws": np.float32(1.0), "wzp": np.int8(0), "so": np.float32(OUT_SCALE)}
    n = helper.make_node
    nodes = [n("QuantizeLinear", ["x", "s1", "zp"], ["xq"]), n("DequantizeLinear", ["xq", "s1", "zp"], ["xd"]),
             n("DequantizeLinear", ["wq", "ws", "wzp"], ["wd"]), n("Conv", ["xd", "wd"], ["c"]),
             n("QuantizeLinear", ["c", "so", "zp"], ["cq"]), n("DequantizeLinear", ["cq", "so", "zp"], ["y"])]
    graph = helper.make_graph(
        nodes, "qdq_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize(("act_type", "x", "w"), [(np.uint8, 255, 127), (np.int8, 127, 127)])
def test_qdq_conv_is_float_simulated_even_where_int16_pair_sums_saturate(act_type, x, w):
    """8 products of 255 x 127 (or 127 x 127): pair sums overflow int16, which onnxruntime's fused non-VNNI
    kernels saturate (ORT_ENABLE_ALL on an AVX2-only CPU gives 32 and 0 steps here). The reference must give the
    ONNX semantics: the exact sum, requantized with round half to even, on every CPU."""
    expected_steps = np.clip(np.rint(8 * x * w / OUT_SCALE), np.iinfo(act_type).min, np.iinfo(act_type).max)
    (y,) = run_onnx(qdq_conv(act_type, w), {"x": np.full((1, 8, 2, 2), x, np.float32)}).values()
    np.testing.assert_array_equal(y / OUT_SCALE, np.full((1, 1, 2, 2), expected_steps))


def test_sessions_run_with_graph_optimizations_off():
    import onnxruntime as ort

    session = onnx_session(qdq_conv(np.uint8, 1))
    assert REFERENCE_OPT_LEVEL_NAME == "ORT_DISABLE_ALL"
    assert session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    outputs = run_session(session, {"x": np.ones((1, 8, 2, 2), np.float32)}, outputs=["y"])
    assert list(outputs) == ["y"] and outputs["y"].shape == (1, 1, 2, 2)


def test_bad_models_and_feeds_raise_reference_error(tmp_path):
    with pytest.raises(ReferenceError, match="cannot read the calibration model"):
        onnx_session(tmp_path / "missing.onnx", what="calibration model")
    with pytest.raises(ReferenceError, match="onnxruntime cannot load the model"):
        onnx_session(b"not an onnx model")
    with pytest.raises(ReferenceError, match="unknown onnxruntime optimization level 'fast'"):
        onnx_session(qdq_conv(np.uint8, 1), optimization="fast")
    with pytest.raises(ReferenceError, match="onnxruntime failed running the quantized model"):
        run_onnx(qdq_conv(np.uint8, 1), {"x": np.ones((1, 3, 2, 2), np.float32)}, what="quantized model")


@pytest.fixture(scope="module")
def tflite_model(test_data):
    return (test_data / "models" / "MNISTnet_uint8_quant_without_softmax.tflite").read_bytes()


def test_tflite_runs_with_reference_kernels_by_name_or_order(tflite_model):
    pytest.importorskip("ai_edge_litert", reason="the TFLite reference needs ai-edge-litert (dev extra)")
    from nux.reference import tflite_interpreter

    details = tflite_interpreter(tflite_model).get_input_details()[0]
    image = np.random.default_rng(0).integers(0, 256, details["shape"], dtype=np.uint8)
    by_name = run_tflite(tflite_model, {details["name"]: image})
    by_order = run_tflite(tflite_model, [image])
    (name, value), = by_name.items()
    assert value.dtype == np.uint8 and 0 < np.count_nonzero(value)
    np.testing.assert_array_equal(by_order[name], value)
    with pytest.raises(ReferenceError, match="inputs not given"):
        run_tflite(tflite_model, {})
    with pytest.raises(ReferenceError, match="has 1 inputs, 2 given"):
        run_tflite(tflite_model, [image, image])
    with pytest.raises(ReferenceError, match="TFLite cannot load the model"):
        run_tflite(b"not a flatbuffer", [image])
