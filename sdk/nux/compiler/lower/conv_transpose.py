"""ConvTranspose (2-D, any strides, pads, output padding, dilations, groups) as a zero-inserted conv2d.

A transposed convolution scatters every input pixel, times the kernel, into the output at (iy*sh - pt + ky*dh,
ix*sw - pl + kx*dw). The same sums come out of an ordinary stride-1 convolution over an image U in which the
input pixels sit `stride` apart and everything else is the input zero point (contributes nothing), with the
kernel flipped spatially and its in/out channel axes swapped:

- U has (Ho + dh*(kh-1)) x (Wo + dw*(kw-1)) pixels of C channels; input pixel (iy, ix) lands at
  (iy*sh + dh*(kh-1) - pt, ix*sw + dw*(kw-1) - pl). Pixels that land outside U (pads larger than the kernel
  reach) are cropped, so U already contains the convolution's padding and output_padding: conv2d runs unpadded.
- U is built by two data movers in one layer: `fill` with the zero point, then a strided `copy_box` scatter
  (destination strides sh*Wu*C and sw*C). The conv2d layer then reads it like any activation.

Zero insertion spends sh*sw times the useful MACs on the zeros. When every output phase has taps (kernel >=
stride), dilation is 1 and no phase needs a negative pad, the per-phase form is used instead: output phase
(ry, rx) (outputs oy = ry + sh*j) only meets taps ky = ky0 + sh*t, ky0 = (ry + pt) mod sh, reading input rows
(ry + pt) // sh + j - t. That is a stride-1 conv2d of x itself with the sub-kernel w[..., ky0::sh] reversed and
begin pad T-1-(ry + pt)//sh, written to a dense scratch and interleaved into y by a strided `copy_box`. Each
accumulator holds the same nonzero terms as in the zero-inserted form, so the two are bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nux.compiler.lower.common import finish_layer
from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.movers import _chain, copy_box, fill
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError


def _landing(size: int, out: int, stride: int, offset: int) -> tuple[int, int]:
    """(first input index, count) of the inputs i whose position i*stride + offset lies in [0, out)."""
    first = max(0, -(offset // stride))  # ceil(-offset / stride)
    last = min(size - 1, (out - 1 - offset) // stride)
    return first, max(0, last - first + 1)


def _swapped(w: np.ndarray, groups: int) -> np.ndarray:
    """ConvTranspose weights (C, O/groups, kH, kW) with the channel axes of each group swapped: (O, C/groups, ...)."""
    c, og, kh, kw = w.shape
    cg = c // groups
    return w.reshape(groups, cg, og, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * og, cg, kh, kw)


def conv_transpose_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """ConvTranspose weights (C, O/groups, kH, kW) as the equivalent conv's (O, C/groups, kH, kW), flipped."""
    return np.ascontiguousarray(_swapped(w, groups)[:, :, ::-1, ::-1])


def _check(x: ActTensor, y: ActTensor, w: np.ndarray, strides, pads_begin, dilations, groups: int) -> None:
    if len(x.shape) != 4 or len(y.shape) != 4 or w.ndim != 4:
        raise LoweringError(f"conv_transpose needs 4-D x, y and w, got {x.shape}, {y.shape}, {w.shape}")
    if groups < 1 or x.shape[1] % groups or w.shape[0] != x.shape[1] or y.shape[1] != w.shape[1] * groups:
        raise LoweringError(f"groups={groups} does not fit x {x.shape}, w {w.shape} and y {y.shape}")
    if min(*strides, *dilations) < 1 or y.shape[0] != x.shape[0]:
        raise LoweringError(f"bad strides {strides}, dilations {dilations} or batch {x.shape[0]} -> {y.shape[0]}")
    for size, out, k, s, d, p in zip(x.shape[2:], y.shape[2:], w.shape[2:], strides, dilations, pads_begin,
                                     strict=True):
        full = (size - 1) * s + d * (k - 1) + 1  # the output before pads and output_padding
        if p < 0 or out > full - p + max(s, d) - 1:
            raise LoweringError(f"output size {out} does not follow from input {size}, kernel {k}, stride {s}, "
                                f"dilation {d} and begin pad {p} (output_padding must be < stride or dilation)")


