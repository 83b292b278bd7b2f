"""Requantization against a straightforward pure-Python transcription of TFLite's C++ (int arithmetic only)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.golden.requant import (
    RequantError,
    mbqm,
    quantize_multiplier,
    requant,
    rounding_divide_by_pot,
    srdhm,
)

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# ------------------------------------------------------------------ reference: TFLite C++ with Python ints


def c_div(a: int, b: int) -> int:
    """C/C++ integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def c_int32(v: int) -> int:
    """What a C int32 holds after an overflowing multiply (two's complement wrap)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def ref_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def ref_mbqm(x: int, m: int, shift: int) -> int:
    shift = min(max(shift, -31), 30)
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return ref_rdbpot(ref_srdhm(c_int32(x * (1 << left_shift)), m), right_shift)


def ref_requant(x: int, m: int, s: int, zp: int, lo: int, hi: int) -> int:
    return min(max(zp + ref_mbqm(x, m, s), lo), hi)


# ------------------------------------------------------------------ strategies biased toward the edges

EDGES = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30, INT32_MAX - 1, INT32_MAX]
int32s = st.one_of(st.sampled_from(EDGES), st.integers(INT32_MIN, INT32_MAX), st.integers(-1000, 1000))
shifts = st.integers(-40, 40)  # beyond the clamp range on purpose
byte_values = st.one_of(st.sampled_from([-128, -127, -1, 0, 1, 127, 128, 254, 255]), st.integers(-128, 255))
pairs = st.lists(st.tuples(int32s, int32s), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_srdhm_matches_reference(values):
    a, b = zip(*values, strict=True)
    expected = [ref_srdhm(x, y) for x, y in values]
    assert srdhm(np.array(a), np.array(b)).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(int32s, st.integers(0, 31)), min_size=1, max_size=40))
def test_rdbpot_matches_reference(values):
    x, e = zip(*values, strict=True)
    assert rounding_divide_by_pot(np.array(x), np.array(e)).tolist() == [ref_rdbpot(v, k) for v, k in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(int32s, int32s, shifts), min_size=1, max_size=40))
def test_mbqm_matches_reference(values):
    x, m, s = (np.array(c) for c in zip(*values, strict=True))
    assert mbqm(x, m, s).tolist() == [ref_mbqm(*v) for v in values]


@settings(max_examples=300, deadline=None)
@given(int32s, int32s, shifts, byte_values, byte_values, byte_values)
def test_requant_matches_reference(x, m, s, zp, lo, hi):
    assert int(requant(x, m, s, zp, lo, hi)) == ref_requant(x, m, s, zp, lo, hi)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(1 << 20), 1 << 20), st.integers(1 << 30, INT32_MAX), st.integers(-31, 0))
def test_mbqm_is_within_one_of_the_exact_product(x, m, s):
    """Sanity check independent of the formulas: without left shift the result is the rounded real product."""
    exact = Fraction(x * m, 1 << (31 - s))
    assert abs(int(mbqm(x, m, s)) - exact) <= 1


def test_hand_computed_edges():
    assert int(srdhm(INT32_MIN, INT32_MIN)) == INT32_MAX  # the one saturating case
    assert int(srdhm(1 << 30, 1 << 30)) == 1 << 29
    assert int(srdhm(-1, 1 << 30)) == 0  # (-2^30 + 1 - 2^30) / 2^31 truncates to 0
    assert int(srdhm(-3, 1 << 30)) == -1  # (-2^32 + 1) / 2^31 = -1.99.. truncates to -1
    assert int(srdhm(INT32_MIN, INT32_MAX)) == -INT32_MAX
    # Ties round away from zero, for negative values too.
    rounded = rounding_divide_by_pot([3, -3, 5, -5, -6, 6, -1], [1, 1, 1, 1, 2, 2, 1])
    assert rounded.tolist() == [2, -2, 3, -3, -2, 2, -1]
    assert int(rounding_divide_by_pot(INT32_MIN, 31)) == -1
    # Shift clamping: 40 acts as 30 and -40 as -31.
    assert int(mbqm(1, 1 << 30, 40)) == int(mbqm(1, 1 << 30, 30)) == 1 << 29
    assert int(mbqm(INT32_MAX, INT32_MAX, -40)) == int(mbqm(INT32_MAX, INT32_MAX, -31)) == 1
    # The left shift wraps like an int32 multiply: 3 << 30 = 0xC0000000 = -2^30.
    assert int(mbqm(3, 1 << 30, 30)) == int(srdhm(-(1 << 30), 1 << 30))
    # Multipliers 0 and negative.
    assert int(mbqm(12345, 0, 5)) == 0
    assert int(mbqm(100, -(1 << 30), 0)) == -50
    assert requant([1000, -1000], 1 << 30, 0, -128, -128, 127).tolist() == [127, -128]
    assert requant([1000, -1000], 1 << 30, 0, 255, 0, 255).tolist() == [255, 0]


def test_quantize_multiplier_approximates_and_handles_edges():
    for real in [1e-9, 0.0001234, 0.25, 0.5, 0.75, 0.999, 1.0, 1.5, 3.7, 1000.0, -0.3]:
        m, s = quantize_multiplier(real)
        assert (1 << 30) <= abs(m) < (1 << 31) or m == -(1 << 31)
        assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2.0**-30)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1 - 2.0**-40) == (1 << 30, 1)  # rounds up to 2^31: halved, shift + 1
    assert quantize_multiplier(2.0**-40) == (0, 0)  # shift below -31 flushes to zero
    assert quantize_multiplier(3 * 2.0**-33) == (3 << 29, -31)
    with pytest.raises(RequantError, match="shift"):
        quantize_multiplier(2.0**31)
    with pytest.raises(RequantError, match="non-finite"):
        quantize_multiplier(float("nan"))


def test_bad_arguments_are_refused():
    with pytest.raises(RequantError, match="x has values outside"):
        mbqm(1 << 31, 1, 0)
    with pytest.raises(RequantError, match="integer array"):
        mbqm(np.array([1.5]), 1, 0)
    with pytest.raises(RequantError, match="out_zp"):
        requant(0, 1, 0, 256, 0, 255)
    with pytest.raises(RequantError, match="e has values"):
        rounding_divide_by_pot(1, 32)
