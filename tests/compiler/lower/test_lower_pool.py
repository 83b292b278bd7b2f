"""Pooling lowerings vs nux.golden.kernels (max_pool2d, avg_pool2d), in order and decoupled."""

from __future__ import annotations

import numpy as np
import pytest
from api_golden import tflite_avg_pool
from lower_rig import emitter, run
from nux.compiler.lower.pool import avg_pool, global_avg_pool, max_pool
from nux.golden import kernels


def _tensors(em, rng, shape, out_hw, dtype, same_scale=True):
    lo, hi = (-128, 128) if dtype == "int8" else (0, 256)
    x = em.activation(shape, dtype, 0.05, int(rng.integers(lo // 2, hi // 2)))
    y = em.activation(shape[:2] + out_hw, dtype, 0.05 if same_scale else 0.03, x.zero_point if same_scale else 5)
    return x, y, rng.integers(lo, hi, size=shape).astype(dtype)


@pytest.mark.parametrize(("shape", "k", "s", "pads", "dtype"), [((1, 10, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1), "int8"),
                                                                ((2, 3, 8, 7), (2, 3), (1, 2), (0, 1, 1, 0), "uint8")])
def test_max_pool(shape, k, s, pads, dtype):
    rng = np.random.default_rng(sum(shape))
    em = emitter(dim=4, sp_rows=128)
    ho = (shape[2] + pads[0] + pads[2] - k[0]) // s[0] + 1
    wo = (shape[3] + pads[1] + pads[3] - k[1]) // s[1] + 1
    x, y, xv = _tensors(em, rng, shape, (ho, wo), dtype)
    max_pool(em, x, y, k, s, pads)
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, kernels.max_pool2d(xv, k, s, pads))


@pytest.mark.parametrize("include_pad", [False, True])
def test_avg_pool_pads(include_pad):
    rng = np.random.default_rng(7)
    em = emitter(dim=8, sp_rows=256)
    x, y, xv = _tensors(em, rng, (1, 12, 7, 8), (4, 4), "int8", same_scale=False)
    avg_pool(em, x, y, (3, 3), (2, 2), (1, 1, 1, 1), count_include_pad=include_pad)
    (got,) = run(em, {x: xv}, [y])
    expected = kernels.avg_pool2d(xv, (3, 3), (2, 2), (1, 1, 1, 1), x_zp=x.zero_point, in_scale=0.05,
                                  out_scale=0.03, out_zp=5, count_include_pad=include_pad)
    np.testing.assert_array_equal(got, expected)


def test_avg_pool_ceil_mode():
    """ceil_mode on 5x5 (k 2, s 2) adds a 3rd window per axis that counts only its 1 tap inside the input."""
    rng = np.random.default_rng(8)
    em = emitter(dim=4, sp_rows=128)
    x, y, xv = _tensors(em, rng, (1, 5, 5, 5), (3, 3), "uint8")
    avg_pool(em, x, y, (2, 2), (2, 2), ceil_mode=True)
    (got,) = run(em, {x: xv}, [y])
    # input and output quantized alike: TFLite's integer average (rounded division of the raw bytes)
    np.testing.assert_array_equal(got, tflite_avg_pool(xv, (2, 2), (2, 2), (0, 0, 1, 1)))


def test_global_avg_pool():
    rng = np.random.default_rng(9)
    em = emitter(dim=8, sp_rows=256)
    x, y, xv = _tensors(em, rng, (2, 19, 5, 6), (1, 1), "int8", same_scale=False)
    global_avg_pool(em, x, y)
    (got,) = run(em, {x: xv}, [y])
    expected = kernels.avg_pool2d(xv, (5, 6), 1, 0, x_zp=x.zero_point, in_scale=0.05, out_scale=0.03, out_zp=5)
    np.testing.assert_array_equal(got, expected)


def _tflite_division(sums: np.ndarray, count: int) -> np.ndarray:
    """TFLite's reference integer average: (S +- count/2) / count, the division truncating toward zero."""
    return np.sign(sums) * ((np.abs(sums) + count // 2) // count)


@pytest.mark.parametrize("counts", [range(1, 65), [99, 100, 128, 255, 256, 1000, 2047, 2048]],
                         ids=["1-64", "large"])
def test_division_multipliers_round_like_tflite_on_every_sum(counts):
    """MBQM(S, m, s) with _division_multipliers equals TFLite's rounded division for every S in +-255 x count
    (both the int8 and uint8 ranges), at every exact half included."""
    from nux.compiler.lower.pool import _division_multipliers
    from nux.golden.requant import mbqm

    counts = list(counts)
    ms, ss = _division_multipliers(counts)
    for count, m, s in zip(counts, ms, ss, strict=True):
        sums = np.arange(-255 * count, 255 * count + 1, dtype=np.int64)
        np.testing.assert_array_equal(mbqm(sums, m, s), _tflite_division(sums, count), err_msg=str(count))
