"""Bad input found by fuzzing the quantizer: each case is a QuantizationError naming the problem (never a raw
ValueError, TypeError or MemoryError), and memory stays bounded by the model's real size."""

from __future__ import annotations

import tracemalloc

import numpy as np
import onnx
import pytest
from nux.cli import main
from nux.quantizer import (
    QuantizationError,
    build_calibration_model,
    calibrate,
    calibrate_with_random_input,
    optimize,
    post_training_quantization,
    quantize,
)
from nux.quantizer.checks import MAX_TENSOR_ELEMENTS
from onnx import TensorProto, helper, numpy_helper
from qmodels import make_model, rng_array, run

MIB = 1 << 20


def quantize_random(model: onnx.ModelProto) -> onnx.ModelProto:
    return post_training_quantization(model, [vi.name for vi in model.graph.input])


def peak_bytes(fn) -> int:
    """Peak traced allocation (NumPy reports its buffers to tracemalloc) while `fn` runs."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def raw_model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:
    """A model built without make_model's checks, for types and shapes make_model would refuse."""
    graph = helper.make_graph(nodes, "bad", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


# ---------------------------------------------------------------------------------------------- constants


@pytest.mark.parametrize(("node", "x_shape", "inits"), [
    (helper.make_node("Concat", ["x", "c"], ["y"], axis=1), [1, 4], {"c": np.zeros((1, 0), np.float32)}),
    (helper.make_node("MatMul", ["x", "c"], ["y"]), [1, 4], {"c": np.zeros((4, 0), np.float32)}),
    (helper.make_node("Conv", ["x", "c"], ["y"]), [1, 3, 4, 4], {"c": np.zeros((0, 3, 1, 1), np.float32)}),
], ids=["concat", "matmul", "conv"])
def test_zero_size_constant_operand(node, x_shape, inits):
    model = make_model([node], {"x": x_shape}, {"y": None}, inits)
    with pytest.raises(QuantizationError, match=rf"constant 'c' read by {node.op_type} node 'y' is empty"):
        quantize_random(model)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_matmul_weight_is_refused(bad):
    w = rng_array((4, 3))
    w[1, 2] = bad
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")], {"x": [1, 4]}, {"y": None},
                       {"w": w})
    with pytest.raises(QuantizationError, match=rf"constant 'w' read by MatMul node 'fc' holds 1 non-finite "
                                                rf"value\(s\) \(first: {bad} at \(1, 2\)\)"):
        quantize_random(model)


def test_non_finite_constant_operand_and_bias_are_refused():
    add = make_model([helper.make_node("Add", ["x", "c"], ["y"])], {"x": [1, 4]}, {"y": None},
                     {"c": np.array([1, np.inf, 0, np.nan], np.float32)})
    with pytest.raises(QuantizationError, match="constant 'c' read by Add node 'y' holds 2 non-finite"):
        quantize_random(add)
    gemm = make_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"x": [1, 4]}, {"y": None},
                      {"w": rng_array((3, 4)), "b": np.array([0, np.nan, 0], np.float32)})
    with pytest.raises(QuantizationError, match="constant 'b' read by Gemm node 'y' holds 1 non-finite"):
        quantize_random(gemm)


def test_infinite_clip_bounds_are_not_data():
    """Clip(x, 0, inf) is a Relu and Clip(x, -1, inf) a one-sided clamp: both quantize."""
    for low in (0.0, -1.0):
        model = make_model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"x": [1, 4]}, {"y": None},
                           {"lo": np.float32(low), "hi": np.float32(np.inf)})
        quantized = quantize_random(model)
        x = np.array([[0.0, 0.1, 0.25, 0.75]], np.float32)  # inside the random calibration range [0, 1)
        (expected,), (got,) = run(model, {"x": x}), run(quantized, {"x": x})
        assert np.abs(got - expected).max() <= 1 / 255  # one step of the calibrated range [0, 1)


def test_quantize_refuses_a_weight_that_became_nan_after_calibration():
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [1, 4]}, {"y": None},
                       {"w": rng_array((4, 3))})
    optimized = optimize(model)
    ranges = calibrate_with_random_input(build_calibration_model(optimized, ["x"]))
    weight = optimized.graph.initializer[0]
    weight.CopyFrom(numpy_helper.from_array(np.full((4, 3), np.nan, np.float32), weight.name))
    with pytest.raises(QuantizationError, match="constant 'w' read by MatMul node 'y' holds 12 non-finite"):
        quantize(optimized, ["x"], ranges)


@pytest.mark.parametrize(("option", "message"), [
    ({"bins": 100}, "bins must be a multiple of 4 and at least 512, got 100"),
    ({"bins": 2048.0}, "bins must be .* got 2048.0"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
])
def test_calibration_options(option, message):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["n", 4]}, {"y": None}, {})
    calibration = build_calibration_model(optimize(model), ["x"])
    data = {"x": rng_array((3, 4))}
    with pytest.raises(QuantizationError, match=message):
        calibrate(calibration, data, method="entropy", **option)


@pytest.mark.parametrize("count", [0, "3", 2.5])
def test_random_calibration_sample_count(count):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None}, {})
    with pytest.raises(QuantizationError, match="num_samples must be an integer >= 1"):
        calibrate_with_random_input(build_calibration_model(optimize(model), ["x"]), num_samples=count)


# ------------------------------------------------------------------------------------------- types, sparse


