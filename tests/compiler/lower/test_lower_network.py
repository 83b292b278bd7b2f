"""Layers concatenate into one program: a small residual block run end to end, in order and decoupled."""

from __future__ import annotations

import numpy as np
from lower_rig import emitter, run
from nux.compiler.lower import ActTensor, add, concat, conv2d, gemm, global_avg_pool, lut, lut_table, max_pool
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier


def _conv_ref(xv, wv, bias, x, y, scale, pad, relu=True):
    ms = [quantize_multiplier(x.scale * scale / y.scale)] * wv.shape[0]
    return kernels.conv2d(xv, wv, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=x.zero_point,
                          out_zp=y.zero_point, lo=y.zero_point if relu else None, padding=pad)


def test_residual_block_end_to_end():
    rng = np.random.default_rng(0)
    em = emitter(dim=8, sp_rows=512, acc_rows=256)
    x = em.activation((1, 3, 12, 12), "int8", 0.05, -3)
    c1 = em.activation((1, 16, 12, 12), "int8", 0.06, -128)
    p1 = em.activation((1, 16, 6, 6), "int8", 0.06, -128)
    c2 = em.activation((1, 16, 6, 6), "int8", 0.07, -10)
    s = em.activation((1, 16, 6, 6), "int8", 0.1, 0)
    cat = em.activation((1, 32, 6, 6), "int8", 0.1, 0)
    g = em.activation((1, 32, 1, 1), "int8", 0.05, 2)
    sg = em.activation((1, 32, 1, 1), "uint8", 1 / 256, 0)
    fc = em.activation((1, 10), "int8", 0.2, 1)
    xv = rng.integers(-128, 128, x.shape, dtype=np.int8)
    w1 = rng.integers(-128, 128, (16, 3, 3, 3), dtype=np.int8)
    w2 = rng.integers(-128, 128, (16, 16, 3, 3), dtype=np.int8)
    wf = rng.integers(-128, 128, (10, 32), dtype=np.int8)
    b1, b2 = rng.integers(-3000, 3000, 16), rng.integers(-3000, 3000, 16)
    conv2d(em, x, c1, w1, 0.004, 0, b1, pads=(1, 1, 1, 1), clamp=(-128, 127))
    max_pool(em, c1, p1, (2, 2), (2, 2))
    conv2d(em, p1, c2, w2, 0.001, 0, b2, pads=(1, 1, 1, 1))
    add(em, p1, c2, s, clamp=(0, 127))
    concat(em, [s, s], cat, 1)
    global_avg_pool(em, cat, g)
    table = lut_table(lambda v: 1 / (1 + np.exp(-v)), g, sg)
    lut(em, g, sg, table)
    flat = ActTensor(sg.offset, (1, 32), "uint8", sg.scale, sg.zero_point)  # (1, 32, 1, 1) NHWC = (1, 32) bytes
    gemm(em, flat, fc, wf, 0.01, 0, None, trans_b=True)
    (got,) = run(em, {x: xv}, [fc], seeds=3)

    r1 = _conv_ref(xv, w1, b1, x, c1, 0.004, 1, relu=False)
    rp = kernels.max_pool2d(r1, 2, 2)
    r2 = _conv_ref(rp, w2, b2, p1, c2, 0.001, 1, relu=False)
    rs = kernels.qadd(rp, r2, a_zp=-128, a_scale=0.06, b_zp=-10, b_scale=0.07, out_zp=0, out_scale=0.1, lo=0)
    rc = np.concatenate([rs, rs], axis=1)
    rg = kernels.avg_pool2d(rc, 6, 1, 0, x_zp=0, in_scale=0.1, out_scale=0.05, out_zp=2)
    rsg = kernels.apply_lut(rg, table, out_signed=False)
    m, sh = quantize_multiplier(flat.scale * 0.01 / 0.2)
    rf = kernels.gemm(rsg.reshape(1, 32), wf.T, None, [m] * 10, [sh] * 10, a_zp=0, out_zp=1)
    np.testing.assert_array_equal(got, rf)
    assert len(np.unique(rs)) > 5
