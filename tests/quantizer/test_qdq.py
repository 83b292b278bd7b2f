"""quantize: standard QDQ structure, exact integers, TFLite parameter rules, and all 28 NPU operators."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from nux.quantizer import (
    QuantizationError,
    build_calibration_model,
    calibrate,
    optimize,
    quantize,
)
from nux.quantizer.checks import IR_VERSION
from nux.quantizer.params import activation_qparams, bias_scale, quantize_bias, quantize_weights, symmetric_scales
from nux.reference import run_onnx
from onnx import helper, numpy_helper
from qmodels import make_model, rng_array, run, snr_db


def inits_of(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def producer_of(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if name in n.output)


def quantize_with_data(model: onnx.ModelProto, data: dict) -> tuple[onnx.ModelProto, onnx.ModelProto, dict]:
    optimized = optimize(model)
    names = [i.name for i in optimized.graph.input]
    ranges = calibrate(build_calibration_model(optimized, names), data)
    return optimized, quantize(optimized, names, ranges), ranges


@pytest.fixture(scope="module")
def conv_net():
    inits = {"w": rng_array((4, 3, 3, 3), 1), "b": rng_array((4,), 2, -0.3, 0.3)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    model = make_model(nodes, {"x": [1, 3, 6, 6]}, {"y": None}, inits)
    return quantize_with_data(model, {"x": rng_array((4, 3, 6, 6), 3)})


def test_conv_weights_per_channel_bias_int32_exact(conv_net):
    optimized, quantized, ranges = conv_net
    onnx.checker.check_model(quantized, full_check=True)
    conv = next(n for n in quantized.graph.node if n.op_type == "Conv")
    values = inits_of(quantized)
    float_w = inits_of(optimized)[optimized.graph.node[0].input[1]]
    float_b = inits_of(optimized)[optimized.graph.node[0].input[2]]
    w_dq, b_dq, x_dq = (producer_of(quantized, conv.input[i]) for i in (1, 2, 0))
    assert w_dq.op_type == b_dq.op_type == x_dq.op_type == "DequantizeLinear"
    assert helper.get_attribute_value(w_dq.attribute[0]) == 0  # per-channel on axis 0
    w_q, w_scale, w_zp = (values[n] for n in w_dq.input)
    assert w_q.dtype == np.int8 and w_zp.dtype == np.int8 and not w_zp.any() and w_scale.shape == (4,)
    np.testing.assert_array_equal(w_scale, symmetric_scales(float_w, 0))
    np.testing.assert_array_equal(w_q, quantize_weights(float_w, w_scale, 0))
    x_params = activation_qparams(*ranges["x"])
    assert values[x_dq.input[1]] == np.float32(x_params.scale) and values[x_dq.input[2]] == x_params.zero_point
    b_q, b_scale, b_zp = (values[n] for n in b_dq.input)
    assert b_q.dtype == np.int32 and b_zp.dtype == np.int32 and not b_zp.any()
    np.testing.assert_array_equal(b_scale, bias_scale(x_params.scale, w_scale))
    np.testing.assert_array_equal(b_q, quantize_bias(float_b, b_scale)[0])


def test_conv_relu_pair_is_fused_and_output_named_as_before(conv_net):
    _, quantized, ranges = conv_net
    ops = [n.op_type for n in quantized.graph.node if n.op_type not in ("DequantizeLinear",)]
    assert ops == ["QuantizeLinear", "Conv", "Relu", "QuantizeLinear"]  # nothing between Conv and Relu
    assert [o.name for o in quantized.graph.output] == ["y"]
    q = producer_of(quantized, producer_of(quantized, "y").input[0])
    assert numpy_helper.to_array(next(i for i in quantized.graph.initializer if i.name == q.input[2])) == -128


def test_quantized_output_matches_integer_reference(conv_net):
    """The int8 output of the QDQ model equals the requantized int32 accumulation computed here."""
    optimized, quantized, ranges = conv_net
    x = rng_array((1, 3, 6, 6), 9)
    values = inits_of(quantized)
    conv = next(n for n in quantized.graph.node if n.op_type == "Conv")
    w_q, w_s, _ = (values[n] for n in producer_of(quantized, conv.input[1]).input)
    b_q, _, _ = (values[n] for n in producer_of(quantized, conv.input[2]).input)
    xp, yp = activation_qparams(*ranges["x"]), activation_qparams(*ranges["y"])
    x_q = np.clip(np.rint(x / np.float32(xp.scale)) + xp.zero_point, -128, 127).astype(np.int64)
    padded = np.pad(x_q - xp.zero_point, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((4, 6, 6), np.int64)
    for o in range(4):
        for i in range(6):
            for j in range(6):
                acc[o, i, j] = np.sum(padded[0, :, i:i + 3, j:j + 3] * w_q[o]) + b_q[o]
    real = acc * (np.float64(np.float32(xp.scale)) * w_s.astype(np.float64))[:, None, None]
    expected = np.clip(np.rint(np.maximum(real, 0) / np.float32(yp.scale)) + yp.zero_point, -128, 127)
    got = run(quantized, {"x": x})[0]
    got_q = np.rint(got / np.float32(yp.scale)) + yp.zero_point
    mismatch = np.abs(got_q[0] - expected)
    assert mismatch.max() <= 1 and np.mean(mismatch > 0) < 0.02  # float rounding ties only


def all_ops_model() -> onnx.ModelProto:
    """One model using each of the 28 NPU operators."""
    c = lambda shape, seed, lo=-1.0, hi=1.0: rng_array(shape, seed, lo, hi)  # noqa: E731
    inits = {
        "w": c((8, 4, 3, 3), 1), "b": c((8,), 2), "wt": c((8, 4, 2, 2), 3), "bt": c((4,), 4),
        "clip_lo": np.float32(-1.0), "clip_hi": np.float32(1.5), "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1]),
        "starts": np.array([0]), "ends": np.array([2]), "axes": np.array([1]), "split": np.array([2, 2]),
        "shape": np.array([1, 4, 64]), "ax0": np.array([0]), "gw": c((64, 10), 5), "gb": c((10,), 6),
        "mw": c((10, 6), 7), "expand": np.array([2, 6]), "axis1": np.array([1]), "k": c((1, 4, 1, 1), 8),
        "sum_axes": np.array([1]),
    }
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w", "b"], ["c1"], pads=[1, 1, 1, 1]), n("Clip", ["c1", "clip_lo", "clip_hi"], ["r1"]),
        n("ConvTranspose", ["r1", "wt", "bt"], ["ct"], strides=[2, 2]),  # 4 x 16 x 16
        n("AveragePool", ["ct"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),  # 4 x 8 x 8
        n("MaxPool", ["x"], ["mp"], kernel_shape=[1, 1]),
        n("Mul", ["ap", "k"], ["mul"]), n("Add", ["mul", "mp"], ["add"]),
        n("Sigmoid", ["add"], ["sig"]), n("Mean", ["sig", "add"], ["mean"]),
        n("Pad", ["mean", "pads"], ["pad"]), n("Slice", ["pad", "starts", "ends", "axes"], ["sl"]),  # 2 x 10 x 10
        n("Split", ["mean", "split"], ["s1", "s2"], axis=1), n("Concat", ["s2", "s1"], ["cat"], axis=1),
        n("DepthToSpace", ["cat"], ["d2s"], blocksize=2),  # 1 x 16 x 16
        n("Transpose", ["d2s"], ["tr"], perm=[0, 1, 3, 2]),
        n("Exp", ["sl"], ["exp"]), n("Softplus", ["tr"], ["sp"]),
        n("ReduceSum", ["exp", "sum_axes"], ["rs"], keepdims=1), n("ReduceL2", ["sp"], ["rl2"], axes=[1]),
        n("Reshape", ["mean", "shape"], ["rsh"]), n("Flatten", ["rsh"], ["fl"], axis=2),
        n("Unsqueeze", ["rs", "ax0"], ["uns"]),
        n("LpNormalization", ["fl"], ["lp"], axis=-1, p=2),
        n("Relu", ["lp"], ["lpr"]),
        n("Reshape", ["lpr", "shape"], ["lpr2"]), n("ReduceSum", ["lpr2", "sum_axes"], ["lpr3"], keepdims=0),
        n("Gemm", ["lpr3", "gw", "gb"], ["gm"]), n("MatMul", ["gm", "mw"], ["mm"]),
        n("Expand", ["mm", "expand"], ["ex"]), n("Softmax", ["ex"], ["y"], axis=-1),
    ]
    outputs = {"y": None, "rl2": None, "uns": None}
    return make_model(nodes, {"x": [1, 4, 8, 8]}, outputs, inits, opset=17)


@pytest.fixture(scope="module")
def all_ops():
    model = all_ops_model()
    return (model, *quantize_with_data(model, [{"x": rng_array((1, 4, 8, 8), s)} for s in range(16)]))


def test_all_28_npu_ops_quantize_and_run(all_ops):
    model, optimized, quantized, _ = all_ops
    used = {n.op_type for n in model.graph.node}
    npu = {"Add", "AveragePool", "Clip", "Concat", "Conv", "ConvTranspose", "DepthToSpace", "Exp", "Expand",
           "Flatten", "Gemm", "LpNormalization", "MatMul", "MaxPool", "Mean", "Mul", "Pad", "ReduceL2",
           "ReduceSum", "Relu", "Reshape", "Sigmoid", "Slice", "Softmax", "Softplus", "Split", "Transpose",
           "Unsqueeze"}
    assert npu <= used
    onnx.checker.check_model(quantized, full_check=True)
    for op in npu - {"Clip"}:  # Clip follows Conv directly: the compiler fuses the pair
        for node in (n for n in quantized.graph.node if n.op_type == op):
            assert producer_of(quantized, node.input[0]).op_type == "DequantizeLinear", (op, node.input[0])
    x = rng_array((1, 4, 8, 8), 99)
    for ref, got in zip(run(optimized, {"x": x}), run(quantized, {"x": x}), strict=True):
        assert snr_db(ref, got) > 20.0


def q_params_of(quantized: onnx.ModelProto, tensor: str) -> tuple[float, int]:
    """(scale, zero point) of the QuantizeLinear reading `tensor` (or writing graph output `tensor`)."""
    values = inits_of(quantized)
    for node in quantized.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] in (tensor, f"{tensor}_QuantizeLinear_Input"):
            return float(values[node.input[1]]), int(values[node.input[2]])
    raise AssertionError(f"{tensor} is not quantized")


def test_same_scale_and_fixed_output_rules(all_ops):
    _, _, quantized, _ = all_ops
    for a, b in [("mean", "pad"), ("pad", "sl"), ("mean", "s1"), ("s1", "s2"), ("s2", "cat"), ("cat", "d2s"),
                 ("d2s", "tr"), ("ct", "ap"), ("x", "mp"), ("mean", "rsh"), ("rsh", "fl"), ("rs", "uns"),
                 ("mm", "ex")]:
        assert q_params_of(quantized, a) == q_params_of(quantized, b), (a, b)
    assert q_params_of(quantized, "sig") == (1 / 256, -128)
    assert q_params_of(quantized, "y") == (1 / 256, -128)
    assert q_params_of(quantized, "lp") == (1 / 128, 0)


def test_quantize_errors_name_the_problem(conv_net, mnist_model):
    optimized, _, ranges = conv_net
    with pytest.raises(QuantizationError, match=r"not in the graph: \['ghost'\]"):
        quantize(optimized, ["x"], {**ranges, "ghost": (0.0, 1.0)})
    with pytest.raises(QuantizationError, match="no dynamic range for tensor 'y'"):
        quantize(optimized, ["x"], {"x": ranges["x"]})
    with pytest.raises(QuantizationError, match="dynamic range of 'x' is invalid"):
        quantize(optimized, ["x"], {**ranges, "x": (1.0, -1.0)})
    with pytest.raises(QuantizationError, match=r"\['input'\] not in the graph"):
        quantize(optimized, ["input"], ranges)
    quantized = quantize(optimized, ["x"], ranges)
    with pytest.raises(QuantizationError, match="already quantized"):
        quantize(quantized, ["x"], ranges)
    with pytest.raises(QuantizationError, match="already quantized"):
        optimize(quantized)


def test_shared_weights_are_quantized_once():
    w = rng_array((2, 2, 1, 1), 1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]), helper.make_node("Conv", ["a", "w"], ["y"])]
    model = make_model(nodes, {"x": [1, 2, 3, 3]}, {"y": None}, {"w": w})
    _, quantized, _ = quantize_with_data(model, {"x": rng_array((2, 2, 3, 3), 2)})
    convs = [n for n in quantized.graph.node if n.op_type == "Conv"]
    assert convs[0].input[1] == convs[1].input[1]
    assert not [i for i in quantized.graph.initializer if i.name == "w"]  # the float weights are gone


@pytest.mark.parametrize(("opset", "ir_version"), [(13, IR_VERSION), (21, IR_VERSION), (25, 13)])
def test_written_model_has_nux_ir_version_and_loads_in_onnxruntime(opset, ir_version):
    """The quantizer writes its own IR version, not the installed onnx's default (onnx 1.23 writes IR 14, which
    onnxruntime 1.31 refuses), and onnxruntime loads and runs the result."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    model = make_model(nodes, {"x": [1, 2, 4, 4]}, {"y": None}, {"w": rng_array((3, 2, 1, 1), 1)}, opset=opset,
                       ir_version=onnx.IR_VERSION)
    x = rng_array((2, 2, 4, 4), 2)
    optimized, quantized, _ = quantize_with_data(model, {"x": x})
    for written in (optimized, quantized):
        assert written.ir_version == ir_version and written.opset_import[0].version == opset
    (y,) = run_onnx(quantized, {"x": x[:1]}).values()
    assert snr_db(np.maximum(np.einsum("oc,nchw->nohw", numpy_helper.to_array(model.graph.initializer[0])[:, :, 0, 0],
                                       x[:1]), 0), y) > 30.0
