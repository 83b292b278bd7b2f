"""MaxPool, AveragePool and GlobalAveragePool on the POOL instruction (NHWC, dim channels per SP row).

Per image and chunk of dim channels, a band of output rows at a time: one LOAD brings the band's input rows into
SP with the zero padding as LOAD padding rows (padded width Wp: row (r, c) of the band at r*Wp + c); one POOL per
rectangle of equal window counts walks the windows (a_xstride = stride_x, a_ystride = stride_y*Wp, taps 1 and Wp
apart) and requantizes; one STORE per rectangle writes the rows back. Bands alternate between two buffer sets
(`schedule.pipeline`), so loads, pooling and stores overlap.

- max: padding rows hold the type's minimum (they never win); the requant is x.scale / y.scale (identity, m = 2^30,
  s = 1, when the scales agree).
- average: padding rows hold x's zero point (they add 0); the sum is requantized with x.scale / (y.scale * count),
  exactly nux.golden.kernels.avg_pool2d. When an AveragePool's input and output share scale and zero point and
  padding is not counted, it is TFLite's integer average instead (bit-exact with its reference kernels): raw
  bytes summed (a_zp = 0, padding 0) and divided with rounding half away from zero (`_division_multipliers`).
  count is the window's taps inside the input (count_include_pad=0) or inside the padded input (=1); ceil_mode's
  extra windows never count their part past the padded input (ONNX).
  Windows with different counts are separate POOL rectangles (counts are separable: rows x columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np

from nux.compiler.lower.common import finish_layer, multipliers, param_rows
from nux.compiler.lower.schedule import Band, pipeline
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.isa import Instr, Mem, Opcode, PoolOp


@dataclass(frozen=True)
class _Pool:
    kernel: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]  # with ceil_mode's extra bottom/right rows included
    out: tuple[int, int]
    counts: tuple[np.ndarray, np.ndarray] | None  # per output row / column tap counts (average), None for max
    dilations: tuple[int, int] = (1, 1)  # taps dilations apart (max only)
    raw_average: bool = False  # an AveragePool not counting padding: TFLite's rounded division may apply

    @property
    def span(self) -> tuple[int, int]:
        """Input rows and columns one window covers."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilations, strict=True))


def _out_len(size: int, k: int, s: int, lo: int, hi: int, ceil_mode: bool) -> tuple[int, int]:
    """(output length, extra padding after) of one axis, ONNX rules (the last window starts inside)."""
    span = size + lo + hi - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + lo:
        out -= 1
    return out, max(0, (out - 1) * s + k - (size + lo + hi))


def _counts(out: int, k: int, s: int, lo: int, size: int, hi: int, include_pad: bool) -> np.ndarray:
    first = np.arange(out) * s - lo
    a, b = (-lo, size + hi) if include_pad else (0, size)
    return np.minimum(first + k, b) - np.maximum(first, a)


def _geometry(x: ActTensor, y: ActTensor, kernel, strides, pads, ceil_mode: bool, average: bool,
              include_pad: bool, dilations=(1, 1), tflite_division: bool = False) -> _Pool:
    _, _, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = tuple(kernel), tuple(strides), tuple(pads)
    (dh, dw) = tuple(dilations)
    if average and (dh, dw) != (1, 1):
        raise Unsupported("AveragePool with dilations")
    ho, extra_b = _out_len(h, dh * (kh - 1) + 1, sh, pt, pb, ceil_mode)
    wo, extra_r = _out_len(w, dw * (kw - 1) + 1, sw, pl, pr, ceil_mode)
    if y.shape != (x.shape[0], x.shape[1], ho, wo):
        raise LoweringError(f"pool output shape {y.shape} != expected {(x.shape[0], x.shape[1], ho, wo)}")
    if max(kh, kw) > 255 or max(pt, pl, pb + extra_b, pr + extra_r) > 255:
        raise Unsupported(f"pooling window {kh}x{kw} or padding beyond the 8-bit POOL/LOAD fields")
    counts = None
    if average:
        counts = (_counts(ho, kh, sh, pt, h, pb, include_pad), _counts(wo, kw, sw, pl, w, pr, include_pad))
    return _Pool((kh, kw), (sh, sw), (pt, pl, pb + extra_b, pr + extra_r), (ho, wo), counts, (dh, dw),
                 tflite_division and average and not include_pad)


def _runs(values: np.ndarray, start: int, stop: int) -> list[tuple[int, int, int]]:
    """(first, end, value) runs of equal values in values[start:stop]."""
    out, i = [], start
    for value, items in groupby(values[start:stop].tolist()):
        n = len(list(items))
        out.append((i, i + n, value))
        i += n
    return out


#: Largest window count for which `_division_multipliers` is exact on every sum of up to 255 x count.
RAW_MAX_COUNT = 2048