@pytest.mark.parametrize("code", [99, 1000])
def test_unknown_element_type(code):
    model = raw_model([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", code, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(QuantizationError, match=f"tensor 'x' has unknown element type {code}"):
        optimize(model)


def test_calibration_model_input_of_unknown_type():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None}, {})
    calibration = build_calibration_model(optimize(model), ["x"])
    calibration.graph.input[0].type.tensor_type.elem_type = 99
    with pytest.raises(QuantizationError, match="input 'x' has element type 99, which has no NumPy equivalent"):
        calibrate_with_random_input(calibration)


def test_sparse_constants_are_refused():
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.0], np.float32), "v"),
                                       numpy_helper.from_array(np.array([3], np.int64), "i"), [4])
    constant = helper.make_node("Constant", [], ["c"], name="mask", sparse_value=sparse)
    model = make_model([constant, helper.make_node("Add", ["x", "c"], ["y"])], {"x": [4]}, {"y": None}, {})
    with pytest.raises(QuantizationError, match="Constant node 'mask' holds a sparse_value"):
        quantize_random(model)
    model = raw_model([helper.make_node("Add", ["x", "s"], ["y"])],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model.graph.sparse_initializer.append(sparse)
    model.graph.sparse_initializer[0].values.name = "s"
    with pytest.raises(QuantizationError, match="sparse initializer 's' is not supported"):
        optimize(model)


# ------------------------------------------------------------------------------------------------- sizes


def test_absurd_input_shape_is_refused_before_allocating():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 3, 100_000, 100_000]}, {"y": None}, {})
    with pytest.raises(QuantizationError, match=r"tensor 'x' has shape \(1, 3, 100000, 100000\): 30000000000 "
                                                rf"elements exceed nux.quantizer's limit of {MAX_TENSOR_ELEMENTS}"):
        assert peak_bytes(lambda: quantize_random(model)) < 16 * MIB


def test_random_calibration_checks_the_size_before_allocating():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None}, {})
    calibration = build_calibration_model(optimize(model), ["x"])
    calibration.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1 << 36  # a crafted calibration model
    failures = []

    def attempt():
        with pytest.raises(QuantizationError, match="input 'x' has shape .* exceed nux.quantizer's limit"):
            calibrate_with_random_input(calibration)
        failures.append(1)

    assert peak_bytes(attempt) < 16 * MIB and failures


def constant_of_shape_model(n: int) -> onnx.ModelProto:
    """A tiny model (~150 bytes) whose ConstantOfShape makes an n x n float tensor added to the input."""
    fill = numpy_helper.from_array(np.array([0.5], np.float32))
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="big", value=fill),
             helper.make_node("Add", ["x", "c"], ["y"])]
    return raw_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
                     [numpy_helper.from_array(np.array([n, n], np.int64), "shape")])


def test_folding_never_evaluates_a_large_constant_of_shape():
    model = constant_of_shape_model(12000)  # 576 MB if folded; optimize() used to take 628 MiB here
    assert len(model.SerializeToString()) < 200
    holder = []
    peak = peak_bytes(lambda: holder.append(optimize(model)))
    assert peak < 16 * MIB, peak
    assert [n.op_type for n in holder[0].graph.node] == ["ConstantOfShape", "Add"]  # left for run time


def test_absurd_constant_of_shape_is_refused_before_evaluating():
    model = constant_of_shape_model(30000)  # 3.4 GiB
    failures = []

    def attempt():
        with pytest.raises(QuantizationError, match=r"tensor 'c' \(output of ConstantOfShape node 'big'\) has shape "
                                                    r"\(30000, 30000\): 900000000 elements exceed"):
            optimize(model)
        failures.append(1)

    assert peak_bytes(attempt) < 16 * MIB and failures


def test_folding_an_outer_product_of_constants_is_bounded_too():
    """Not only the 'expanding' operators: a MatMul of two 3000-vectors would make 9 M floats."""
    a, b = rng_array((3000, 1)), rng_array((1, 3000), seed=1)
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["ab"]), helper.make_node("Add", ["x", "ab"], ["y"])],
                       {"x": [1, 3000]}, {"y": None}, {"a": a, "b": b})
    holder = []
    assert peak_bytes(lambda: holder.append(optimize(model))) < 16 * MIB
    assert "MatMul" in [n.op_type for n in holder[0].graph.node]


def test_moderate_sizes_keep_working():
    """A small ConstantOfShape is still folded; a bigger one stays in the graph and the model quantizes."""
    small = optimize(constant_of_shape_model(8))
    assert [n.op_type for n in small.graph.node] == ["Add"]
    model = constant_of_shape_model(300)
    quantized = quantize_random(model)
    assert "ConstantOfShape" in [n.op_type for n in quantized.graph.node]
    x = np.random.default_rng(0).random((1, 300), dtype=np.float32)
    (expected,), (got,) = run(model, {"x": x}), run(quantized, {"x": x})
    step = 1.5 / 255  # the output range is [0.5, 1.5), widened to include 0
    assert np.abs(got - expected).max() <= step


# --------------------------------------------------------------------------------------------------- CLI


def test_cli_prints_one_line(tmp_path, capsys):
    w = rng_array((4, 3))
    w[0, 0] = np.nan
    path = tmp_path / "nan.onnx"
    onnx.save(make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [1, 4]}, {"y": None}, {"w": w}),
              path)
    assert main(["quantize", str(path), "-o", str(tmp_path / "q.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nux: error: constant 'w' read by MatMul node 'y' holds 1 non-finite")
    assert err.count("\n") == 1
