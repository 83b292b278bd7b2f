"""gemm (constant B, FC) and matmul_act (activation x activation) lowerings vs the golden kernels, race-free."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower import Unsupported
from nux.compiler.lower.matmul import gemm, matmul_act
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier


@pytest.mark.parametrize(("m", "k", "n", "trans_b", "dtype"), [(1, 20, 10, True, "int8"), (37, 9, 30, False, "uint8"),
                                                              (5, 64, 3, True, "int8")])
def test_gemm_constant_b(m, k, n, trans_b, dtype):
    rng = np.random.default_rng(m * k * n)
    em = emitter(dim=4, sp_rows=128, acc_rows=64)
    lo, hi = (-128, 128) if dtype == "int8" else (0, 256)
    x = em.activation((m, k), dtype, 0.05, int(rng.integers(lo, hi)))
    y = em.activation((m, n), dtype, 0.2, int(rng.integers(lo, hi)))
    xv = rng.integers(lo, hi, size=(m, k)).astype(dtype)
    b = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    bias = rng.integers(-3000, 3000, size=n)
    scales = rng.uniform(0.005, 0.02, size=n)
    gemm(em, x, y, b.T if trans_b else b, scales, 0, bias // 4, trans_b=trans_b, alpha=0.5, beta=2.0)
    (got,) = run(em, {x: xv}, [y])
    # alpha * acc + beta * C = alpha * (acc + (beta / alpha) * C): the multiplier takes alpha, the bias 4x
    ms = [quantize_multiplier(0.5 * 0.05 * s / 0.2) for s in scales]
    expected = kernels.gemm(xv, b, bias // 4 * 4, [p[0] for p in ms], [p[1] for p in ms], a_zp=x.zero_point,
                            out_zp=y.zero_point, out_signed=dtype == "int8")
    np.testing.assert_array_equal(got, expected)


def test_matmul_act_4d_unsupported():
    em = emitter()
    a, b, y = em.activation((1, 2, 3, 4)), em.activation((1, 2, 4, 5)), em.activation((1, 2, 3, 5))
    with pytest.raises(Unsupported, match="NHWC"):
        matmul_act(em, a, b, y)


@pytest.mark.parametrize(("k", "n", "dtype"), [(37, 300, "uint8"), (8, 5, "int8")])
def test_gemv_one_row_per_tensor_scale(k, n, dtype):
    """One input row and one weight scale: B^T streams through x as the weight tile (the GEMV path)."""
    rng = np.random.default_rng(k + n)
    em = emitter(dim=8, sp_rows=256, acc_rows=128)
    x = em.activation((1, k), dtype, 0.05, 7)
    y = em.activation((1, n), "int8", 0.3, -2)
    xv = rng.integers(*((0, 256) if dtype == "uint8" else (-128, 128)), size=(1, k)).astype(dtype)
    w = rng.integers(0, 256, size=(n, k)).astype(np.uint8)
    bias = rng.integers(-20000, 20000, size=n)
    cost = gemm(em, x, y, w, 0.003, 140, bias, trans_b=True, clamp=(-2, 127))
    (got,) = run(em, {x: xv}, [y])
    m, s = quantize_multiplier(0.05 * 0.003 / 0.3)
    expected = kernels.gemm(xv, w.T, bias, m, s, a_zp=7, b_zp=140, out_zp=-2, lo=-2)
    np.testing.assert_array_equal(got, expected)
    assert "gemv" in cost.notes[-1]


def test_gemm_unsupported_beta():
    em = emitter()
    x, y = em.activation((2, 4)), em.activation((2, 3))
    with pytest.raises(Unsupported, match="beta"):
        gemm(em, x, y, np.ones((4, 3), np.int8), 0.1, 0, np.array([1, 2, 3]), beta=0.3)


@pytest.mark.parametrize(("shape_a", "n"), [((2, 7, 10), 6), ((3, 13, 5), 9)])
def test_matmul_act_batched(shape_a, n):
    rng = np.random.default_rng(n)
    em = emitter(dim=4, sp_rows=128, acc_rows=64)
    shape_b = shape_a[:-2] + (shape_a[-1], n)
    a = em.activation(shape_a, "int8", 0.05, 3)
    b = em.activation(shape_b, "uint8", 0.02, 120)
    y = em.activation(shape_a[:-1] + (n,), "int8", 0.1, -4)
    av = rng.integers(-128, 128, size=shape_a).astype(np.int8)
    bv = rng.integers(0, 256, size=shape_b).astype(np.uint8)
    matmul_act(em, a, b, y, clamp=(-4, 127))
    (got,) = run(em, {a: av, b: bv}, [y])
    m, s = quantize_multiplier(0.05 * 0.02 / 0.1)
    flat_a, flat_b = av.reshape(-1, *shape_a[-2:]), bv.reshape(-1, *shape_b[-2:])
    expected = np.stack([kernels.gemm(flat_a[i], flat_b[i], None, m, s, a_zp=3, b_zp=120, out_zp=-4, lo=-4)
                         for i in range(flat_a.shape[0])]).reshape(y.shape)
    np.testing.assert_array_equal(got, expected)
