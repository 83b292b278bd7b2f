"""nux.executor: I/O conversion at the model's edge, batches of k inferences, and its errors."""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from compiler_rig import float_model, quantize
from nux.executor import Executor, ExecutorError, dequantize
from nux.executor import quantize as quantize_input
from onnx import helper


@pytest.fixture(scope="module")
def enf():
    rng = np.random.default_rng(0)
    model = float_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], {"x": [1, 2, 5, 5]},
                        {"y": [1, 3, 5, 5]}, {"w": rng.normal(0, 0.5, (3, 2, 3, 3)).astype(np.float32)})
    return nux.compiler.compile(quantize(model))


def test_float_io_round_trips_through_the_stored_integers(enf):
    x = np.random.default_rng(1).uniform(-1, 1, (1, 2, 5, 5)).astype(np.float32)
    with Executor(enf) as ex:
        real = ex.run({"x": x})["y"]
        raw = ex.run({"x": quantize_input(x, ex.inputs()[0])}, raw=True)["y"]
        np.testing.assert_array_equal(real, dequantize(raw, ex.outputs()[0]))
        assert raw.dtype == np.int8 and real.dtype == np.float32


def test_k_times_the_batch_runs_k_inferences(enf):
    x = np.random.default_rng(2).uniform(-1, 1, (3, 2, 5, 5)).astype(np.float32)
    with Executor(enf) as ex:
        stacked = ex.run({"x": x})["y"]
        one = [ex.run({"x": x[i:i + 1]})["y"] for i in range(3)]
    np.testing.assert_array_equal(stacked, np.concatenate(one))


@pytest.mark.parametrize("feeds, message", [
    ({}, "missing \\['x'\\]"), ({"x": np.zeros((1, 2, 5, 5), np.float32), "z": 1}, "unknown \\['z'\\]"),
    ({"x": np.zeros((1, 2, 4, 5), np.float32)}, "expected shape \\(1, 2, 5, 5\\)"),
    ({"x": np.zeros((1, 2, 5, 5), np.int32)}, "float32 in the model; got int32")])
def test_bad_inputs_are_one_line_errors(enf, feeds, message):
    with Executor(enf) as ex, pytest.raises(ExecutorError, match=message):
        ex.run(feeds)
