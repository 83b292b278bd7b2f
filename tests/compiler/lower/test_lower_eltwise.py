"""Elementwise lowerings (add, mul, mean, lut) vs nux.golden.kernels, with broadcasting, in order and decoupled."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower import Unsupported
from nux.compiler.lower.eltwise import add, lut, lut_table, mean, mul, rescale
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier

SHAPES = [((1, 5, 3, 4), (1, 5, 3, 4)), ((2, 11, 3, 2), (1, 11, 1, 1)), ((3, 7), (1,)), ((1, 3, 5, 5), (1, 1, 1, 1)),
          ((4, 19), (19,))]


def _operands(em, rng, shape_a, shape_b, dtype_a="int8", dtype_b="uint8"):
    a = em.activation(shape_a, dtype_a, 0.04, -3 if dtype_a == "int8" else 130)
    b = em.activation(shape_b, dtype_b, 0.07, 121 if dtype_b == "uint8" else 2)
    av = rng.integers(*((-128, 128) if dtype_a == "int8" else (0, 256)), size=shape_a).astype(dtype_a)
    bv = rng.integers(*((-128, 128) if dtype_b == "int8" else (0, 256)), size=shape_b).astype(dtype_b)
    return a, b, av, bv


@pytest.mark.parametrize(("shape_a", "shape_b"), SHAPES)
def test_add_broadcasting(shape_a, shape_b):
    rng = np.random.default_rng(len(shape_a) + sum(shape_b))
    em = emitter(dim=4, sp_rows=64)
    a, b, av, bv = _operands(em, rng, shape_a, shape_b)
    y = em.activation(shape_a, "int8", 0.09, 4)
    add(em, b, a, y, clamp=(0, 127))  # operands given the other way round: the lowering swaps them
    (got,) = run(em, {a: av, b: bv}, [y])
    expected = kernels.qadd(av, bv, a_zp=a.zero_point, a_scale=a.scale, b_zp=b.zero_point, b_scale=b.scale,
                            out_zp=4, out_scale=0.09, lo=0)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("shape_a", "shape_b"), SHAPES[:4])
def test_mul_broadcasting(shape_a, shape_b):
    rng = np.random.default_rng(sum(shape_a))
    em = emitter(dim=8, sp_rows=64)
    a, b, av, bv = _operands(em, rng, shape_a, shape_b, "uint8", "int8")
    y = em.activation(shape_a, "uint8", 0.2, 100)
    mul(em, a, b, y)
    (got,) = run(em, {a: av, b: bv}, [y])
    expected = kernels.qmul(av, bv, a_zp=a.zero_point, a_scale=a.scale, b_zp=b.zero_point, b_scale=b.scale,
                            out_zp=100, out_scale=0.2, out_signed=False)
    np.testing.assert_array_equal(got, expected)


def test_mean_of_two_and_unsupported_broadcast():
    rng = np.random.default_rng(3)
    em = emitter(dim=4, sp_rows=64)
    a, b, av, bv = _operands(em, rng, (2, 9), (2, 9))
    y = em.activation((2, 9), "int8", 0.05, 0)
    mean(em, [a, b], y)
    (got,) = run(em, {a: av, b: bv}, [y])
    expected = kernels.qadd(av, bv, a_zp=a.zero_point, a_scale=a.scale, b_zp=b.zero_point, b_scale=b.scale,
                            out_zp=0, out_scale=0.1)
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(Unsupported, match="broadcasting"):
        add(em, em.activation((2, 3, 4)), em.activation((3, 1)), em.activation((2, 3, 4)))


def test_lut_sigmoid():
    rng = np.random.default_rng(4)
    em = emitter(dim=8, sp_rows=64)
    x = em.activation((1, 6, 7, 5), "int8", 0.05, 10)
    y = em.activation((1, 6, 7, 5), "uint8", 1 / 256, 0)
    table = lut_table(lambda v: 1 / (1 + np.exp(-v)), x, y)
    lut(em, x, y, table)
    xv = rng.integers(-128, 128, size=x.shape).astype(np.int8)
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, kernels.apply_lut(xv, table, out_signed=False))


def test_rescale_relu_and_signedness_change():
    rng = np.random.default_rng(5)
    em = emitter(dim=4, sp_rows=64)
    x = em.activation((2, 7, 3, 3), "int8", 0.05, -4)
    y = em.activation((2, 7, 3, 3), "uint8", 0.03, 128)
    rescale(em, x, y, clamp=(128, 250))
    xv = rng.integers(-128, 128, size=x.shape).astype(np.int8)
    (got,) = run(em, {x: xv}, [y])
    expected = kernels.requantize(xv.astype(np.int64) + 4, *quantize_multiplier(0.05 / 0.03), 128, False, 128, 250)
    np.testing.assert_array_equal(got, expected)