def _division_multipliers(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(m, s) per count with MBQM(S, m, s) = TFLite's integer average (S +- count/2) / count, rounded half away
    from zero, for |S| <= 255 * count <= 255 * RAW_MAX_COUNT: one rounding (s = 0) by m = floor(2^31/count) + 1.
    m exceeds 2^31/count by e in (0, 1], which moves S*m/2^31 by less than the 1/(2*count) that separates S/count
    from a half when it is not one, and pushes an exact half (count even) outward by |S|*e >= 1 unit of 2^-31,
    so SRDHM's rounding takes it away from zero. count 1 is the identity (2^30, 1)."""
    m = [(1 << 31) // c + 1 if c > 1 else 1 << 30 for c in counts]
    s = [0 if c > 1 else 1 for c in counts]
    return np.array(m, dtype=np.int64), np.array(s, dtype=np.int64)


class _Lowering:
    """Builds the bands of one pooling layer."""

    def __init__(self, em: Emitter, x: ActTensor, y: ActTensor, geo: _Pool):
        self.em, self.x, self.y, self.geo = em, x, y, geo
        self.dim = em.config.dim
        _, _, self.h, self.w = x.shape
        self.wp = self.w + geo.pads[1] + geo.pads[3]
        self.average = geo.counts is not None
        kh, sh = geo.span[0], geo.strides[0]
        wo = geo.out[1]
        half = em.config.sp_rows // 2
        self.band = 0
        while self.band < geo.out[0] and (self.band * sh + kh) * self.wp + (self.band + 1) * wo <= half:
            self.band += 1
        if self.band == 0 or sh * self.wp > 0xFFFF:
            raise Unsupported(f"a pooling band of {kh} input rows x {self.wp} pixels does not fit half the scratchpad")
        self.in_rows = ((self.band - 1) * sh + kh) * self.wp
        self.keys = sorted({int(c) for c in np.unique(np.multiply.outer(*geo.counts))}) if self.average else [1]
        self.raw = self.average and geo.raw_average and max(self.keys) <= RAW_MAX_COUNT and (
            x.scale, x.zero_point) == (y.scale, y.zero_point)
        if self.raw:
            m, s = _division_multipliers(self.keys)
        else:
            m, s = multipliers(np.array([x.scale / (y.scale * c) for c in self.keys]))
        if 2 * len(self.keys) > em.config.acc_rows:
            raise Unsupported("too many distinct window counts for the accumulator's parameter rows")
        lanes = np.ones(self.dim, dtype=np.int64)
        self.params = em.const(b"".join(param_rows(self.dim, lanes * mi, lanes * si, 1) for mi, si in zip(m, s,
                                                                                                           strict=True)))

    def load(self, n: int, c0: int, oy0: int, rows: int, dst: int) -> Instr:
        (kh, _), (sh, _), (pt, pl, _, pr) = self.geo.span, self.geo.strides, self.geo.pads
        x = self.x
        c = x.shape[1]
        lanes = min(self.dim, c - c0)
        first, height = oy0 * sh - pt, (rows - 1) * sh + kh
        lo, hi = max(first, 0), min(first + height, self.h)
        pad = (np.iinfo(x.dtype).min & 0xFF) if not self.average else 0 if self.raw else x.zp_byte
        if hi <= lo:
            raise Unsupported("a pooling band lies entirely in the padding")
        return Instr(Opcode.LOAD, dst=Mem.SP, dst_row=dst, dram_offset=x.offset + ((n * self.h + lo) * self.w) * c + c0,
                     x_size=self.w, x_stride=c, y_size=hi - lo, y_stride=self.w * c, x_pad_before=pl,
                     x_pad_after=pr, y_pad_before=lo - first, y_pad_after=first + height - hi,
                     row_elems=lanes % self.dim, pad_value=pad)

    def rects(self, oy0: int, rows: int) -> list[tuple[int, int, int, int, int]]:
        """(oy first, oy end, ox first, ox end, parameter index) rectangles of equal window counts."""
        ho, wo = self.geo.out
        if not self.average:
            return [(oy0, oy0 + rows, 0, wo, 0)]
        cy, cx = self.geo.counts
        return [(ya, yb, xa, xb, self.keys.index(int(vy * vx))) for ya, yb, vy in _runs(cy, oy0, oy0 + rows)
                for xa, xb, vx in _runs(cx, 0, wo)]

    def band_instrs(self, n: int, c0: int, oy0: int, parity: int) -> Band:
        geo, x, y, dim = self.geo, self.x, self.y, self.dim
        (kh, kw), (sh, sw), (_, wo) = geo.kernel, geo.strides, geo.out
        rows = min(self.band, geo.out[0] - oy0)
        buf_in, buf_out = parity * self.in_rows, 2 * self.in_rows + parity * self.band * wo
        c, lanes = x.shape[1], min(dim, x.shape[1] - c0)
        computes, stores, out = [], [], buf_out
        for ya, yb, xa, xb, key in self.rects(oy0, rows):
            computes.append(Instr(Opcode.POOL, pop=PoolOp.SUM if self.average else PoolOp.MAX,
                                  a_signed=int(x.signed), out_signed=int(y.signed),
                                  a_zp=0 if self.raw else x.zp_byte, out_zp=0 if self.raw else y.zp_byte,
                                  clamp_lo=y.qrange[0] & 0xFF, clamp_hi=y.qrange[1] & 0xFF,
                                  param_row=2 * key, a_base=buf_in + (ya - oy0) * sh * self.wp + xa * sw,
                                  out_base=out, x_size=xb - xa, y_size=yb - ya, a_xstride=sw,
                                  a_ystride=sh * self.wp, win_x=kw, win_y=kh, win_xstride=geo.dilations[1],
                                  win_ystride=geo.dilations[0] * self.wp))
            stores.append(Instr(Opcode.STORE, src=Mem.SP, src_row=out, row_elems=lanes % dim,
                                dram_offset=y.offset + ((n * geo.out[0] + ya) * wo + xa) * c + c0,
                                x_size=xb - xa, x_stride=c, y_size=yb - ya, y_stride=wo * c))
            out += (xb - xa) * (yb - ya)
        return [self.load(n, c0, oy0, rows, buf_in)], computes, stores

    def build(self) -> list[Instr]:
        n_img, c = self.x.shape[:2]
        bands = [(n, c0, oy0) for n in range(n_img) for c0 in range(0, c, self.dim)
                 for oy0 in range(0, self.geo.out[0], self.band)]
        built = [self.band_instrs(n, c0, oy0, i % 2) for i, (n, c0, oy0) in enumerate(bands)]
        params = Instr(Opcode.LOAD, dst=Mem.ACC, dst_row=0, dram_offset=self.params, x_size=2 * len(self.keys),
                       x_stride=self.dim * 4)
        built[0] = ([params] + built[0][0], built[0][1], built[0][2])
        return pipeline(built)


def _pool(em: Emitter, x: ActTensor, y: ActTensor, kernel, strides, pads, ceil_mode: bool, average: bool,
          include_pad: bool = False, divide: bool = True, dilations=(1, 1), tflite_division: bool = False
          ) -> LayerCost:
    if len(x.shape) != 4 or x.dtype != y.dtype and not average:
        raise LoweringError(f"pooling needs 4-D activations of one type, got {x.shape} {x.dtype} -> {y.dtype}")
    geo = _geometry(x, y, kernel, strides, pads, ceil_mode, average, include_pad, dilations, tflite_division)
    if average and not divide:  # a plain windowed sum: every window "counts" 1
        geo = _Pool(geo.kernel, geo.strides, geo.pads, geo.out, (np.ones(geo.out[0], int), np.ones(geo.out[1], int)))
    program = _Lowering(em, x, y, geo).build()
    return finish_layer(em, program, 0, [f"{'avg' if average else 'max'} pool {geo.kernel}, band rows"])


def max_pool(em: Emitter, x: ActTensor, y: ActTensor, kernel: Sequence[int], strides: Sequence[int] = (1, 1),
             pads: Sequence[int] = (0, 0, 0, 0), ceil_mode: bool = False,
             dilations: Sequence[int] = (1, 1)) -> LayerCost:
    """MaxPool (2-D, NHWC; dilated taps are POOL's win_x/ystride); y may have another scale/zero point
    (requantized), same dtype."""
    return _pool(em, x, y, kernel, strides, pads, ceil_mode, average=False, dilations=dilations)


def avg_pool(em: Emitter, x: ActTensor, y: ActTensor, kernel: Sequence[int], strides: Sequence[int] = (1, 1),
             pads: Sequence[int] = (0, 0, 0, 0), ceil_mode: bool = False,
             count_include_pad: bool = False) -> LayerCost:
    """AveragePool: requant(sum(x - x.zp), x.scale / (y.scale * count)) per window (module docstring)."""
    return _pool(em, x, y, kernel, strides, pads, ceil_mode, average=True, include_pad=count_include_pad,
                 tflite_division=True)


def global_avg_pool(em: Emitter, x: ActTensor, y: ActTensor, divide: bool = True) -> LayerCost:
    """GlobalAveragePool: one window over the whole H x W (y is (N, C, 1, 1)); `divide=False` sums (ReduceSum)."""
    _, _, h, w = x.shape
    return _pool(em, x, y, (h, w), (1, 1), (0, 0, 0, 0), False, average=True, divide=divide)
