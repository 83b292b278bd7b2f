"""Calibration: the ranges are the exact min/max onnxruntime computes, whatever form the data takes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import onnx
import pytest
from nux.quantizer import (
    QuantizationError,
    build_calibration_model,
    calibrate,
    calibrate_with_random_input,
    optimize,
)
from nux.quantizer.graph import expose_outputs, float_tensors
from nux.quantizer.ranges import Histogram, kl_threshold
from onnx import helper
from qmodels import make_model, rng_array, run


@pytest.fixture(scope="module")
def small_net() -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "g", "gb"], ["y"])]
    inits = {"w": rng_array((4, 3, 3, 3), 1), "b": rng_array((4,), 2), "g": rng_array((64, 5), 3),
             "gb": rng_array((5,), 4)}
    return optimize(make_model(nodes, {"x": ["N", 3, 8, 8]}, {"y": None}, inits))


def reference_ranges(model: onnx.ModelProto, batches: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    names = float_tensors(model.graph)
    exposed = expose_outputs(model, names)
    order = [o.name for o in exposed.graph.output]
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    for x in batches:
        for name, value in zip(order, run(exposed, {"x": x}), strict=True):
            lo[name], hi[name] = min(lo[name], float(value.min())), max(hi[name], float(value.max()))
    return {n: (lo[n], hi[n]) for n in names}


def test_calibration_model_has_reduce_min_max_for_every_float_tensor(small_net):
    cal = build_calibration_model(small_net, ["x"])
    tensors = float_tensors(small_net.graph)
    assert tensors[0] == "x" and "y" in tensors
    for op in ("ReduceMin", "ReduceMax"):
        reduced = {n.input[0] for n in cal.graph.node if n.op_type == op}
        assert reduced == set(tensors)
    onnx.checker.check_model(cal)


def test_ranges_equal_onnxruntime_min_max_dict_list_and_generator(small_net):
    cal = build_calibration_model(small_net, ["x"])
    data = rng_array((10, 3, 8, 8), 7, -2.0, 3.0)
    expected = reference_ranges(small_net, [data])
    as_dict = calibrate(cal, {"x": data}, batch_size=3)
    as_list = calibrate(cal, [{"x": data[i:i + 2]} for i in range(0, 10, 2)])
    as_generator = calibrate(cal, ({"x": data[i:i + 1]} for i in range(10)))
    assert list(as_dict) == list(expected)  # graph order: input first, output included
    for result in (as_dict, as_list, as_generator):
        assert result == expected  # exact: the same kernels compute the same float32 values
    assert as_dict["x"] == (float(data.min()), float(data.max()))


def test_fixed_batch_model_splits_a_batched_dict(mnist_model):
    cal = build_calibration_model(optimize(mnist_model), ["Input3"])
    data = rng_array((6, 1, 28, 28), 1, 0, 255)
    batched = calibrate(cal, {"Input3": data})
    one_by_one = calibrate(cal, [{"Input3": x[None]} for x in data])
    assert batched == one_by_one


def test_inputs_with_different_fixed_first_dimensions_run_whole():
    """MatMul of a (6, 16) and a (16, 10) activation: each input is cut by its own first dimension (slicing the
    second by the first's 6 rows fed onnxruntime a (6, 10) array)."""
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": [6, 16], "b": [16, 10]}, {"y": None},
                       {})
    a, b = rng_array((12, 16), 1), rng_array((32, 10), 2)  # two samples each
    batched = calibrate(build_calibration_model(model, ["a", "b"]), {"a": a, "b": b})
    one_by_one = calibrate(build_calibration_model(model, ["a", "b"]),
                           [{"a": a[:6], "b": b[:16]}, {"a": a[6:], "b": b[16:]}])
    assert batched == one_by_one
    assert batched["b"] == (float(b.min()), float(b.max()))


