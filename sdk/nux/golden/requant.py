"""Fixed-point requantization exactly as TFLite does it (docs/isa.md section 4, "Requantization").

Every function is vectorised over NumPy arrays (scalars work too) and computes in int64, which holds every
intermediate value exactly: the largest product is INT32_MIN * INT32_MIN = 2^62. The RTL, the simulator and the
compiler's constant folding must agree with these functions bit for bit, so they follow the C++ formulas
literally (including C's truncating division and int32 wrap-around) rather than "nicer" float arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from nux.errors import NuxError

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
SHIFT_MIN = -31
SHIFT_MAX = 30


class RequantError(NuxError):
    """A requantization argument is outside the range the hardware represents (int32 values, byte bounds)."""


def _int64(name: str, value: ArrayLike, lo: int = INT32_MIN, hi: int = INT32_MAX) -> np.ndarray:
    """Convert to int64, refusing values the hardware cannot hold (silent wrap here would hide caller bugs)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        raise RequantError(f"{name} must be an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise RequantError(f"{name} has values outside [{lo}, {hi}]: min {arr.min()}, max {arr.max()}")
    return arr


def wrap32(x: np.ndarray) -> np.ndarray:
    """Reduce int64 values modulo 2^32 into the int32 range (what int32 arithmetic does in hardware)."""
    return np.asarray(x, dtype=np.int64).astype(np.int32).astype(np.int64)


def _srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values (no range check)."""
    ab = a * b
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    total = ab + nudge
    # C's `/` truncates toward zero; NumPy's `//` floors, so divide the magnitude and restore the sign.
    quotient = np.where(total >= 0, total >> 31, -((-total) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), quotient)


def _rdbpot(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT on int64 arrays, exponent in [0, 31] (no range check)."""
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _mbqm(x: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """MultiplyByQuantizedMultiplier on int64 arrays holding int32 values (no range check)."""
    s = np.clip(s, SHIFT_MIN, SHIFT_MAX)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return _rdbpot(_srdhm(wrap32(x << left), m), right)


def _requant(x: np.ndarray, m: np.ndarray, s: np.ndarray, out_zp, lo, hi) -> np.ndarray:
    """clamp(out_zp + MBQM(x, m, s), lo, hi) without range checks (the machine's hot path)."""
    return np.clip(_mbqm(x, m, s) + out_zp, lo, hi)


def srdhm(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: round(a*b / 2^31) with C truncation, saturating INT32_MIN^2."""
    return _srdhm(_int64("a", a), _int64("b", b))


def rounding_divide_by_pot(x: ArrayLike, e: ArrayLike) -> np.ndarray:
    """RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero; e in [0, 31]."""
    return _rdbpot(_int64("x", x), _int64("e", e, 0, 31))


def mbqm(x: ArrayLike, m: ArrayLike, s: ArrayLike) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier: x * m * 2^(s-31), rounded; s is clamped to [-31, 30]."""
    return _mbqm(_int64("x", x), _int64("m", m), _int64("s", s))


def requant(x: ArrayLike, m: ArrayLike, s: ArrayLike, out_zp: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> np.ndarray:
    """clamp(out_zp + MBQM(x, m, s), lo, hi) as int64; the caller stores it as an int8 or uint8 byte.

    out_zp, lo and hi are the already sign-interpreted byte values (-128..255), as REQUANT reads them.
    """
    zp, lo64, hi64 = (_int64(n, v, -128, 255) for n, v in (("out_zp", out_zp), ("lo", lo), ("hi", hi)))
    return _requant(_int64("x", x), _int64("m", m), _int64("s", s), zp, lo64, hi64)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: (m, s) with real ~= m * 2^(s - 31), m in [2^30, 2^31) (or -m), or (0, 0).

    frexp gives real = q * 2^s with 0.5 <= |q| < 1; m = round(q * 2^31) half away from zero (TfLiteRound); when
    rounding reaches +2^31 the mantissa is halved and the shift incremented; shifts below -31 flush to (0, 0).
    Values whose shift would exceed 30 are refused: MBQM clamps shifts to 30, so they would silently saturate.
    """
    if not math.isfinite(real):
        raise RequantError(f"cannot quantize a non-finite multiplier {real!r}")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    scaled = q * (1 << 31)  # exact: multiplying by a power of two
    q_fixed = int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))
    if q_fixed == 1 << 31:  # TFLite handles only the positive edge; -2^31 is a valid int32
        q_fixed //= 2
        shift += 1
    if shift < SHIFT_MIN:
        return 0, 0
    if shift > SHIFT_MAX:
        raise RequantError(f"multiplier {real!r} needs shift {shift} > {SHIFT_MAX}; the hardware cannot represent it")
    return q_fixed, shift
