"""onnxruntime sessions for the quantizer (calibration and the report), with its errors turned into ours."""

from __future__ import annotations

import onnx
import onnxruntime as ort

from .errors import QuantizationError


def make_session(model: onnx.ModelProto, what: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated exception types
        raise QuantizationError(f"onnxruntime cannot load the {what}: {str(exc).strip().splitlines()[0]}") from None


def run(session: ort.InferenceSession, feeds: dict, what: str) -> list:
    try:
        return session.run(None, feeds)
    except Exception as exc:  # noqa: BLE001
        raise QuantizationError(f"onnxruntime failed running the {what}: {str(exc).strip().splitlines()[0]}") from None