def test_memory_does_not_grow_with_samples(small_net):
    cal = build_calibration_model(small_net, ["x"])

    def peak(count: int) -> int:
        samples = ({"x": rng_array((4, 3, 8, 8), i)} for i in range(count))
        tracemalloc.start()
        calibrate(cal, samples, progress=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    few, many = peak(20), peak(400)  # 400 samples of 3 KB would be 1.2 MB if kept
    assert many < few + 300_000


def test_percentile_and_entropy_clip_outliers(small_net):
    cal = build_calibration_model(small_net, ["x"])
    data = rng_array((64, 3, 8, 8), 3, -1.0, 1.0)
    data[0, 0, 0, 0] = 50.0  # one outlier
    minmax = calibrate(cal, {"x": data})
    pct = calibrate(cal, {"x": data}, method="percentile", percentile=99.9)
    ent = calibrate(cal, {"x": data}, method="entropy")
    assert minmax["x"][1] == 50.0
    assert pct["x"][1] < 1.1 and pct["x"][0] == pytest.approx(-1.0, abs=0.05)
    assert 1.0 <= ent["x"][1] < 10.0  # resolution: 2048 bins over [-64, 64], at least 128 levels kept
    hundred = calibrate(cal, {"x": data}, method="percentile", percentile=100.0)
    assert hundred["x"] == minmax["x"]


def test_histogram_doubling_is_exact():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(-1, 1, 1000), rng.uniform(-7, 7, 1000)
    streamed = Histogram(512)
    streamed.update(small)
    streamed.update(large)
    first_limit = float(np.abs(small.astype(np.float32)).max())
    assert streamed.limit == 8 * first_limit  # doubled three times to cover 7
    direct, _ = np.histogram(np.concatenate([small, large]).astype(np.float32), bins=512,
                             range=(-streamed.limit, streamed.limit))
    assert np.array_equal(streamed.counts, direct)  # merged bin pairs are exactly the coarser bins


def test_kl_threshold_cuts_the_tail_of_a_peaked_distribution():
    assert kl_threshold(np.ones(100), 128) == 100  # fewer bins than levels: nothing to clip
    bins = np.arange(2048)
    laplace = np.round(1e6 * np.exp(-bins / 40.0))
    laplace[-1] += 1  # one far outlier
    assert 128 <= kl_threshold(laplace, 128) < 600
    data = np.random.default_rng(0).laplace(0, 1, 100_000)
    data[0] = 60.0
    histogram = Histogram()
    histogram.update(data)
    lo, hi = histogram.entropy_range()
    assert 5.0 < hi < 15.0 and lo == -hi


def test_random_calibration_guide_distribution(small_net, mnist_model):
    cal = build_calibration_model(optimize(mnist_model), ["Input3"])
    ranges = calibrate_with_random_input(cal)
    lo, hi = ranges["Input3"]
    assert 0.0 <= lo < 0.001 and 0.999 < hi < 1.0  # uniform [0, 1), 10 x 784 samples
    assert calibrate_with_random_input(cal) == ranges  # seeded
    with pytest.raises(QuantizationError, match="dynamic dimension"):
        calibrate_with_random_input(build_calibration_model(small_net, ["x"]))


def test_bad_calibration_data_is_named(small_net):
    cal = build_calibration_model(small_net, ["x"])
    good = rng_array((2, 3, 8, 8), 1)
    cases = [
        ({"x": good.astype(np.float64)}, "dtype float64"),
        ({"x": good[0]}, r"shape \(3, 8, 8\)"),
        ({"x": rng_array((2, 3, 9, 8), 1)}, r"expects \(N, 3, 8, 8\)"),
        ({"x": good, "z": good}, "'z'"),
        ({}, "lacks input"),
        ([good], "sample 0 is a ndarray"),
        ("data.npz", "must be a dict"),
        ([], "empty"),
        ({"x": good.tolist()}, "not a numpy array"),
    ]
    for data, message in cases:
        with pytest.raises(QuantizationError, match=message):
            calibrate(cal, data)
    with pytest.raises(QuantizationError, match="not a calibration model"):
        calibrate(small_net, {"x": good})
    with pytest.raises(QuantizationError, match="unknown calibration method"):
        calibrate(cal, {"x": good}, method="mse")
    with pytest.raises(QuantizationError, match=r"\['nope'\] not in the graph"):
        build_calibration_model(small_net, ["nope"])
    with pytest.raises(QuantizationError, match="missing from input_tensors"):
        build_calibration_model(small_net, [])


def test_one_click_bad_models_are_named(small_net):
    from nux.quantizer import post_training_quantization
    from onnx import TensorProto

    with pytest.raises(QuantizationError, match="dynamic dimension"):
        post_training_quantization(small_net, ["x"])  # batch dimension N and no calibration data
    half = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [2]}, {"y": None}, {})
    half.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    half.graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    with pytest.raises(QuantizationError, match="input 'x' is float16"):
        post_training_quantization(half, ["x"])
