"""REDUCE's post-processing (ISA 1.1): per-row multipliers of 1/r and 1/sqrt(r) for MultiplyByQuantizedMultiplier.

`recip_multiplier(r, P)` gives (m, s) with MBQM(x, m, s) ~= x * 2^P / r; `rsqrt_multiplier(r, P)` gives (m, s)
with MBQM(x, m, s) ~= x * 2^P / sqrt(r), bit for bit TFLite's GetInvSqrtQuantizedMultiplierExp (the integer
Newton-Raphson of gemmlowp fixed point, written out in docs/isa.md "REDUCE"), so L2 normalisation built on it
equals TFLite's int8 and uint8 L2_NORMALIZATION exactly. Both take Python ints (and return a pair of ints) or
NumPy integer arrays (and return a pair of int64 arrays); everything is computed in int64, where every
intermediate value fits (the largest is 2^60 in RECIP's division).

These are the hardware's definitions: the RTL's divider and Newton unit, and the compiler's constant folding, must
agree with them for every int32 r (r <= 0 included, which a wrapped SUM can produce).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nux.golden.requant import INT32_MAX, INT32_MIN, _int64, _rdbpot, _srdhm, wrap32

#: sqrt(2)/2 in Q0.31, gemmlowp's constant for the last step of the inverse square root.
HALF_SQRT2_Q31 = 1518500250
#: Newton-Raphson steps of the inverse square root (TFLite's naive starting guess x = 1 needs five).
RSQRT_STEPS = 5


def _post_shift(p: ArrayLike) -> np.ndarray:
    return _int64("post_shift", p, -128, 127)


def _result(m: np.ndarray, s: np.ndarray, scalar: bool) -> tuple:
    return (int(m), int(s)) if scalar else (m, s)


def _bit_length(r: np.ndarray) -> np.ndarray:
    """Bits of positive int64 values below 2^53 (frexp's exponent is exact there); 0 for r <= 0."""
    return np.where(r > 0, np.frexp(np.maximum(r, 1).astype(np.float64))[1], 0).astype(np.int64)


def recip_multiplier(r: ArrayLike, post_shift: ArrayLike) -> tuple:
    """RECIP(r, P): (m, s) with m = round(2^(30+p) / r) in [2^29, 2^30], p = bit_length(r) - 1, s = P + 1 - p,
    so MBQM(x, m, s) ~= x * 2^P / r; (0, 0) for r <= 0 (MBQM then gives 0). m reaches 2^29 only at r = 2^31 - 1."""
    scalar = np.ndim(r) == 0 and np.ndim(post_shift) == 0
    r64, p64 = _int64("r", r), _post_shift(post_shift)
    safe = np.maximum(r64, 1)
    p = _bit_length(safe) - 1
    m = ((np.int64(1) << (30 + p)) + safe // 2) // safe
    ok = r64 > 0
    return _result(np.where(ok, m, 0), np.where(ok, p64 + 1 - p, 0), scalar)


def _satshl(v: np.ndarray, e: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: v * 2^e clamped to int32."""
    return np.clip(v << e, INT32_MIN, INT32_MAX)


def tflite_inv_sqrt(r: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """TFLite GetInvSqrtQuantizedMultiplierExp(r, reverse_shift=-1): (m, t) with m * 2^(t-31) ~= 1/sqrt(r).

    Normalises r into [2^27, 2^29) by pairs of bits (counted in `shift`), runs five Newton steps of
    x <- 1.5 x - (r/2) x^3 in Q3.28 from x = 1, multiplies by sqrt(2)/2, and folds a negative shift into m.
    """
    r64 = _int64("r", r)
    small = r64 <= 1
    x = np.where(small, 2, r64)
    big = x >= 1 << 29
    shift = 11 + big.astype(np.int64)
    x = np.where(big, x // 4, x)  # r < 2^31, so one step brings it below 2^29
    pairs = ((32 - _bit_length(x)) - 1) // 2 - 1  # (clz32(x) - 1) // 2 - 1
    shift = shift - pairs
    x = x << (2 * pairs)
    half = _rdbpot(x >> 1, np.int64(1))
    y = np.full_like(x, 1 << 28)  # 1.0 in Q3.28
    for _ in range(RSQRT_STEPS):
        y3 = _satshl(_srdhm(_srdhm(y, y), y), 6)
        y = _satshl(wrap32(_srdhm(np.int64(3 << 27), y) - _srdhm(half, y3)), 3)
    y = _srdhm(y, np.int64(HALF_SQRT2_Q31))
    negative = shift < 0
    y = np.where(negative, wrap32(y << np.maximum(-shift, 0)), y)
    shift = np.where(negative, 0, shift)
    return np.where(small, INT32_MAX, y), np.where(small, 0, -shift)


def rsqrt_multiplier(r: ArrayLike, post_shift: ArrayLike) -> tuple:
    """RSQRT(r, P): TFLite's inverse square root multiplier (m, t) of r, returned as (m, t + P), so that
    MBQM(x, m, t + P) ~= x * 2^P / sqrt(r); (INT32_MAX, P) for r <= 1."""
    scalar = np.ndim(r) == 0 and np.ndim(post_shift) == 0
    p64 = _post_shift(post_shift)
    m, t = tflite_inv_sqrt(r)
    return _result(m, t + p64, scalar)


__all__ = ["recip_multiplier", "rsqrt_multiplier", "tflite_inv_sqrt"]
