"""conv_transpose lowering: equals nux.golden.kernels.conv_transpose (a direct scatter) exactly, race-free."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower import LoweringError
from nux.compiler.lower.conv_transpose import conv_transpose
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier


def case(rng, *, n=1, c=4, h=4, w=5, og=3, k=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1), out_pad=(0, 0),
         dil=(1, 1), groups=1, dtype="int8", w_zp=0, clamp=None, bias=True, dim=8, per_phase=True):
    em = emitter(dim)
    lo_x, hi_x = (-128, 128) if dtype == "int8" else (0, 256)
    x_zp = int(rng.integers(lo_x, hi_x))
    xv = rng.integers(lo_x, hi_x, size=(n, c, h, w)).astype(dtype)
    wv = rng.integers(-128, 128, size=(c, og, *k)).astype(np.int8)
    o = og * groups
    w_scale = rng.uniform(0.002, 0.02, size=o)
    bv = rng.integers(-5000, 5000, size=o) if bias else None
    ho = (h - 1) * stride[0] + dil[0] * (k[0] - 1) + 1 - pads[0] - pads[2] + out_pad[0]
    wo = (w - 1) * stride[1] + dil[1] * (k[1] - 1) + 1 - pads[1] - pads[3] + out_pad[1]
    y_zp = int(rng.integers(-20, 20)) + (128 if dtype == "uint8" else 0)
    x = em.activation((n, c, h, w), dtype, 0.05, x_zp)
    y = em.activation((n, o, ho, wo), dtype, 0.4, y_zp)
    cost = conv_transpose(em, x, y, wv, w_scale, w_zp, bv, stride, pads[:2], dil, groups, clamp, per_phase)
    (got,) = run(em, {x: xv}, [y])
    ms = [quantize_multiplier(0.05 * sc / 0.4) for sc in w_scale]
    lo, hi = y.qrange if clamp is None else clamp
    expected = kernels.conv_transpose(xv, wv, bv, [p[0] for p in ms], [p[1] for p in ms], x_zp=x_zp, w_zp=w_zp,
                                      out_zp=y_zp, out_signed=dtype == "int8", lo=lo, hi=hi, stride=stride,
                                      padding=pads, output_padding=out_pad, dilation=dil, groups=groups)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(expected)) > 3  # a non-degenerate result
    return cost


def test_stride2_3x3_pad1_int8_per_phase():
    cost = case(np.random.default_rng(1))
    assert cost.macs == 4 * 4 * 5 * 3 * 9 and sum("interleaved" in note for note in cost.notes) == 4


def test_stride1_is_one_flipped_conv_into_y():
    cost = case(np.random.default_rng(4), stride=(1, 1), pads=(0, 2, 1, 0), k=(2, 3))
    assert not any("interleaved" in note or "zero-inserted" in note for note in cost.notes)


def test_zero_inserted_form_on_request():
    cost = case(np.random.default_rng(1), per_phase=False, out_pad=(1, 0))
    assert "zero-inserted" in cost.notes[0] and cost.macs == 4 * 4 * 5 * 3 * 9


@pytest.mark.parametrize(("k", "dil", "pads"), [((3, 3), (2, 2), (1, 1, 1, 1)), ((1, 1), (1, 1), (0, 0, 0, 0)),
                                                 ((3, 3), (1, 1), (3, 0, 4, 1))],
                         ids=["dilated", "kernel_below_stride", "pads_beyond_reach"])
def test_zero_inserted_form_where_phases_do_not_apply(k, dil, pads):
    cost = case(np.random.default_rng(2), k=k, dil=dil, pads=pads, h=5)
    assert "zero-inserted" in cost.notes[0] and not any("interleaved" in note for note in cost.notes)


@pytest.mark.parametrize(("k", "stride", "pads", "out_pad", "dil", "groups", "dtype"), [
    ((2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), 1, "int8"),  # the U-Net upsampler
    ((4, 4), (2, 2), (1, 1, 1, 1), (0, 0), (1, 1), 1, "uint8"),  # DCGAN
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), (1, 1), 1, "int8"),  # output_padding
    ((3, 2), (3, 1), (0, 1, 2, 0), (2, 0), (1, 1), 1, "uint8"),  # asymmetric everything
    ((3, 3), (1, 1), (1, 1, 1, 1), (0, 0), (2, 2), 1, "int8"),  # dilation
    ((2, 3), (1, 2), (0, 1, 0, 1), (1, 2), (2, 3), 1, "int8"),  # output_padding up to the dilation
    ((3, 3), (2, 2), (3, 0, 4, 1), (1, 0), (1, 1), 1, "int8"),  # pads beyond the kernel reach crop inputs
    ((3, 3), (2, 2), (1, 1, 1, 1), (0, 0), (1, 1), 2, "int8"),  # groups
    ((2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), 4, "uint8"),  # depthwise
])
def test_attribute_sweep(k, stride, pads, out_pad, dil, groups, dtype):
    case(np.random.default_rng(sum(k) + sum(pads) + groups), c=4, og=3 if groups < 4 else 1, k=k, stride=stride,
         pads=pads, out_pad=out_pad, dil=dil, groups=groups, dtype=dtype, n=2 if groups == 2 else 1)


def test_wide_channels_clamp_no_bias_dim4():
    case(np.random.default_rng(3), c=11, og=9, h=3, w=3, clamp=(0, 90), bias=False, dim=4)


def test_inconsistent_output_shape_is_a_lowering_error():
    em = emitter()
    x, y = em.activation((1, 2, 3, 3)), em.activation((1, 2, 9, 9))
    with pytest.raises(LoweringError, match="output size 9"):
        conv_transpose(em, x, y, np.ones((2, 2, 3, 3), np.int8), 0.1, 0, None, (2, 2), (0, 0))
