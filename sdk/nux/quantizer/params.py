"""Scale and zero-point arithmetic of the TFLite int8 quantization specification.

Kept free of ONNX so the numbers can be checked by hand (tests/quantizer/test_params.py):

* activations: asymmetric int8 per tensor, range widened to include 0 so that 0.0 is exactly representable
  (padding and ReLU depend on it): ``scale = (max - min) / 255``, ``zero_point = round(-128 - min / scale)``;
* weights: symmetric int8 (zero point 0) in [-127, 127], per output channel for Conv/ConvTranspose, per tensor
  otherwise: ``scale = max|w| / 127``;
* bias: int32, zero point 0, ``scale = input_scale * weight_scale`` (per channel when the weights are).

Rounding is half away from zero, as TFLite's `std::round`; scales are float32 because that is what the ONNX
graph stores, and integers are computed from the float32 scale so that the graph and these numbers agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_MAX = 127  # symmetric weights use [-127, 127] so that -w is representable
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MIN_SCALE = float(np.finfo(np.float32).tiny)  # ranges narrower than float32 can tell apart get this scale


@dataclass(frozen=True)
class QParams:
    """Per-tensor quantization parameters of an int8 activation: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be finite and positive, got {self.scale}")
        if not INT8_MIN <= self.zero_point <= INT8_MAX:
            raise ValueError(f"zero point {self.zero_point} outside int8")


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round half away from zero (TFLite's std::round); NumPy's own round is half to even."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_qparams(rmin: float, rmax: float) -> QParams:
    """Asymmetric int8 parameters for a calibrated range, widened to include 0.

    A tensor that is identically 0 gets scale 1 and zero point 0 (any scale represents it exactly).
    """
    if not (np.isfinite(rmin) and np.isfinite(rmax)) or rmin > rmax:
        raise ValueError(f"invalid range ({rmin}, {rmax})")
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    if rmax == rmin:
        return QParams(1.0, 0)
    scale = max(float(np.float32((rmax - rmin) / (INT8_MAX - INT8_MIN))), MIN_SCALE)
    zero_point = int(np.clip(round_half_away(INT8_MIN - rmin / scale), INT8_MIN, INT8_MAX))
    return QParams(scale, zero_point)


def symmetric_scales(weights: np.ndarray, axis: int | None) -> np.ndarray:
    """Symmetric weight scales ``max|w| / 127``: one per slice along `axis`, or a scalar when `axis` is None.

    An all-zero slice gets scale 1 (its integers are all 0 whatever the scale; 0 itself is not a valid scale).
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    if axis is None:
        amax = np.asarray(w.max() if w.size else 0.0)
    else:
        amax = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1).max(axis=1)
    scale = (amax / WEIGHT_MAX).astype(np.float32)
    return np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)


def _broadcast_scale(scale: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64)
    if axis is None or scale.ndim == 0:
        return scale
    shape = [1] * ndim
    shape[axis] = scale.size
    return scale.reshape(shape)


def quantize_weights(weights: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """int8 weights ``clip(round(w / scale), -127, 127)`` for the given (per-channel or scalar) scale."""
    q = round_half_away(np.asarray(weights, np.float64) / _broadcast_scale(scale, np.ndim(weights), axis))
    return np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)


def bias_scale(input_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    """int32 bias scale ``input_scale * weight_scale``, computed in float32 as the graph stores both factors."""
    return (np.float32(input_scale) * np.asarray(weight_scale, dtype=np.float32)).astype(np.float32)


def quantize_bias(bias: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, bool]:
    """int32 bias ``round(b / scale)``; also says whether any value had to be clipped to the int32 range."""
    scale = np.asarray(scale, dtype=np.float64)
    q = round_half_away(np.asarray(bias, dtype=np.float64) / scale)
    clipped = bool(np.any((q < INT32_MIN) | (q > INT32_MAX)))
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32), clipped


def quantize_activation(x: np.ndarray, qp: QParams) -> np.ndarray:
    """Reference of ONNX QuantizeLinear for int8 (round half to even, saturate): used by tests and the report."""
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(qp.scale)) + qp.zero_point
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int = 0) -> np.ndarray:
    """Reference of ONNX DequantizeLinear: ``(q - zero_point) * scale`` in float32."""
    return ((np.asarray(q, np.int64) - np.asarray(zero_point, np.int64)) * np.asarray(scale)).astype(np.float32)


def fit_weight_scale_to_bias(bias: np.ndarray, input_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    """Weight scales widened where ``bias / (input_scale * weight_scale)`` would overflow int32.

    Happens only for channels whose weights are tiny next to their bias; widening the weight scale there costs
    that channel's weight precision, which is negligible next to its bias, and keeps the bias exact.
    """
    needed = np.abs(np.asarray(bias, np.float64)) / (float(np.float32(input_scale)) * INT32_MAX)
    widened = np.maximum(np.asarray(weight_scale, np.float64), needed * (1 + 1e-6))
    return np.where(widened > weight_scale, widened, weight_scale).astype(np.float32)
