"""optimize: every rewrite keeps the function (checked with onnxruntime on random inputs) and does its job."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from nux.quantizer import QuantizationError, optimize
from nux.quantizer.graph import float_tensors, static_shape, value_infos
from onnx import helper
from qmodels import make_model, rng_array, run

RTOL, ATOL = 1e-4, 1e-5  # float32 reassociation of folded weights


def assert_same_function(original: onnx.ModelProto, optimized: onnx.ModelProto, feeds: dict) -> None:
    for a, b in zip(run(original, feeds), run(optimized, feeds), strict=True):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=ATOL * max(1.0, float(np.abs(a).max())))


def op_types(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def bn_inits(prefix: str, channels: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"{prefix}_gamma": rng.uniform(0.5, 2.0, channels).astype(np.float32),
        f"{prefix}_beta": rng.uniform(-1, 1, channels).astype(np.float32),
        f"{prefix}_mean": rng.uniform(-1, 1, channels).astype(np.float32),
        f"{prefix}_var": rng.uniform(0.1, 3.0, channels).astype(np.float32),
    }


def bn_node(x: str, y: str, prefix: str) -> onnx.NodeProto:
    return helper.make_node("BatchNormalization", [x] + [f"{prefix}_{s}" for s in ("gamma", "beta", "mean", "var")],
                            [y], epsilon=1e-3)


@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_batchnorm_folds(with_bias):
    inits = {"w": rng_array((4, 3, 3, 3), 1), **bn_inits("bn", 4, 2)}
    conv_inputs = ["x", "w"]
    if with_bias:
        inits["b"] = rng_array((4,), 3)
        conv_inputs.append("b")
    model = make_model([helper.make_node("Conv", conv_inputs, ["c"], pads=[1, 1, 1, 1]), bn_node("c", "y", "bn")],
                       {"x": [1, 3, 8, 8]}, {"y": None}, inits)
    optimized = optimize(model)
    assert op_types(optimized) == ["Conv"]
    assert_same_function(model, optimized, {"x": rng_array((1, 3, 8, 8), 4)})


def test_grouped_conv_transpose_batchnorm_folds():
    inits = {"w": rng_array((4, 3, 2, 2), 1), "b": rng_array((6,), 2), **bn_inits("bn", 6, 3)}
    model = make_model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], group=2, strides=[2, 2]),
                        bn_node("c", "y", "bn")], {"x": [1, 4, 5, 5]}, {"y": None}, inits)
    optimized = optimize(model)
    assert op_types(optimized) == ["ConvTranspose"]
    assert_same_function(model, optimized, {"x": rng_array((1, 4, 5, 5), 4)})


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_batchnorm_and_alpha_beta_fold(trans_b):
    w = rng_array((6, 5) if trans_b else (5, 6), 1)
    inits = {"w": w, "c": rng_array((6,), 2), **bn_inits("bn", 6, 3)}
    model = make_model([helper.make_node("Gemm", ["x", "w", "c"], ["g"], transB=trans_b, alpha=0.5, beta=2.0),
                        bn_node("g", "y", "bn")], {"x": [3, 5]}, {"y": None}, inits)
    optimized = optimize(model)
    assert op_types(optimized) == ["Gemm"]
    gemm = optimized.graph.node[0]
    assert not [a for a in gemm.attribute if a.name in ("alpha", "beta")]
    assert_same_function(model, optimized, {"x": rng_array((3, 5), 4)})


def test_lone_batchnorm_becomes_mul_add():
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), bn_node("r", "y", "bn")],
                       {"x": [2, 3, 4, 4]}, {"y": None}, bn_inits("bn", 3, 1))
    optimized = optimize(model)
    assert op_types(optimized) == ["Relu", "Mul", "Add"]
    assert_same_function(model, optimized, {"x": rng_array((2, 3, 4, 4), 2)})


def test_identity_dropout_removed_and_output_name_kept():
    nodes = [helper.make_node("Identity", ["x"], ["i"]), helper.make_node("Relu", ["i"], ["r"]),
             helper.make_node("Dropout", ["r"], ["d"]), helper.make_node("Identity", ["d"], ["y"])]
    model = make_model(nodes, {"x": [2, 3]}, {"y": None}, {})
    optimized = optimize(model)
    assert op_types(optimized) == ["Relu"]
    assert optimized.graph.node[0].output[0] == "y"
    assert_same_function(model, optimized, {"x": rng_array((2, 3), 1)})


def test_constant_folding_and_shape_folding():
    nodes = [
        helper.make_node("Constant", [], ["k"], value=helper.make_tensor("k", 1, [3], [1.0, 2.0, 3.0])),
        helper.make_node("Mul", ["k", "two"], ["k2"]),  # constant * constant: folded
        helper.make_node("Shape", ["x"], ["s"]),  # static shape: folded
        helper.make_node("Reshape", ["x", "s"], ["xr"]),
        helper.make_node("Add", ["xr", "k2"], ["y"]),
    ]
    model = make_model(nodes, {"x": [2, 3]}, {"y": None}, {"two": np.float32(2.0)})
    optimized = optimize(model)
    assert op_types(optimized) == ["Reshape", "Add"]
    assert_same_function(model, optimized, {"x": rng_array((2, 3), 1)})


def test_conv_add_and_mul_fold_into_conv():
    inits = {"w": rng_array((4, 2, 3, 3), 1), "s": rng_array((4, 1, 1), 2, 0.5, 2.0), "t": rng_array((1, 4, 1, 1), 3)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Mul", ["c", "s"], ["m"]),
             helper.make_node("Add", ["t", "m"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, {"x": [1, 2, 6, 6]}, {"y": None}, inits)
    optimized = optimize(model)
    assert op_types(optimized) == ["Conv", "Relu"]  # the Conv+Relu pair the compiler fuses
    assert_same_function(model, optimized, {"x": rng_array((1, 2, 6, 6), 4)})


def test_matmul_add_becomes_gemm_and_clip_relu():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Clip", ["a", "zero", ""], ["y"])]
    model = make_model(nodes, {"x": [3, 4]}, {"y": None},
                       {"w": rng_array((4, 5), 1), "b": rng_array((1, 5), 2), "zero": np.float32(0)})
    optimized = optimize(model)
    assert op_types(optimized) == ["Gemm", "Relu"]
    assert_same_function(model, optimized, {"x": rng_array((3, 4), 3)})


def test_shared_intermediate_is_not_fused():
    inits = {"w": rng_array((2, 2, 1, 1), 1), "t": rng_array((2, 1, 1), 2)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Add", ["c", "t"], ["a"]),
             helper.make_node("Relu", ["c"], ["r"])]
    model = make_model(nodes, {"x": [1, 2, 3, 3]}, {"a": None, "r": None}, inits)
    optimized = optimize(model)
    assert op_types(optimized) == ["Conv", "Add", "Relu"]
    assert_same_function(model, optimized, {"x": rng_array((1, 2, 3, 3), 3)})


def test_mnist8_optimizes_to_opset13_same_function_every_shape(mnist_model):
    optimized = optimize(mnist_model)
    assert optimized.opset_import[0].version == 13
    assert op_types(optimized) == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Reshape", "Gemm"]
    assert [i.name for i in optimized.graph.input] == ["Input3"]
    infos = value_infos(optimized.graph)
    for name in float_tensors(optimized.graph):
        assert static_shape(infos[name]) is not None, name
    for seed in range(3):
        assert_same_function(mnist_model, optimized, {"Input3": rng_array((1, 1, 28, 28), seed, 0, 255)})
    assert op_types(mnist_model)[0] == "Reshape"  # the caller's model is untouched


def test_bad_models_are_named():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [2]}, {"y": None}, {}, opset=17)
    model.opset_import[0].version = 5
    with pytest.raises(QuantizationError, match="unsupported opset 5"):
        optimize(model)
    model.opset_import[0].version = 17
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(QuantizationError, match="domain 'com.microsoft'"):
        optimize(model)
    with pytest.raises(QuantizationError, match="expected an onnx.ModelProto"):
        optimize("model.onnx")
    broken = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [2]}, {"y": None}, {})
    broken.graph.node[0].input[0] = "nowhere"
    with pytest.raises(QuantizationError, match="not valid ONNX"):
        optimize(broken)
