"""nux.quantizer: post-training static int8 quantization of ONNX models (TFLite int8 specification), emitted as
standard QDQ ONNX that onnxruntime runs as is and the nux compiler consumes.

The guide's flow::

    optimized = optimize(model)
    calibration_model = build_calibration_model(optimized, input_tensors)
    ranges = calibrate(calibration_model, calibration_data)  # or calibrate_with_random_input(calibration_model)
    quantized = quantize(optimized, input_tensors, ranges)

or in one call, `post_training_quantization(model, input_tensors, calibration_data)`. See docs/quantizer.md.
"""

from .calibration import build_calibration_model, calibrate, calibrate_with_random_input
from .errors import QuantizationError
from .optimize import optimize
from .pipeline import post_training_quantization
from .qdq import quantize
from .report import QuantizationReport, quantization_report

__all__ = [
    "QuantizationError",
    "QuantizationReport",
    "build_calibration_model",
    "calibrate",
    "calibrate_with_random_input",
    "optimize",
    "post_training_quantization",
    "quantization_report",
    "quantize",
]
