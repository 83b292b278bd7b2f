"""Reference kernels: conv against naive loops and onnxruntime's QLinearConv, elementwise ops against hand values
and against the machine's VECTOR instruction."""

from __future__ import annotations

import itertools
import math

import numpy as np
import onnx
import pytest
from nux.golden.kernels import (
    KernelError,
    add_params,
    apply_lut,
    avg_pool2d,
    conv2d,
    conv2d_acc,
    conv_transpose,
    conv_transpose_acc,
    gemm,
    make_lut,
    matmul_acc,
    max_pool2d,
    qadd,
    qmul,
)
from nux.golden.requant import quantize_multiplier, requant
from nux.isa import Instr, VectorOp
from nux.reference import run_onnx
from onnx import TensorProto, helper, numpy_helper


def naive_conv_acc(x, w, bias, x_zp, w_zp, stride, pads, dilation, groups):
    """Six nested loops over NCHW, nothing clever."""
    n, cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    top, left, bottom, right = pads
    ho = (h + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, cout, ho, wo), dtype=np.int64)
    og = cout // groups
    for b, co, oy, ox in itertools.product(range(n), range(cout), range(ho), range(wo)):
        g = co // og
        total = int(bias[co])
        zw = int(w_zp[co]) if np.ndim(w_zp) else int(w_zp)
        for ci, ky, kx in itertools.product(range(cin_g), range(kh), range(kw)):
            iy = oy * stride[0] + ky * dilation[0] - top
            ix = ox * stride[1] + kx * dilation[1] - left
            if 0 <= iy < h and 0 <= ix < wd:
                total += (int(x[b, g * cin_g + ci, iy, ix]) - x_zp) * (int(w[co, ci, ky, kx]) - zw)
        out[b, co, oy, ox] = total
    return out


