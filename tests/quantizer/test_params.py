"""Scale / zero-point arithmetic against hand-computed values (TFLite int8 specification)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nux.quantizer.params import (
    QParams,
    activation_qparams,
    bias_scale,
    dequantize,
    fit_weight_scale_to_bias,
    quantize_activation,
    quantize_bias,
    quantize_weights,
    round_half_away,
    symmetric_scales,
)


def f32(x: float) -> float:
    return float(np.float32(x))


@pytest.mark.parametrize(
    ("rmin", "rmax", "scale", "zero_point"),
    [
        (0.0, 6.0, 6 / 255, -128),  # ReLU6 range: 0 maps to -128
        (-1.0, 1.0, 2 / 255, -1),  # -128 + 127.5 = -0.5 rounds away from zero to -1
        (2.0, 5.0, 5 / 255, -128),  # widened to include 0: [0, 5]
        (-3.0, -1.0, 3 / 255, 127),  # widened to [-3, 0]: 0 maps to 127
        (-0.5, 1.5, 2 / 255, -64),  # -128 + 0.5 / (2/255) = -64.25 -> -64
        (0.0, 0.0, 1.0, 0),  # identically zero
    ],
)
def test_activation_qparams(rmin, rmax, scale, zero_point):
    qp = activation_qparams(rmin, rmax)
    assert qp.scale == f32(scale)
    assert qp.zero_point == zero_point


def test_activation_qparams_rejects_bad_ranges():
    for lo, hi in [(1.0, 0.0), (np.nan, 1.0), (0.0, np.inf)]:
        with pytest.raises(ValueError):
            activation_qparams(lo, hi)


def test_round_half_away_from_zero():
    assert round_half_away(np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49])).tolist() == [1, 2, 3, -1, -3, 0]


def test_per_channel_weights_by_hand():
    w = np.array([[1.0, -2.0], [0.5, 0.25], [0.0, 0.0]], dtype=np.float32)  # 3 output channels
    scales = symmetric_scales(w, axis=0)
    assert scales.tolist() == [f32(2 / 127), f32(0.5 / 127), 1.0]  # an all-zero channel gets scale 1
    q = quantize_weights(w, scales, axis=0)
    # 1 / (2/127) = 63.5 -> 64 (half away from zero); -2 -> -127; 0.25 / (0.5/127) = 63.5 -> 64
    assert q.tolist() == [[64, -127], [127, 64], [0, 0]]
    assert q.dtype == np.int8


def test_per_channel_axis_1_conv_transpose_layout():
    w = np.zeros((2, 3, 1, 1), np.float32)  # (C_in, C_out, kh, kw): output channels on axis 1
    w[0, :, 0, 0] = [1.0, 2.0, 4.0]
    w[1, :, 0, 0] = [-0.5, 1.0, -8.0]
    scales = symmetric_scales(w, axis=1)
    assert scales.tolist() == [f32(1 / 127), f32(2 / 127), f32(8 / 127)]
    assert quantize_weights(w, scales, axis=1)[:, :, 0, 0].tolist() == [[127, 127, 64], [-64, 64, -127]]


def test_per_tensor_weights_by_hand():
    w = np.array([0.1, -0.4, 0.2], np.float32)
    scale = symmetric_scales(w, axis=None)
    assert scale.shape == () and float(scale) == f32(0.4 / 127)
    assert quantize_weights(w, scale, None).tolist() == [32, -127, 64]  # 31.75 -> 32, 63.5 -> 64


def test_bias_by_hand():
    scale = bias_scale(0.02, np.array([0.5, 0.25], np.float32))
    assert scale.tolist() == [f32(np.float32(0.02) * np.float32(0.5)), f32(np.float32(0.02) * np.float32(0.25))]
    q, clipped = quantize_bias(np.array([0.1, -0.1], np.float32), scale)
    assert q.dtype == np.int32 and not clipped
    assert q.tolist() == [10, -20]


def test_bias_overflow_widens_weight_scale():
    weight_scale = np.array([1e-12, 0.01], np.float32)
    widened = fit_weight_scale_to_bias(np.array([1.0, 1.0]), 0.01, weight_scale)
    assert widened[1] == weight_scale[1]  # untouched where the bias fits
    q, clipped = quantize_bias(np.array([1.0, 1.0]), bias_scale(0.01, widened))
    assert not clipped and abs(int(q[0])) <= 2**31 - 1
    _, clipped = quantize_bias(np.array([1.0, 1.0]), bias_scale(0.01, weight_scale))
    assert clipped


def test_qparams_validates():
    with pytest.raises(ValueError):
        QParams(0.0, 0)
    with pytest.raises(ValueError):
        QParams(1.0, 200)


@given(st.floats(-1e3, 0.0), st.floats(0.0, 1e3), st.floats(0.0, 1.0))
def test_activation_round_trip_error_at_most_half_a_step(lo, hi, t):
    qp = activation_qparams(lo, hi)
    x = np.float32(lo + t * (hi - lo))
    error = abs(float(dequantize(quantize_activation(x, qp), qp.scale, qp.zero_point)) - float(x))
    assert error <= qp.scale * 0.5 + 1e-6 * max(abs(lo), abs(hi), 1.0)
    assert dequantize(quantize_activation(np.float32(0.0), qp), qp.scale, qp.zero_point) == 0.0  # 0 is exact


@given(st.lists(st.floats(-100, 100, width=32), min_size=1, max_size=50))
def test_weights_within_range_and_half_step(values):
    w = np.array(values, np.float32)
    scale = symmetric_scales(w, None)
    q = quantize_weights(w, scale, None)
    assert q.min() >= -127 and q.max() <= 127
    assert np.all(np.abs(q.astype(np.float64) * float(scale) - w) <= float(scale) * 0.5 + 1e-9)
