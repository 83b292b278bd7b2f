"""What nux's quantizer is measured against (tests and benchmarks/quantizer.py): top-1 accuracy under the
reference executor (`nux.reference`), and onnxruntime's own `quantize_static` (QDQ, per-channel, MinMax, int8) on
the same calibration samples. Test-only: it needs onnxruntime.quantization, not part of the installed package."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from nux.reference import REFERENCE_OPT_LEVEL_NAME, onnx_session, run_session
from onnx import version_converter


def snr_db(reference: np.ndarray, value: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - value)^2), in float64; inf when equal."""
    noise = np.sum((reference.astype(np.float64) - value) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise))


def top1(model: onnx.ModelProto, images: np.ndarray, labels: np.ndarray,
         optimization: str = REFERENCE_OPT_LEVEL_NAME) -> float:
    """Top-1 accuracy in percent, one image per run (works for models with a fixed batch of 1). `optimization`
    other than the reference's measures onnxruntime's fused kernels instead (benchmarks/quantizer.py)."""
    session = onnx_session(model, optimization=optimization)
    name, output = session.get_inputs()[0].name, session.get_outputs()[0].name
    predictions = [int(np.argmax(run_session(session, {name: image[None]})[output])) for image in images]
    return 100.0 * float(np.mean(np.array(predictions) == labels))


def ort_quantize_static(model: onnx.ModelProto, input_name: str, samples: np.ndarray) -> onnx.ModelProto:
    """onnxruntime's static int8 QDQ quantization (per-channel weights, MinMax), one sample per run."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{input_name: s[None]} for s in samples])

        def get_next(self):
            return next(self.items, None)

    if model.opset_import[0].version < 13:
        model = version_converter.convert_version(model, 13)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.qdq.onnx"
        onnx.save(model, src)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        return onnx.load(dst)
