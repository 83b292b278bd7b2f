"""The guide's ExampleNet (PyTorch, torch.onnx.export) through every step of the guide and the one-click call."""

from __future__ import annotations

import numpy as np
import nux
import nux.quantizer  # noqa: F401 - the guide calls nux.quantizer.*
import onnx
import pytest
from qmodels import run, snr_db

pytest.importorskip("torch", reason="the guide's ExampleNet is a PyTorch model (torch is in the dev extra)")
from example_net import export_example_net  # noqa: E402


def example_net_input_tensors():
    return ["input"]


@pytest.fixture(scope="module")
def guide_model() -> onnx.ModelProto:
    return export_example_net()


@pytest.mark.parametrize("options", [{"optimize": False}, {"dynamo": False, "do_constant_folding": False}],
                         ids=["dynamo-unoptimized", "legacy-exporter"])
def test_guide_steps_with_batchnorm_in_the_export(options):
    model = export_example_net(**options)
    assert "BatchNormalization" in [n.op_type for n in model.graph.node]
    input_tensors = example_net_input_tensors()
    optimized_model = nux.quantizer.optimize(model)
    assert [n.op_type for n in optimized_model.graph.node] == ["Conv", "Conv", "MaxPool", "Conv"]
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    np.testing.assert_allclose(run(optimized_model, {"input": x})[0], run(model, {"input": x})[0],
                               rtol=1e-4, atol=1e-5)
    calibration_model = nux.quantizer.build_calibration_model(optimized_model, input_tensors)
    calibration_data = [{"input": np.random.default_rng(s).random((1, 3, 224, 224), dtype=np.float32)}
                        for s in range(4)]
    dynamic_ranges = nux.quantizer.calibrate(calibration_model, calibration_data)
    quantized_model = nux.quantizer.quantize(optimized_model, input_tensors, dynamic_ranges)
    assert snr_db(run(model, {"input": x})[0], run(quantized_model, {"input": x})[0]) > 25.0


def test_guide_random_calibration_flow(guide_model):
    input_tensors = example_net_input_tensors()
    optimized_model = nux.quantizer.optimize(guide_model)
    calibration_model = nux.quantizer.build_calibration_model(optimized_model, input_tensors)
    dynamic_ranges = nux.quantizer.calibrate_with_random_input(calibration_model)
    names = [n.output[0] for n in optimized_model.graph.node]
    assert list(dynamic_ranges) == ["input", *names]  # like the guide: input, intermediates, output
    assert names[-1] == "output"
    lo, hi = dynamic_ranges["input"]
    assert 0.0 <= lo < 1e-4 and 1 - 1e-4 < hi < 1.0  # uniform [0, 1)
    quantized_model = nux.quantizer.quantize(optimized_model, input_tensors, dynamic_ranges)
    onnx.checker.check_model(quantized_model)
    x = np.random.default_rng(5).random((1, 3, 224, 224), dtype=np.float32)
    (out,) = run(quantized_model, {"input": x})
    assert out.shape == (1, 3, 108, 108) and out.dtype == np.float32
    assert snr_db(run(guide_model, {"input": x})[0], out) > 25.0


def test_guide_one_click(guide_model):
    quantized_model = nux.quantizer.post_training_quantization(guide_model, example_net_input_tensors())
    ops = [n.op_type for n in quantized_model.graph.node]
    assert ops.count("Conv") == 3 and ops.count("QuantizeLinear") == 5  # input, 3 convs' outputs, pool output
    x = np.random.default_rng(6).random((1, 3, 224, 224), dtype=np.float32)
    assert snr_db(run(guide_model, {"input": x})[0], run(quantized_model, {"input": x})[0]) > 25.0
    with_data = nux.quantizer.post_training_quantization(guide_model, ["input"], {"input": x})
    assert snr_db(run(guide_model, {"input": x})[0], run(with_data, {"input": x})[0]) > 25.0
