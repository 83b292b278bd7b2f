"""Data movers (strided DMA) vs NumPy on the logical tensors, in order and decoupled."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower.movers import concat, copy, depth_to_space, expand, pad, slice_, split, transpose


def _rand(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


@pytest.mark.parametrize(("shapes", "axis"), [([(1, 3, 4, 5), (1, 13, 4, 5)], 1), ([(2, 3, 2, 5), (2, 3, 4, 5)], 2),
                                              ([(3, 7), (3, 2)], 1), ([(2, 9), (1, 9)], 0)])
def test_concat_and_split(shapes, axis):
    rng = np.random.default_rng(len(shapes) + axis)
    em = emitter(dim=4, sp_rows=32)  # small SP: many bands
    xs = [em.activation(s) for s in shapes]
    vals = [_rand(rng, s) for s in shapes]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    y = em.activation(tuple(out_shape))
    concat(em, xs, y, axis)
    parts = [em.activation(s) for s in shapes]
    split(em, y, parts, axis)
    got = run(em, dict(zip(xs, vals, strict=True)), [y, *parts])
    np.testing.assert_array_equal(got[0], np.concatenate(vals, axis=axis))
    for g, v in zip(got[1:], vals, strict=True):
        np.testing.assert_array_equal(g, v)


@pytest.mark.parametrize(("shape", "perm"), [((1, 6, 3, 5), (0, 2, 3, 1)), ((4, 5, 6), (2, 0, 1)), ((7, 9), (1, 0)),
                                             ((1, 5, 4, 3), (0, 1, 3, 2))])
def test_transpose(shape, perm):
    rng = np.random.default_rng(sum(shape))
    em = emitter(dim=4, sp_rows=64)
    x = em.activation(shape)
    y = em.activation(tuple(shape[p] for p in perm))
    transpose(em, x, y, perm)
    xv = _rand(rng, shape)
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, xv.transpose(perm))


def test_slice_pad_expand_copy():
    rng = np.random.default_rng(5)
    em = emitter(dim=8, sp_rows=64)
    x = em.activation((1, 10, 7, 9), "int8", 0.1, -7)
    xv = _rand(rng, x.shape)
    s = em.activation((1, 4, 3, 5))
    slice_(em, x, s, (0, 1, 2, 0), (1, 2, 1, 2))
    p = em.activation((1, 10, 9, 12), "int8", 0.1, -7)
    pad(em, x, p, (0, 0, 1, 2))
    flat = em.activation((1, 630))
    copy(em, x, flat)
    back = em.activation((1, 10, 7, 9))
    copy(em, flat, back)
    e_in = em.activation((1, 10, 1, 1))
    e = em.activation((2, 10, 3, 4))
    expand(em, e_in, e)
    ev = _rand(rng, e_in.shape)
    got = run(em, {x: xv, e_in: ev}, [s, p, flat, back, e])
    np.testing.assert_array_equal(got[0], xv[:, 1:9:2, 2:5, 0:9:2])
    np.testing.assert_array_equal(got[1], np.pad(xv, ((0, 0), (0, 0), (1, 1), (2, 1)), constant_values=-7))
    np.testing.assert_array_equal(got[2], xv.reshape(1, 630))
    np.testing.assert_array_equal(got[3], xv)
    np.testing.assert_array_equal(got[4], np.broadcast_to(ev, e.shape))
    other = em.activation((1, 70, 9, 1))  # 4-D -> 4-D: through a row-major scratch
    copy(em, x, other)
    (got_other,) = run(em, {x: xv}, [other])
    np.testing.assert_array_equal(got_other, xv.reshape(other.shape))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    rng = np.random.default_rng(6)
    em = emitter(dim=4, sp_rows=64)
    b, n, c, h, w = 2, 1, 12, 3, 2
    x = em.activation((n, c, h, w))
    y = em.activation((n, c // 4, h * b, w * b))
    depth_to_space(em, x, y, b, mode)
    xv = _rand(rng, x.shape)
    (got,) = run(em, {x: xv}, [y])
    if mode == "DCR":
        ref = xv.reshape(n, b, b, c // 4, h, w).transpose(0, 3, 4, 1, 5, 2).reshape(y.shape)
    else:
        ref = xv.reshape(n, c // 4, b, b, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(y.shape)
    np.testing.assert_array_equal(got, ref)