CONV_CASES = [
    # x dtype, w dtype, cin, cout, groups, stride, pads, dilation, x_zp, w_zp
    (np.int8, np.int8, 3, 4, 1, (1, 1), (1, 1, 1, 1), (1, 1), -5, 0),
    (np.uint8, np.int8, 4, 6, 2, (2, 1), (0, 2, 1, 0), (2, 1), 128, [1, -2, 0, 3, -1, 2]),
    (np.uint8, np.uint8, 4, 4, 4, (1, 2), (1, 1, 1, 1), (1, 1), 7, 120),  # depthwise, uint8 weights
    (np.int8, np.int8, 4, 8, 4, (1, 1), (0, 0, 0, 0), (1, 1), 0, 0),  # depthwise multiplier 2
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_acc_matches_naive_loops(case):
    x_dtype, w_dtype, cin, cout, groups, stride, pads, dilation, x_zp, w_zp = case
    rng = np.random.default_rng(cin * 100 + cout)
    info_x, info_w = np.iinfo(x_dtype), np.iinfo(w_dtype)
    x = rng.integers(info_x.min, info_x.max, size=(2, cin, 6, 7), endpoint=True).astype(x_dtype)
    w = rng.integers(info_w.min, info_w.max, size=(cout, cin // groups, 3, 2), endpoint=True).astype(w_dtype)
    bias = rng.integers(-5000, 5000, size=cout)
    expected = naive_conv_acc(x, w, bias, x_zp, np.array(w_zp), stride, pads, dilation, groups)
    got = conv2d_acc(x, w, bias, x_zp=x_zp, w_zp=w_zp, stride=stride, padding=pads, dilation=dilation, groups=groups)
    np.testing.assert_array_equal(got, expected)
    nhwc = conv2d_acc(x.transpose(0, 2, 3, 1), w, bias, x_zp=x_zp, w_zp=w_zp, stride=stride, padding=pads,
                      dilation=dilation, groups=groups, layout="NHWC")
    np.testing.assert_array_equal(nhwc, expected.transpose(0, 2, 3, 1))
    # Per-channel requant of the same accumulators.
    m = rng.integers(1 << 30, (1 << 31) - 1, size=cout)
    s = rng.integers(-12, -6, size=cout)
    out = conv2d(x, w, bias, m, s, x_zp=x_zp, w_zp=w_zp, out_zp=-3, stride=stride, padding=pads, dilation=dilation,
                 groups=groups)
    ref = requant(expected, m.reshape(1, -1, 1, 1), s.reshape(1, -1, 1, 1), -3, -128, 127)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, ref)


def naive_conv_transpose_acc(x, w, bias, x_zp, w_zp, stride, pads, out_pad, dilation, groups):
    """Loops over every input pixel and kernel tap, scattering into the output (ONNX ConvTranspose)."""
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    ho = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 - pads[0] - pads[2] + out_pad[0]
    wo = (wd - 1) * stride[1] + dilation[1] * (kw - 1) + 1 - pads[1] - pads[3] + out_pad[1]
    out = np.zeros((n, og * groups, ho, wo), dtype=np.int64) + np.asarray(bias).reshape(1, -1, 1, 1)
    for b, ci, iy, ix, o, ky, kx in itertools.product(range(n), range(cin), range(h), range(wd), range(og),
                                                      range(kh), range(kw)):
        co = ci // cg * og + o
        oy = iy * stride[0] - pads[0] + ky * dilation[0]
        ox = ix * stride[1] - pads[1] + kx * dilation[1]
        if 0 <= oy < ho and 0 <= ox < wo:
            zw = int(w_zp[co]) if np.ndim(w_zp) else int(w_zp)
            out[b, co, oy, ox] += (int(x[b, ci, iy, ix]) - x_zp) * (int(w[ci, o, ky, kx]) - zw)
    return out


@pytest.mark.parametrize(("groups", "stride", "pads", "out_pad", "dilation", "w_zp"), [
    (1, (2, 2), (1, 1, 1, 1), (1, 1), (1, 1), 0),
    (2, (3, 1), (0, 2, 3, 0), (2, 0), (1, 2), [1, -2, 0, 3, -1, 2]),
    (4, (1, 2), (0, 0, 0, 0), (0, 1), (2, 1), 5),
])
def test_conv_transpose_matches_naive_loops(groups, stride, pads, out_pad, dilation, w_zp):
    rng = np.random.default_rng(groups)
    x = rng.integers(-128, 128, size=(2, 4, 4, 5)).astype(np.int8)
    w = rng.integers(-128, 128, size=(4, 6 // groups if groups < 4 else 1, 3, 2)).astype(np.int8)
    cout = w.shape[1] * groups
    w_zp = w_zp if np.ndim(w_zp) == 0 else np.array(w_zp[:cout])
    bias = rng.integers(-5000, 5000, size=cout)
    expected = naive_conv_transpose_acc(x, w, bias, -7, w_zp, stride, pads, out_pad, dilation, groups)
    got = conv_transpose_acc(x, w, bias, x_zp=-7, w_zp=w_zp, stride=stride, padding=pads, output_padding=out_pad,
                             dilation=dilation, groups=groups)
    np.testing.assert_array_equal(got, expected)
    m, s = rng.integers(1 << 30, (1 << 31) - 1, size=cout), rng.integers(-14, -8, size=cout)
    out = conv_transpose(x, w, bias, m, s, x_zp=-7, w_zp=w_zp, out_zp=4, stride=stride, padding=pads,
                         output_padding=out_pad, dilation=dilation, groups=groups)
    ref = requant(expected, m.reshape(1, -1, 1, 1), s.reshape(1, -1, 1, 1), 4, -128, 127)
    np.testing.assert_array_equal(out, ref)
    assert len(np.unique(out)) > 3


def _qlinearconv_model(x_shape, y_shape, w, bias, x_scale, x_zp, w_scales, y_scale, y_zp, group, strides, pads,
                       dilations):
    inits = [
        numpy_helper.from_array(np.array(x_scale, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(x_zp, dtype=np.uint8), "x_zp"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array(w_scales, dtype=np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(len(w_scales), dtype=np.int8), "w_zp"),
        numpy_helper.from_array(np.array(y_scale, dtype=np.float32), "y_scale"),
        numpy_helper.from_array(np.array(y_zp, dtype=np.uint8), "y_zp"),
        numpy_helper.from_array(bias.astype(np.int32), "bias"),
    ]
    node = helper.make_node(
        "QLinearConv", ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"], ["y"],
        group=group, strides=list(strides), pads=list(pads), dilations=list(dilations), kernel_shape=list(w.shape[2:]),
    )
    graph = helper.make_graph([node], "qconv", [helper.make_tensor_value_info("x", TensorProto.UINT8, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, y_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def test_conv_matches_onnxruntime_qlinearconv():
    """Exact equality needs an exact multiplier: ORT requantizes in float (round half to even), TFLite in fixed
    point (ties away from zero), so the per-channel multipliers here are 1 and 2."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 9, size=(1, 4, 7, 8), dtype=np.uint8)
    w = rng.integers(-2, 3, size=(4, 2, 3, 3)).astype(np.int8)
    bias = rng.integers(-40, 40, size=4)
    w_scales = [0.25, 0.5, 0.25, 0.5]
    params = dict(group=2, strides=(2, 1), pads=(1, 0, 1, 2), dilations=(1, 2))
    ms = [quantize_multiplier(0.5 * ws / 0.125) for ws in w_scales]
    got = conv2d(x, w, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=3, out_zp=128, out_signed=False,
                 stride=params["strides"], padding=params["pads"], dilation=params["dilations"], groups=2)
    model = _qlinearconv_model(x.shape, got.shape, w, bias, 0.5, 3, w_scales, 0.125, 128, **params)
    (expected,) = run_onnx(model, {"x": x}).values()
    assert got.dtype == np.uint8 and 0 < np.count_nonzero((got > 0) & (got < 255))  # not all saturated
    np.testing.assert_array_equal(got, expected)


def test_gemm_and_matmul():
    a = np.array([[1, 2], [-3, 4]], dtype=np.int8)
    b = np.array([[10, 20, 30], [40, 50, 60]], dtype=np.uint8)
    acc = matmul_acc(a, b, bias=[1, 2, 3], a_zp=1, b_zp=[10, 20, 30])
    # (a - 1) = [[0, 1], [-4, 3]]; (b - zp) = [[0, 0, 0], [30, 30, 30]]
    assert acc.tolist() == [[31, 32, 33], [91, 92, 93]]
    out = gemm(a, b, [1, 2, 3], 1 << 30, [0, 0, -1], a_zp=1, b_zp=[10, 20, 30], out_zp=5)
    # x0.5, x0.5, x0.25, + 5; TFLite rounds twice: 33 * 0.5 -> 17 (SRDHM), 17 / 2 -> 9 (RDBPOT), not 8.25 -> 8.
    assert out.tolist() == [[21, 21, 14], [51, 51, 29]]
    with pytest.raises(KernelError, match="chain"):
        matmul_acc(a, b.T)


def test_pooling():
    x = np.arange(16, dtype=np.int8).reshape(1, 1, 4, 4) - 8
    assert max_pool2d(x, 2, 2).tolist() == [[[[-3, -1], [5, 7]]]]
    assert max_pool2d(x, 3, 1, 1)[0, 0, 0].tolist() == [-3, -2, -1, -1]  # padding never wins
    # Averages of [-8,-7,-4,-3] etc. = -5.5, -3.5, 2.5, 4.5 -> ties away from zero through the fixed point path.
    assert avg_pool2d(x, 2, 2).tolist() == [[[[-6, -4], [3, 5]]]]
    # Corner window with padding: only the 4 real taps count -> (-8 -7 -4 -3) / 4.
    assert avg_pool2d(x, 3, 2, 1)[0, 0, 0, 0] == -6
    # -22 / 9 = -2.44, but the fixed point rounds twice: -22 * (8/9) -> -20 (SRDHM), -20 / 8 = -2.5 -> -3.
    assert avg_pool2d(x, 3, 2, 1, count_include_pad=True)[0, 0, 0, 0] == -3


def test_qadd_qmul_hand_values():
    a = np.array([10, -20, 127], dtype=np.int8)
    b = np.array([4, 4, -128], dtype=np.int8)
    # Equal scales, output scale 2x: (a + b) / 2, ties away from zero (-0.5 -> -1).
    assert qadd(a, b, a_zp=0, a_scale=0.1, b_zp=0, b_scale=0.1, out_zp=0, out_scale=0.2).tolist() == [7, -8, -1]
    # Broadcast b and zero points: a * (b - 2) * 0.5
    out = qmul(a, np.int8(6), a_zp=0, a_scale=0.5, b_zp=2, b_scale=0.25, out_zp=1, out_scale=0.25)
    assert out.tolist() == [21, -39, 127]


def test_vector_add_on_machine_matches_qadd(rig):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(8, 4), dtype=np.uint8)
    b = rng.integers(0, 256, size=(8, 4), dtype=np.uint8)
    scales = dict(a_scale=0.07, b_scale=0.031, out_scale=0.09)
    (ma, sa), (mb, sb), (mo, so) = add_params(**scales)
    rig.machine.sp[0:8], rig.machine.sp[8:16] = a, b
    for row, value in enumerate((mo, so, ma, sa, mb, sb)):
        rig.machine.acc[row] = value
    rig.run([Instr("vector", vop=VectorOp.ADD, add_shift=20, a_zp=100, b_zp=17, out_zp=120, clamp_lo=0,
                   clamp_hi=255, b_base=8, x_size=8, a_xstride=1, b_xstride=1, out_base=16), Instr("end")])
    expected = qadd(a, b, a_zp=100, b_zp=17, out_zp=120, out_signed=False, **scales)
    np.testing.assert_array_equal(rig.machine.sp[16:24], expected)


def test_lut_sigmoid_and_machine_lookup(rig):
    lut = make_lut(lambda v: 1 / (1 + np.exp(-v)), 0.1, 0, 1 / 256, -128, signed=True)
    x = np.array([-128, -1, 0, 1, 127], dtype=np.int8)
    y = apply_lut(x, lut)
    sig = 1 / (1 + np.exp(-0.1 * x.astype(float)))
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, np.clip(np.rint(sig * 256) - 128, -128, 127))
    assert y[2] == 0  # sigmoid(0) = 0.5 -> 128 - 128
    softplus = make_lut(lambda v: np.log1p(np.exp(v)), 0.05, 10, 0.02, 0, signed=False)
    assert softplus[10] == round(math.log(2) / 0.02)
    rig.put(0x100, lut)
    rig.machine.sp[0] = np.array([-128, -1, 0, 127], dtype=np.int8).view(np.uint8)
    rig.run([Instr("load", dst=2, dram_offset=0x100, x_size=64, x_stride=4),
             Instr("vector", vop=VectorOp.LUT, out_base=1), Instr("end")])
    assert rig.machine.sp[1].view(np.int8).tolist() == apply_lut(rig.machine.sp[0].view(np.int8), lut).tolist()
    with pytest.raises(KernelError, match="NaN"):
        make_lut(lambda v: np.sqrt(v), 1.0, 0, 1.0, 0, signed=True)


def test_pool_on_machine_matches_max_pool_kernel(rig):
    """A 5x5 single-image max pool (3x3, stride 2, channels on lanes) as one POOL instruction."""
    rng = np.random.default_rng(4)
    image = rng.integers(-128, 128, size=(1, 4, 5, 5)).astype(np.int8)  # NCHW, C = dim
    rig.machine.sp[0:25] = image[0].transpose(1, 2, 0).reshape(25, 4).view(np.uint8)  # row y*5 + x, lanes = C
    rig.machine.acc[4], rig.machine.acc[5] = 1 << 30, 1  # identity requant
    rig.run([Instr("pool", pop=0, a_signed=1, out_signed=1, clamp_lo=0x80, param_row=4, out_base=32, x_size=2,
                   y_size=2, a_xstride=2, a_ystride=10, win_x=3, win_y=3, win_xstride=1, win_ystride=5),
             Instr("end")])
    expected = max_pool2d(image, 3, 2)[0].transpose(1, 2, 0).reshape(4, 4)
    np.testing.assert_array_equal(rig.machine.sp[32:36].view(np.int8), expected)
