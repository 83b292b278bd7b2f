"""`post_training_quantization`: the guide's one-click call (optimize, calibrate, quantize)."""

from __future__ import annotations

import onnx

from .calibration import build_calibration_model, calibrate, calibrate_with_random_input
from .optimize import optimize
from .qdq import quantize


def post_training_quantization(model: onnx.ModelProto, input_tensors: list[str], calibration_data=None,
                               **calibration_options) -> onnx.ModelProto:
    """Optimize `model`, calibrate it on `calibration_data` (a dict of batched arrays or a list of such dicts;
    random uniform [0, 1) inputs when None) and return the static int8 QDQ model.

    `calibration_options` go to `calibrate` (method, percentile, bins, batch_size, progress).
    """
    optimized = optimize(model)
    calibration_model = build_calibration_model(optimized, input_tensors)
    if calibration_data is None:
        ranges = calibrate_with_random_input(calibration_model, **calibration_options)
    else:
        ranges = calibrate(calibration_model, calibration_data, **calibration_options)
    return quantize(optimized, input_tensors, ranges)
