"""Op-level reference kernels in plain NumPy, independent of the ISA: what a compiled program must compute.

Integer semantics are those of the NPU: operands enter with their zero points subtracted, accumulate exactly
(wrapped to int32 at the end, as the ACC does), and go back to 8 bits through TFLite's requantization (`requant`).
Dot products run as float64 matrix products, which are exact here (|products| < 2^17, sums far below 2^53).
Weights are ONNX layout (O, I/groups, kH, kW); activations NCHW or NHWC. The reductions at the end (softmax,
l2_normalize, reduce_l2, reduce_sum, reduce_max) follow ISA 1.1's REDUCE / LUTW / REQUANT row_scale recipe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from nux.errors import NuxError
from nux.golden.requant import _int64, mbqm, quantize_multiplier, requant, wrap32
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier

ADD_LEFT_SHIFT = 20


class KernelError(NuxError):
    """A reference kernel got inconsistent shapes, dtypes or parameters."""


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise KernelError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _pads(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from an int, (ph, pw) or ONNX's (top, left, bottom, right)."""
    pads = (padding,) * 4 if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(pads) == 2:
        pads = (pads[0], pads[1], pads[0], pads[1])
    if len(pads) != 4 or min(pads) < 0:
        raise KernelError(f"padding must be an int, (ph, pw) or (top, left, bottom, right) >= 0, got {padding!r}")
    return tuple(int(p) for p in pads)  # type: ignore[return-value]