def conv_transpose(em: Emitter, x: ActTensor, y: ActTensor, w: np.ndarray, w_scale: np.ndarray | float,
                   w_zero_point: np.ndarray | int, bias: np.ndarray | None, strides: Sequence[int] = (1, 1),
                   pads_begin: Sequence[int] = (0, 0), dilations: Sequence[int] = (1, 1), groups: int = 1,
                   clamp: tuple[int, int] | None = None, per_phase: bool = True) -> LayerCost:
    """y = clamp(requant(conv_transpose(x - x.zp, w - w_zp) + bias)), ONNX ConvTranspose semantics.

    w: (C, O/groups, kH, kW); w_scale, w_zero_point scalar or one per output channel (O of them); pads_begin
    (top, left): the end pads and output_padding follow from y's shape. Per output phase when it applies and
    `per_phase` (the default), else the zero-inserted image (module docstring).
    """
    w = np.asarray(w)
    strides, pads_begin, dilations = tuple(map(int, strides)), tuple(map(int, pads_begin)), tuple(map(int, dilations))
    _check(x, y, w, strides, pads_begin, dilations, int(groups))
    args = (w_scale, w_zero_point, bias)
    phases = _phases(x, y, w.shape[2:], strides, pads_begin, dilations) if per_phase else None
    if phases is None:
        return _zero_inserted(em, x, y, w, args, strides, pads_begin, dilations, int(groups), clamp)
    costs = []
    swapped = _swapped(w, int(groups))
    for (ry, ky0, pby, pey, hp), (rx, kx0, pbx, pex, wp) in phases:
        sub = np.ascontiguousarray(swapped[:, :, ky0 :: strides[0], kx0 :: strides[1]][:, :, ::-1, ::-1])
        direct = strides == (1, 1)  # one phase: the conv writes y itself
        part = y if direct else ActTensor(em.scratch(y.shape[0] * y.shape[1] * hp * wp),
                                          (y.shape[0], y.shape[1], hp, wp), y.dtype, y.scale, y.zero_point)
        costs.append(conv2d(em, x, part, sub, *args, pads=(pby, pbx, pey, pex), groups=int(groups), clamp=clamp))
        if direct:
            break
        n, o = y.shape[:2]
        ho, wo = y.shape[2:]
        axes = [(n, hp * wp * o, ho * wo * o), (hp, wp * o, strides[0] * wo * o), (wp, o, strides[1] * o), (o, 1, 1)]
        costs.append(finish_layer(em, copy_box(em, part.offset, y.offset + (ry * wo + rx) * o, axes), 0,
                                  [f"phase ({ry}, {rx}) interleaved"]))
    return _total(costs, _useful_macs(x, y, w, int(groups)))


def _phases(x: ActTensor, y: ActTensor, kernel, strides, pads_begin, dilations) -> list | None:
    """Per output phase pair: ((ry, ky0, pad begin, pad end, outputs) per axis), or None when the per-phase form
    does not apply (module docstring)."""
    if dilations != (1, 1):
        return None
    axes = []
    for size, out, k, s, p in zip(x.shape[2:], y.shape[2:], kernel, strides, pads_begin, strict=True):
        if k < s or out < s:
            return None
        axis = []
        for r in range(s):
            ky0, q0 = (r + p) % s, (r + p) // s
            taps, count = -(-(k - ky0) // s), -(-(out - r) // s)
            begin = taps - 1 - q0
            end = count + taps - 1 - size - begin
            if begin < 0 or end < 0:
                return None
            axis.append((r, ky0, begin, end, count))
        axes.append(axis)
    return [(a, b) for a in axes[0] for b in axes[1]]


def _useful_macs(x: ActTensor, y: ActTensor, w: np.ndarray, groups: int) -> int:
    return x.nbytes * (y.shape[1] // groups) * int(w.shape[2]) * int(w.shape[3])


def _total(costs: list[LayerCost], macs: int) -> LayerCost:
    """The layers' costs summed, with the useful MACs of the whole ConvTranspose."""
    return LayerCost(macs=macs, predicted_cycles=sum(c.predicted_cycles for c in costs),
                     array_rows=sum(c.array_rows for c in costs), load_bytes=sum(c.load_bytes for c in costs),
                     store_bytes=sum(c.store_bytes for c in costs), instructions=sum(c.instructions for c in costs),
                     notes=[note for c in costs for note in c.notes])


def _zero_inserted(em: Emitter, x: ActTensor, y: ActTensor, w: np.ndarray, args: tuple, strides, pads_begin,
                   dilations, groups: int, clamp) -> LayerCost:
    """The zero-inserted image U, then conv2d over it (module docstring)."""
    n, h, wi, c = x.nhwc
    kh, kw = w.shape[2:]
    reach = (dilations[0] * (kh - 1), dilations[1] * (kw - 1))
    hu, wu = y.shape[2] + reach[0], y.shape[3] + reach[1]
    u = ActTensor(em.scratch(n * hu * wu * c), (n, c, hu, wu), x.dtype, x.scale, x.zero_point)
    (y0, ny), (x0, nx) = (_landing(size, out, s, r - p) for size, out, s, r, p in
                          zip((h, wi), (hu, wu), strides, reach, pads_begin, strict=True))
    parts = [fill(em, u.offset, u.nbytes, x.zero_point)]
    if ny and nx:
        dst = u.offset + ((y0 * strides[0] + reach[0] - pads_begin[0]) * wu + x0 * strides[1] + reach[1]
                          - pads_begin[1]) * c
        axes = [(n, h * wi * c, hu * wu * c), (ny, wi * c, strides[0] * wu * c), (nx, c, strides[1] * c), (c, 1, 1)]
        parts.append(copy_box(em, x.offset + (y0 * wi + x0) * c, dst, axes))
    scatter = finish_layer(em, _chain(parts), 0, [f"zero-inserted {hu}x{wu} image"])
    conv = conv2d(em, u, y, conv_transpose_weights(w, groups), *args, dilations=dilations, groups=groups,
                  clamp=clamp)
    return _total([scatter, conv], _useful_macs(x, y, w, groups))
