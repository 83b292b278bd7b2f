"""nux.golden.rowops: RECIP and RSQRT multipliers (REDUCE post), scalar and vectorised, on every kind of int32,
and RSQRT bit for bit against TFLite's int8 and uint8 L2_NORMALIZATION (ai-edge-litert, reference kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from nux.golden import kernels
from nux.golden.requant import RequantError, mbqm
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier, tflite_inv_sqrt

INT32_MAX = (1 << 31) - 1
EDGES = [-(1 << 31), -5, -1, 0, 1, 2, 3, 4, 5, 255, 256, 65025, (1 << 27) - 1, 1 << 27, (1 << 29) - 1, 1 << 29,
         (1 << 29) + 1, (1 << 30) - 1, 1 << 30, INT32_MAX - 1, INT32_MAX]


def _randoms(n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(11)
    logs = rng.uniform(0, 31, n)
    return np.concatenate([np.array(EDGES), np.minimum(np.exp2(logs), INT32_MAX).astype(np.int64),
                           rng.integers(-(1 << 31), 1 << 31, n)])


def test_recip_is_the_rounded_quotient():
    for r in _randoms(1000).tolist():
        for p in (-128, -7, 0, 8, 127):
            m, s = recip_multiplier(r, p)
            if r <= 0:
                assert (m, s) == (0, 0)
                continue
            bits = r.bit_length() - 1
            assert m == (2 ** (30 + bits) + r // 2) // r and (1 << 29) <= m <= 1 << 30  # 2^29 at r = 2^31 - 1
            assert s == p + 1 - bits
            assert m != 1 << 29 or r == INT32_MAX


def test_recip_multiplier_divides():
    """MBQM(x, RECIP(r, P)) is x * 2^P / r within rounding (one unit, plus the multiplier's 2^-29 error)."""
    for r in _randoms(500).tolist():
        if r <= 0:
            continue
        for x, p in ((1 << 20, 0), (12345, 8), (-1000, 10), (1 << 24, 4)):
            m, s = recip_multiplier(r, p)
            exact = x * 2.0**p / r
            if abs(exact) < 2**30 and -31 <= s <= 30:
                assert abs(int(mbqm(x, m, s)) - exact) <= 1 + abs(exact) * 2**-28


def test_rsqrt_is_an_inverse_square_root():
    r = _randoms()
    m, t = rsqrt_multiplier(r, 0)
    small = r <= 1
    assert np.all(m[small] == INT32_MAX) and np.all(t[small] == 0)
    m, t, r = m[~small], t[~small], r[~small]
    assert np.all(t <= 0) and np.all(m > 0)
    np.testing.assert_allclose(m * np.exp2(t - 31.0), 1 / np.sqrt(r), rtol=2e-6)
    assert np.array_equal(rsqrt_multiplier(r, -9)[1], t - 9)


@pytest.mark.parametrize("fn", [recip_multiplier, rsqrt_multiplier])
def test_vectorised_equals_scalar(fn):
    r = _randoms(150)
    shifts = np.resize(np.array([-128, -3, 0, 5, 127]), r.size)
    m, s = fn(r, shifts)
    assert m.dtype == np.int64 and s.dtype == np.int64
    assert [(int(a), int(b)) for a, b in zip(m, s, strict=True)] == [fn(int(a), int(b)) for a, b in zip(r, shifts,
                                                                                                    strict=True)]
    assert isinstance(fn(5, 0)[0], int)


@pytest.mark.parametrize("fn", [recip_multiplier, rsqrt_multiplier])
@pytest.mark.parametrize("r, p, match", [(1 << 31, 0, "r has values"), (-(1 << 31) - 1, 0, "r has values"),
                                         (5, 128, "post_shift"), (5, -129, "post_shift"), (1.5, 0, "integer")])
def test_out_of_range_arguments_are_refused(fn, r, p, match):
    with pytest.raises(RequantError, match=match):
        fn(r, p)
    with pytest.raises(RequantError, match=match):
        fn(np.array([r, 1]), np.array([p, 0]))


@pytest.mark.parametrize("r", [1 << 31, np.array([1.0])])
def test_inv_sqrt_refuses_non_int32(r):
    with pytest.raises(RequantError):
        tflite_inv_sqrt(r)


# ---------------------------------------------------------------------------------------------- TFLite


def _l2norm_model(shape, dtype: str, in_scale: float, in_zp: int) -> bytes:
    from tflite_builder import TflBuilder

    m = TflBuilder()
    x = m.tensor(shape, dtype, in_scale, in_zp)
    y = m.tensor(shape, dtype, 1 / 128, 0 if dtype == "int8" else 128)
    m.op("L2_NORMALIZATION", [x], [y], "L2NormOptions", FusedActivationFunction=0)
    return m.build([x], [y])


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_l2_normalize_is_tflite_bit_for_bit(dtype):
    """Rows of every magnitude: constant rows (S = 0, 1), single spikes, full-scale noise, long rows (S > 2^29)."""
    pytest.importorskip("tflite")
    pytest.importorskip("ai_edge_litert")
    from nux.reference import run_tflite

    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    depth = 40000 if dtype == "uint8" else 9000  # 40000 * 127^2 > 2^29
    for zp in (0, -7, 100) if dtype == "int8" else (0, 128, 250):
        rows = [rng.integers(info.min, info.max + 1, depth)]
        x = np.stack(rows).astype(dtype)
        got = kernels.l2_normalize(x, x_zp=zp)
        want = run_tflite(_l2norm_model(x.shape, dtype, 0.05, zp), [x])
        assert np.array_equal(got, next(iter(want.values()))), f"zp {zp}, long rows"
        small = rng.integers(info.min, info.max + 1, (400, 17))
        small[:50] = zp  # S = 0
        small[50:100] = zp
        small[50:100, 3] = zp + 1  # S = 1
        small[100:150] = zp
        small[100:150, 0] = rng.integers(info.min, info.max + 1, 50)  # one spike
        small[150:250] = np.clip(zp + rng.integers(-3, 4, (100, 17)), info.min, info.max)
        x = small.astype(dtype)
        got = kernels.l2_normalize(x, x_zp=zp)
        want = next(iter(run_tflite(_l2norm_model(x.shape, dtype, 0.05, zp), [x]).values()))
        assert np.array_equal(got, want), f"zp {zp}: {np.argwhere(got != want)[:5].tolist()}"