def _ints(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype not in (np.int8, np.uint8):
        raise KernelError(f"{name} must be an int8 or uint8 array, got {arr.dtype}")
    return arr.astype(np.int64)


def _out_range(out_signed: bool) -> tuple[int, int]:
    return (-128, 127) if out_signed else (0, 255)


def to_bytes_dtype(values: np.ndarray, out_signed: bool) -> np.ndarray:
    """int64 results already clamped to the byte range, as int8 or uint8."""
    return values.astype(np.int8 if out_signed else np.uint8)


def requantize(acc: ArrayLike, m: ArrayLike, s: ArrayLike, out_zp: int, out_signed: bool,
               lo: int | None = None, hi: int | None = None, axis: int = 1) -> np.ndarray:
    """Per-channel requant of int32 accumulators along `axis` (m, s scalars or one per channel)."""
    acc = np.asarray(acc)
    shape = [1] * acc.ndim
    shape[axis] = -1
    m_b, s_b = (np.asarray(v).reshape(shape) if np.ndim(v) else v for v in (m, s))
    rng = _out_range(out_signed)
    out = requant(acc, m_b, s_b, out_zp, rng[0] if lo is None else lo, rng[1] if hi is None else hi)
    return to_bytes_dtype(out, out_signed)


# ---------------------------------------------------------------------------------------------- conv / gemm


def conv2d_acc(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None = None, *, x_zp: int = 0,
               w_zp: ArrayLike = 0, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
               dilation: int | Sequence[int] = 1, groups: int = 1, layout: str = "NCHW") -> np.ndarray:
    """int32 accumulators of a quantized convolution: sum (x - x_zp)(w - w_zp) + bias, wrapped to int32.

    Padding contributes nothing (it holds the input zero point). `w_zp` is a scalar or one per output channel.
    The result has the layout of the input.
    """
    if layout not in ("NCHW", "NHWC"):
        raise KernelError(f"layout must be NCHW or NHWC, got {layout!r}")
    xs = _ints(x, "x")
    if xs.ndim != 4:
        raise KernelError(f"x must be 4-D, got shape {xs.shape}")
    if layout == "NHWC":
        xs = xs.transpose(0, 3, 1, 2)
    ws = _ints(w, "w")
    n, cin, _, _ = xs.shape
    cout, cin_g, kh, kw = ws.shape
    if groups < 1 or cin % groups or cout % groups or cin_g != cin // groups:
        raise KernelError(f"groups={groups} does not fit x channels {cin} and w shape {ws.shape}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    top, left, bottom, right = _pads(padding)
    wz = np.asarray(w_zp, dtype=np.int64).reshape(-1, 1, 1, 1) if np.ndim(w_zp) else int(w_zp)
    xc = np.pad(xs - int(x_zp), ((0, 0), (0, 0), (top, bottom), (left, right)))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if xc.shape[2] < span_h or xc.shape[3] < span_w:
        raise KernelError(f"kernel span {span_h}x{span_w} is larger than the padded input {xc.shape[2:]}")
    win = sliding_window_view(xc, (span_h, span_w), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]  # N C Ho Wo kh kw
    ho, wo = win.shape[2:4]
    wc = (ws - wz).astype(np.float64)
    out = np.empty((n, cout, ho, wo), dtype=np.int64)
    og = cout // groups
    for g in range(groups):
        patch = win[:, g * cin_g : (g + 1) * cin_g].astype(np.float64)  # N Cg Ho Wo kh kw
        prod = np.tensordot(patch, wc[g * og : (g + 1) * og], axes=([1, 4, 5], [1, 2, 3]))  # N Ho Wo Og
        out[:, g * og : (g + 1) * og] = np.rint(prod).astype(np.int64).transpose(0, 3, 1, 2)
    if bias is not None:
        out += _int64("bias", bias).reshape(1, -1, 1, 1)
    out = wrap32(out)
    return out.transpose(0, 2, 3, 1) if layout == "NHWC" else out


def conv2d(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None, m: ArrayLike, s: ArrayLike, *, x_zp: int = 0,
           w_zp: ArrayLike = 0, out_zp: int = 0, out_signed: bool = True, lo: int | None = None,
           hi: int | None = None, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1, layout: str = "NCHW") -> np.ndarray:
    """Quantized conv2d (QLinearConv with TFLite requantization): accumulators, then per-channel requant."""
    acc = conv2d_acc(x, w, bias, x_zp=x_zp, w_zp=w_zp, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, layout=layout)
    return requantize(acc, m, s, out_zp, out_signed, lo, hi, axis=1 if layout == "NCHW" else 3)


def conv_transpose_acc(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None = None, *, x_zp: int = 0,
                       w_zp: ArrayLike = 0, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                       output_padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                       groups: int = 1) -> np.ndarray:
    """int32 accumulators of ONNX ConvTranspose (NCHW; w (C, O/groups, kH, kW); `w_zp` scalar or one per output
    channel): every input pixel times the kernel, added at (iy*sh - top + ky*dh, ix*sw - left + kx*dw)."""
    xs, ws = _ints(x, "x"), _ints(w, "w")
    if xs.ndim != 4 or ws.ndim != 4 or groups < 1 or xs.shape[1] % groups or ws.shape[0] != xs.shape[1]:
        raise KernelError(f"conv_transpose of x {xs.shape} with w {ws.shape} and groups={groups}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    top, left, bottom, right = _pads(padding)
    extra = (output_padding,) * 2 if isinstance(output_padding, (int, np.integer)) else tuple(output_padding)
    n, cin, h, wd = xs.shape
    _, og, kh, kw = ws.shape
    cg = cin // groups
    wz = np.broadcast_to(np.asarray(w_zp, dtype=np.int64).reshape(-1), (groups * og,)).reshape(groups, 1, og, 1, 1)
    wc = (ws.reshape(groups, cg, og, kh, kw) - wz).astype(np.float64)
    full = np.zeros((n, groups, og, (h - 1) * sh + dh * (kh - 1) + 1 + extra[0],
                     (wd - 1) * sw + dw * (kw - 1) + 1 + extra[1]), dtype=np.int64)
    xg = (xs - int(x_zp)).astype(np.float64).reshape(n, groups, cg, h, wd)
    for ky, kx in np.ndindex(kh, kw):
        contrib = np.rint(np.einsum("ngchw,gco->ngohw", xg, wc[..., ky, kx])).astype(np.int64)
        full[..., ky * dh : ky * dh + (h - 1) * sh + 1 : sh, kx * dw : kx * dw + (wd - 1) * sw + 1 : sw] += contrib
    out = full.reshape(n, groups * og, *full.shape[3:])[:, :, top : full.shape[3] - bottom,
                                                            left : full.shape[4] - right]
    if min(out.shape) < 1:
        raise KernelError(f"pads {padding} leave no ConvTranspose output")
    if bias is not None:
        out = out + _int64("bias", bias).reshape(1, -1, 1, 1)
    return wrap32(out)


def conv_transpose(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None, m: ArrayLike, s: ArrayLike, *,
                   x_zp: int = 0, w_zp: ArrayLike = 0, out_zp: int = 0, out_signed: bool = True,
                   lo: int | None = None, hi: int | None = None, stride: int | Sequence[int] = 1,
                   padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0,
                   dilation: int | Sequence[int] = 1, groups: int = 1) -> np.ndarray:
    """Quantized ConvTranspose (NCHW): accumulators, then per-channel requant."""
    acc = conv_transpose_acc(x, w, bias, x_zp=x_zp, w_zp=w_zp, stride=stride, padding=padding,
                             output_padding=output_padding, dilation=dilation, groups=groups)
    return requantize(acc, m, s, out_zp, out_signed, lo, hi, axis=1)


def matmul_acc(a: ArrayLike, b: ArrayLike, bias: ArrayLike | None = None, *, a_zp: int = 0,
               b_zp: ArrayLike = 0) -> np.ndarray:
    """int32 accumulators of (a - a_zp) @ (b - b_zp) + bias for 2-D a (M, K), b (K, N); b_zp per column or scalar."""
    a64, b64 = _ints(a, "a"), _ints(b, "b")
    if a64.ndim != 2 or b64.ndim != 2 or a64.shape[1] != b64.shape[0]:
        raise KernelError(f"matmul shapes {a64.shape} and {b64.shape} do not chain")
    prod = (a64 - int(a_zp)).astype(np.float64) @ (b64 - np.asarray(b_zp, dtype=np.int64)).astype(np.float64)
    out = np.rint(prod).astype(np.int64)
    if bias is not None:
        out += _int64("bias", bias)
    return wrap32(out)


def gemm(a: ArrayLike, b: ArrayLike, bias: ArrayLike | None, m: ArrayLike, s: ArrayLike, *, a_zp: int = 0,
         b_zp: ArrayLike = 0, out_zp: int = 0, out_signed: bool = True, lo: int | None = None,
         hi: int | None = None) -> np.ndarray:
    """Quantized GEMM with per-output-column requant (what a fully connected layer or a 1x1 conv does)."""
    return requantize(matmul_acc(a, b, bias, a_zp=a_zp, b_zp=b_zp), m, s, out_zp, out_signed, lo, hi, axis=1)


# ---------------------------------------------------------------------------------------------- pooling


def _pool_windows(x: np.ndarray, kernel, stride, padding, fill: int) -> np.ndarray:
    """N C Ho Wo kh kw windows of an NCHW array padded with `fill`."""
    if x.ndim != 4:
        raise KernelError(f"pooling input must be NCHW, got shape {x.shape}")
    kh, kw = _pair(kernel, "kernel")
    sh, sw = _pair(stride, "stride")
    top, left, bottom, right = _pads(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def max_pool2d(x: ArrayLike, kernel: int | Sequence[int], stride: int | Sequence[int] = 1,
               padding: int | Sequence[int] = 0) -> np.ndarray:
    """Max pooling on int8/uint8 NCHW (padding never wins); same dtype out."""
    arr = np.asarray(x)
    if arr.dtype not in (np.int8, np.uint8):
        raise KernelError(f"x must be int8 or uint8, got {arr.dtype}")
    return _pool_windows(arr, kernel, stride, padding, int(np.iinfo(arr.dtype).min)).max(axis=(4, 5))


def avg_pool2d(x: ArrayLike, kernel: int | Sequence[int], stride: int | Sequence[int] = 1,
               padding: int | Sequence[int] = 0, *, x_zp: int = 0, in_scale: float = 1.0,
               out_scale: float = 1.0, out_zp: int = 0, out_signed: bool = True,
               count_include_pad: bool = False) -> np.ndarray:
    """Quantized average pooling the NPU way: requant(sum(x - x_zp), in_scale / (out_scale * count)).

    The multiplier folds 1/count (per output position when padding is excluded from the count).
    """
    xs = _ints(x, "x") - int(x_zp)
    sums = _pool_windows(xs, kernel, stride, padding, 0).sum(axis=(4, 5))
    ones = np.ones((1, 1) + xs.shape[2:], dtype=np.int64)
    counts = _pool_windows(ones, kernel, stride, padding, int(count_include_pad)).sum(axis=(4, 5))
    m_s = {c: quantize_multiplier(in_scale / (out_scale * c)) for c in np.unique(counts).tolist()}
    m = np.vectorize(lambda c: m_s[c][0])(counts)
    s = np.vectorize(lambda c: m_s[c][1])(counts)
    lo, hi = _out_range(out_signed)
    return to_bytes_dtype(requant(wrap32(sums), m, s, out_zp, lo, hi), out_signed)


# ---------------------------------------------------------------------------------------------- elementwise


def add_params(a_scale: float, b_scale: float, out_scale: float,
               left_shift: int = ADD_LEFT_SHIFT) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """TFLite quantized ADD multipliers ((m_a, s_a), (m_b, s_b), (m_out, s_out)), as VECTOR ADD rows 2/3, 4/5, 0/1."""
    twice_max = 2 * max(a_scale, b_scale)
    return (quantize_multiplier(a_scale / twice_max), quantize_multiplier(b_scale / twice_max),
            quantize_multiplier(twice_max / ((1 << left_shift) * out_scale)))


def qadd(a: ArrayLike, b: ArrayLike, *, a_zp: int, a_scale: float, b_zp: int, b_scale: float, out_zp: int,
         out_scale: float, out_signed: bool = True, lo: int | None = None, hi: int | None = None,
         left_shift: int = ADD_LEFT_SHIFT) -> np.ndarray:
    """TFLite quantized ADD (broadcasting): both inputs shifted left by 20, rescaled, summed, requantized."""
    (ma, sa), (mb, sb), (mo, so) = add_params(a_scale, b_scale, out_scale, left_shift)
    ta = mbqm(wrap32((_ints(a, "a") - a_zp) << left_shift), ma, sa)
    tb = mbqm(wrap32((_ints(b, "b") - b_zp) << left_shift), mb, sb)
    rng = _out_range(out_signed)
    out = requant(wrap32(ta + tb), mo, so, out_zp, rng[0] if lo is None else lo, rng[1] if hi is None else hi)
    return to_bytes_dtype(out, out_signed)


def qmul(a: ArrayLike, b: ArrayLike, *, a_zp: int, a_scale: float, b_zp: int, b_scale: float, out_zp: int,
         out_scale: float, out_signed: bool = True, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """TFLite quantized MUL (broadcasting): requant((a - a_zp)(b - b_zp), a_scale * b_scale / out_scale)."""
    m, s = quantize_multiplier(a_scale * b_scale / out_scale)
    rng = _out_range(out_signed)
    prod = (_ints(a, "a") - a_zp) * (_ints(b, "b") - b_zp)
    out = requant(prod, m, s, out_zp, rng[0] if lo is None else lo, rng[1] if hi is None else hi)
    return to_bytes_dtype(out, out_signed)


# ---------------------------------------------------------------------------------------------- LUT


def make_lut(fn: Callable[[np.ndarray], np.ndarray], in_scale: float, in_zp: int, out_scale: float, out_zp: int,
             signed: bool, out_signed: bool | None = None) -> np.ndarray:
    """256-entry table for a unary function, indexed by the raw input byte (what VECTOR vop=lut reads).

    Entry b: dequantize b (as int8 or uint8), apply `fn` in float64, quantize like ONNX QuantizeLinear (round half
    to even, saturate) to the output type (defaults to the input's signedness), stored as its raw byte.
    """
    out_signed = signed if out_signed is None else out_signed
    raw = np.arange(256, dtype=np.uint8)
    values = (raw.view(np.int8) if signed else raw).astype(np.float64)
    with np.errstate(all="ignore"):
        y = np.asarray(fn(in_scale * (values - in_zp)), dtype=np.float64)
    if y.shape != (256,) or not np.all(np.isfinite(y) | np.isinf(y)):
        raise KernelError("the LUT function must map 256 floats to 256 floats (no NaN)")
    lo, hi = _out_range(out_signed)
    q = np.clip(np.rint(np.clip(y / out_scale, -1e9, 1e9)) + out_zp, lo, hi).astype(np.int64)
    return (q & 0xFF).astype(np.uint8)


def apply_lut(x: ArrayLike, lut: ArrayLike, out_signed: bool | None = None) -> np.ndarray:
    """lut[raw byte of x]; the result has x's dtype unless out_signed says otherwise."""
    arr = np.asarray(x)
    table = np.asarray(lut)
    if arr.dtype not in (np.int8, np.uint8) or table.dtype != np.uint8 or table.shape != (256,):
        raise KernelError("apply_lut needs an int8/uint8 input and a (256,) uint8 table")
    out = table[arr.view(np.uint8)]
    signed = arr.dtype == np.int8 if out_signed is None else out_signed
    return out.view(np.int8) if signed else out


# ---------------------------------------------------------------------------------------------- reductions (ISA 1.1)
#
# Built from the integer pieces of REDUCE / LUTW / REQUANT row_scale (nux.golden.rowops), so that a program the
# compiler lowers from them equals these kernels exactly. Axes are normalised like NumPy's (negative allowed).

#: REDUCE post_shift P of softmax when the output scale is not a power of two: v = e * 2^P / sum(e).
SOFTMAX_POST_SHIFT = 20
#: Largest exponent K of the softmax table (entries round(2^K exp(-beta*scale*i)), entry 0 = 2^K).
SOFTMAX_K_MAX = 24
#: REDUCE post_shift P of L2 normalisation to an output scale other than TFLite's 1/128: v ~= d 2^P / ||d||.
L2NORM_POST_SHIFT = 20
#: REDUCE post_shift P of ReduceL2: v = MBQM(S, RSQRT(S, P)) ~= sqrt(S) * 2^P (2^P * 2^15.5 stays below 2^31 with
#: room for the unnormalised RSQRT multiplier).
REDUCE_L2_POST_SHIFT = 10


def _axes(axes: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    raw = range(ndim) if axes is None else (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    out = tuple(sorted({int(a) % ndim if -ndim <= int(a) < ndim else -1 for a in raw}))
    if not out or out[0] < 0:
        raise KernelError(f"axes {axes!r} do not fit a {ndim}-D input")
    return out


@dataclass(frozen=True)
class SoftmaxParams:
    """What the compiler programs for a softmax over `depth` values: the LUTW table, REDUCE's post_shift and
    the per-lane REQUANT stage (multiplier, shift) of 1 / (out_scale * 2^post_shift)."""

    table: np.ndarray
    k: int
    post_shift: int
    out_m: int
    out_s: int


def softmax_params(depth: int, in_scale: float, beta: float, out_scale: float) -> SoftmaxParams:
    """K is the largest exponent (<= SOFTMAX_K_MAX) with depth * 2^K < 2^31, so the REDUCE SUM of a row never
    wraps. P is q when out_scale is 2^-q (q in 1..30: the per-lane stage is then the exact identity), else
    SOFTMAX_POST_SHIFT. Table entries round half to even (np.rint)."""
    if depth < 1 or not (in_scale > 0 and beta > 0 and out_scale > 0):
        raise KernelError(f"softmax needs depth >= 1 and positive scales and beta, got {depth}, {in_scale}, "
                          f"{beta}, {out_scale}")
    k = min(SOFTMAX_K_MAX, (((1 << 31) - 1) // depth).bit_length() - 1)
    table = np.rint(np.ldexp(np.exp(-beta * in_scale * np.arange(256)), k)).astype(np.int32)
    mant, exp = math.frexp(out_scale)
    p = 1 - exp if mant == 0.5 and 1 <= 1 - exp <= 30 else SOFTMAX_POST_SHIFT
    out_m, out_s = quantize_multiplier(1.0 / (out_scale * 2.0**p))
    return SoftmaxParams(table, k, p, out_m, out_s)


def softmax(x: ArrayLike, *, in_scale: float, out_scale: float, out_zp: int, beta: float = 1.0, axis: int = -1,
            out_signed: bool | None = None) -> np.ndarray:
    """Quantized softmax the ISA 1.1 way (docs/isa.md "REDUCE"), along `axis`:

    M = max(x) (REDUCE MAX to SP), e = LUTW[M - x] (LUTW diff), (m, s) = RECIP(wrap32(sum e), P) (REDUCE SUM
    post=RECIP), v = MBQM(e, m, s) ~= e * 2^P / sum(e) (REQUANT row_scale), out = clamp(out_zp + MBQM(v, out_m,
    out_s)) (REQUANT's per-lane stage). The input zero point cancels in M - x. Output dtype: the input's unless
    out_signed says otherwise.
    """
    arr = np.asarray(x)
    xs = _ints(arr, "x")
    ax = _axes(axis, xs.ndim)[0]
    p = softmax_params(xs.shape[ax], in_scale, beta, out_scale)
    e = p.table[xs.max(axis=ax, keepdims=True) - xs].astype(np.int64)
    m, s = recip_multiplier(wrap32(e.sum(axis=ax, keepdims=True)), p.post_shift)
    signed = arr.dtype == np.int8 if out_signed is None else out_signed
    lo, hi = _out_range(signed)
    return to_bytes_dtype(requant(mbqm(e, m, s), p.out_m, p.out_s, out_zp, lo, hi), signed)


def l2_normalize(x: ArrayLike, *, x_zp: int, axis: int = -1, out_scale: float = 1 / 128, out_zp: int | None = None,
                 out_signed: bool | None = None) -> np.ndarray:
    """x / ||x|| along `axis`: at out_scale 1/128 exactly TFLite's integer L2_NORMALIZATION (with its zero points
    0 for int8 and 128 for uint8 as the defaults), at any other output quantization with more fraction bits:

    d = x - x_zp, S = wrap32(sum d^2) (REDUCE SUMSQ post=RSQRT), then v = MBQM(d << pre, RSQRT(S, P)) ~= d 2^(pre+P)
    / sqrt(S) (REQUANT row_scale), out = clamp(out_zp + MBQM(v, quantize_multiplier(1 / (2^(pre+P) out_scale))))
    (REQUANT's per-lane stage). At 1/128: int8 input pre = 0, P = 7; uint8 input pre = 7, P = 0 (TFLite rounds the
    two differently), and the per-lane stage is the identity. Otherwise pre = 0, P = L2NORM_POST_SHIFT.
    """
    arr = np.asarray(x)
    d = _ints(arr, "x") - int(x_zp)
    ax = _axes(axis, d.ndim)[0]
    signed = arr.dtype == np.int8 if out_signed is None else out_signed
    pre, p = l2_normalize_shifts(arr.dtype == np.int8, out_scale)
    m, t = rsqrt_multiplier(wrap32((d * d).sum(axis=ax, keepdims=True)), p)
    v = mbqm(wrap32(d << pre), m, t)
    out_m, out_s = quantize_multiplier(1.0 / (2.0 ** (pre + p) * out_scale))
    zp = (0 if signed else 128) if out_zp is None else out_zp
    lo, hi = _out_range(signed)
    return to_bytes_dtype(requant(v, out_m, out_s, zp, lo, hi), signed)


def l2_normalize_shifts(x_signed: bool, out_scale: float) -> tuple[int, int]:
    """(pre, P) of `l2_normalize`: d enters REQUANT as d << pre and REDUCE's RSQRT gets post_shift P."""
    if out_scale == 1 / 128:
        return (0, 7) if x_signed else (7, 0)
    return 0, L2NORM_POST_SHIFT


def reduce_l2(x: ArrayLike, *, x_zp: int, in_scale: float, out_scale: float, out_zp: int, out_signed: bool = True,
              axes: int | Sequence[int] | None = -1, keepdims: bool = True) -> np.ndarray:
    """sqrt(sum (x - x_zp)^2) over `axes` without a square root unit: S (REDUCE SUMSQ), (m, t) = RSQRT(S, P)
    (REDUCE SUMSQ post=RSQRT), v = MBQM(S, m, t) ~= sqrt(S) * 2^P (REQUANT row_scale),
    out = clamp(out_zp + MBQM(v, quantize_multiplier(in_scale / (out_scale 2^P)))), P = REDUCE_L2_POST_SHIFT."""
    d = _ints(x, "x") - int(x_zp)
    s = wrap32((d * d).sum(axis=_axes(axes, d.ndim), keepdims=keepdims))
    v = mbqm(s, *rsqrt_multiplier(s, REDUCE_L2_POST_SHIFT))
    lo, hi = _out_range(out_signed)
    m, sh = quantize_multiplier(in_scale / (out_scale * 2.0**REDUCE_L2_POST_SHIFT))
    return to_bytes_dtype(requant(v, m, sh, out_zp, lo, hi), out_signed)


def reduce_sum(x: ArrayLike, *, x_zp: int, in_scale: float, out_scale: float, out_zp: int, out_signed: bool = True,
               axes: int | Sequence[int] | None = -1, keepdims: bool = True, mean: bool = False) -> np.ndarray:
    """ReduceSum / ReduceMean: clamp(out_zp + MBQM(wrap32(sum(x - x_zp)), quantize_multiplier(in_scale /
    (out_scale * count)))), count = the reduced elements for a mean, else 1 (REDUCE SUM, then REQUANT)."""
    d = _ints(x, "x") - int(x_zp)
    ax = _axes(axes, d.ndim)
    count = int(np.prod([d.shape[a] for a in ax])) if mean else 1
    m, s = quantize_multiplier(in_scale / (out_scale * count))
    lo, hi = _out_range(out_signed)
    return to_bytes_dtype(requant(wrap32(d.sum(axis=ax, keepdims=keepdims)), m, s, out_zp, lo, hi), out_signed)


def reduce_max(x: ArrayLike, *, x_zp: int, in_scale: float, out_scale: float, out_zp: int, out_signed: bool = True,
               axes: int | Sequence[int] | None = -1, keepdims: bool = True) -> np.ndarray:
    """ReduceMax: clamp(out_zp + MBQM(max(x - x_zp), quantize_multiplier(in_scale / out_scale))) (REDUCE MAX)."""
    d = _ints(x, "x") - int(x_zp)
    m, s = quantize_multiplier(in_scale / out_scale)
    lo, hi = _out_range(out_signed)
    return to_bytes_dtype(requant(d.max(axis=_axes(axes, d.ndim), keepdims=keepdims), m, s, out_zp, lo, hi),
                          out_signed)
