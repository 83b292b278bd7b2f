"""Conv2d as implicit-im2col GEMMs accumulating in ACC (NHWC activations, any strides, pads, dilations, groups).

The GEMM's K dimension is the kernel window: each K chunk is one SP row of dim lanes per output pixel, gathered
by one strided LOAD straight from the NHWC input (no im2col buffer in DRAM):

- per tap (the general case): chunk = kernel tap (ky, kx) x up to dim channels; pixel (oy, ox) reads the dim
  bytes at input (oy*sh + ky*dh - pt, ox*sw + kx*dw - pl). Taps that fall in the zero padding are LOAD padding
  rows (whole rows of the input zero point: `x/y_pad_before/after`), so padding costs no DRAM traffic.
- packed (small C, e.g. an RGB first layer): with dilation 1 along x the kw*C bytes of one kernel row are
  contiguous in NHWC, so a chunk is dim consecutive bytes of that span and the lanes stay full (3 chunks per
  kernel row instead of 7 for a 7x7 RGB conv at dim 8). A span can cross the left/right padding, which LOAD
  cannot pad inside a row, so the input is first copied into a zero-point-padded scratch image.

Groups are lowered in bundles of consecutive groups whose channels fit one column tile (depthwise: dim channels
per bundle, a diagonal weight tile per tap), each bundle its own GEMM schedule with block-diagonal weights
(entries across groups hold the weight zero point, so they contribute nothing).

The weight, bias and requant-parameter images are constants; the output requant folds bias, the per-channel
multiplier x.scale * w_scale[o] / y.scale and the fused clamp (Relu/Clip bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nux.compiler.lower.common import (
    bias_chunk,
    clamp_bounds,
    finish_layer,
    int32_row,
    multipliers,
    param_rows,
    weight_tiles,
    weights_8bit,
)
from nux.compiler.lower.perf import gather_row_cycles, predict_cycles
from nux.compiler.lower.schedule import GemmOperands, GemmSchedule, Requant, best_tiles, estimate_cycles
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.isa import Instr, Mem, NpuConfig, Opcode

MAX_PAD_FIELD = 255


@dataclass(frozen=True)
class _Image:
    """An NHWC byte image as LOADs see it: offset, N, H, W and bytes per pixel."""

    offset: int
    n: int
    h: int
    w: int
    c: int


@dataclass(frozen=True)
class _Chunk:
    """One K chunk: source offset of its first lane relative to the output pixel's window origin, and its lanes.

    Pixel (oy, ox) reads `lanes` bytes at image position (oy*sh + dy, ox*sw + dx), byte `boff` of that pixel.
    `tap` maps each lane to (ky, kx, input channel within the bundle).
    """

    dy: int
    dx: int
    boff: int
    lanes: int
    tap: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ConvGeometry:
    """Resolved convolution attributes (pads are (top, left, bottom, right))."""

    kh: int
    kw: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilations: tuple[int, int]
    groups: int

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        (sh, sw), (dh, dw), (pt, pl, pb, pr) = self.strides, self.dilations, self.pads
        return ((h + pt + pb - dh * (self.kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (self.kw - 1) - 1) // sw + 1)


def _axis(o0: int, count: int, stride: int, d: int, size: int) -> tuple[int, int, int]:
    """(padding before, valid, padding after) of outputs o0..o0+count-1 reading input o*stride + d in [0, size)."""
    lo = max(o0, -(d // stride))
    hi = min(o0 + count, (size - 1 - d) // stride + 1)
    if hi <= lo:
        return count, 0, 0
    return lo - o0, hi - lo, o0 + count - hi


def _pad_field(value: int) -> int:
    if value > MAX_PAD_FIELD:
        raise Unsupported(f"padding of {value} rows exceeds the LOAD padding field ({MAX_PAD_FIELD})")
    return value


class _ConvSource:
    """Blocks of output pixels (whole output rows, or pieces of one) of one bundle, for GemmSchedule."""

    def __init__(self, config: NpuConfig, image: _Image, chunks: list[_Chunk], strides: tuple[int, int],
                 y: ActTensor, o_range: tuple[int, int], zp: int, zp_row: int,
                 blocks: list[tuple[int, int, int, int, int]]):
        self.dim = config.dim
        self.img, self.chunks, self.strides = image, chunks, strides
        self.y, self.o_range, self.zp, self.zp_row = y, o_range, zp, zp_row
        self.blocks = blocks

    def block_rows(self, block: int) -> int:
        _, _, noy, _, nox = self.blocks[block]
        return noy * nox

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        n, oy0, noy, ox0, nox = self.blocks[block]
        ch, img, (sh, sw) = self.chunks[kc], self.img, self.strides
        yb, yv, ya = _axis(oy0, noy, sh, ch.dy, img.h)
        xb, xv, xa = _axis(ox0, nox, sw, ch.dx, img.w)
        common = dict(dst=Mem.SP, dst_row=dst_row, row_elems=ch.lanes % self.dim, pad_value=self.zp & 0xFF)
        if not (yv and xv):  # every row is padding: read the zero-point row again and again
            return [Instr(Opcode.LOAD, dram_offset=self.zp_row, x_size=nox, y_size=noy, **common)]
        iy, ix = (oy0 + yb) * sh + ch.dy, (ox0 + xb) * sw + ch.dx
        offset = img.offset + ((n * img.h + iy) * img.w + ix) * img.c + ch.boff
        return [Instr(Opcode.LOAD, dram_offset=offset, x_size=xv, x_stride=sw * img.c, y_size=yv,
                      y_stride=sh * img.w * img.c, x_pad_before=_pad_field(xb), x_pad_after=_pad_field(xa),
                      y_pad_before=_pad_field(yb), y_pad_after=_pad_field(ya), **common)]

    def store(self, block: int, n0: int, nts: int, src: Mem, src_row: int) -> list[Instr]:
        n, oy0, noy, ox0, nox = self.blocks[block]
        dim, (_, o_total, ho, wo) = self.dim, self.y.shape
        o_lo, o_hi = self.o_range
        rows = noy * nox
        base = self.y.offset + ((n * ho + oy0) * wo + ox0) * o_total + o_lo
        full = nts if (n0 + nts) * dim <= o_hi - o_lo else nts - 1
        geometry = dict(src=src, x_size=nox, x_stride=o_total, y_size=noy, y_stride=wo * o_total)
        instrs = []
        if full:
            instrs.append(Instr(Opcode.STORE, src_row=src_row, dram_offset=base + n0 * dim, z_size=full,
                                z_stride=dim, **geometry))
        if full < nts:
            nt = n0 + full
            instrs.append(Instr(Opcode.STORE, src_row=src_row + full * rows, dram_offset=base + nt * dim,
                                row_elems=o_hi - o_lo - nt * dim, **geometry))
        return instrs


class _BandSource(_ConvSource):
    """Whole output rows; per channel chunk one LOAD of the band of (zero-point-padded) input rows they read.

    Each kernel tap is then a GEMM over a shifted, strided view of that band (offset ky*dh*Wp + kx*dw, x stride
    sw, y stride sh*Wp), so the input is read once per chunk instead of once per tap. Chunks are channel chunks
    (`_tap_chunks` order with the channel chunk outermost: weight tile (chunk, tap) = (kc*taps + t)).
    """

    def __init__(self, *args, geo: ConvGeometry, lanes: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.geo, self.lanes = geo, lanes
        wo = self.y.shape[3]
        self.wp = (wo - 1) * geo.strides[1] + (geo.kw - 1) * geo.dilations[1] + 1
        rows = max(b[2] for b in self.blocks)
        self.a_rows = self.band_height(rows) * self.wp

    def band_height(self, noy: int) -> int:
        return (noy - 1) * self.geo.strides[0] + (self.geo.kh - 1) * self.geo.dilations[0] + 1

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        n, oy0, noy, _, _ = self.blocks[block]
        img, geo, lanes = self.img, self.geo, self.lanes[kc]
        pt, pl = geo.pads[0], geo.pads[1]
        height = self.band_height(noy)
        yb, yv, ya = _axis(oy0 * geo.strides[0] - pt, height, 1, 0, img.h)
        xv = max(0, min(img.w, self.wp - pl))
        common = dict(dst=Mem.SP, dst_row=dst_row, row_elems=lanes % self.dim, pad_value=self.zp & 0xFF)
        if not (yv and xv):
            return [Instr(Opcode.LOAD, dram_offset=self.zp_row, x_size=self.wp, y_size=height, **common)]
        iy = oy0 * geo.strides[0] - pt + yb
        return [Instr(Opcode.LOAD, dram_offset=img.offset + (n * img.h + iy) * img.w * img.c + self.chunks[kc].boff,
                      x_size=xv, x_stride=img.c, y_size=yv, y_stride=img.w * img.c, x_pad_before=_pad_field(pl),
                      x_pad_after=_pad_field(self.wp - pl - xv), y_pad_before=_pad_field(yb),
                      y_pad_after=_pad_field(ya), **common)]

    def views(self, block: int, kc: int) -> list[tuple[int, int, int, int, int]]:
        _, _, noy, _, nox = self.blocks[block]
        (sh, sw), (dh, dw), wp = self.geo.strides, self.geo.dilations, self.wp
        return [(ky * dh * wp + kx * dw, nox, noy, sw, sh * wp) for ky in range(self.geo.kh)
                for kx in range(self.geo.kw)]


def _blocks(n: int, ho: int, wo: int, tile_m: int) -> list[tuple[int, int, int, int, int]]:
    """(image, first output row, rows, first column, columns) blocks of at most tile_m pixels."""
    if tile_m >= wo:
        r = tile_m // wo
        return [(i, oy, min(r, ho - oy), 0, wo) for i in range(n) for oy in range(0, ho, r)]
    return [(i, oy, 1, ox, min(tile_m, wo - ox)) for i in range(n) for oy in range(ho) for ox in range(0, wo, tile_m)]


def _tile_candidates(ho: int, wo: int) -> list[int]:
    whole_rows = [r * wo for r in range(1, ho + 1) if r * wo <= 4096]
    pieces = [-(-wo // k) for k in (2, 3, 4, 8, 16) if wo // k >= 1] + [1 << i for i in range(10) if 1 << i < wo]
    return whole_rows + pieces


def _packed(geo: ConvGeometry, c: int, dim: int) -> bool:
    """Gather whole kernel rows (kw*C contiguous bytes) when that needs fewer chunks than one tap per chunk."""
    return geo.groups == 1 and geo.dilations[1] == 1 and c < dim and -(-geo.kw * c // dim) < geo.kw


def _tap_chunks(geo: ConvGeometry, cb: int, c0: int, dim: int) -> list[_Chunk]:
    """One chunk per (ky, kx, dim channels) of a bundle whose channels start at byte c0 of each pixel."""
    (dh, dw), (pt, pl, _, _) = geo.dilations, geo.pads
    chunks = []
    for ky in range(geo.kh):
        for kx in range(geo.kw):
            for cs in range(0, cb, dim):
                lanes = min(dim, cb - cs)
                tap = (np.full(lanes, ky), np.full(lanes, kx), np.arange(cs, cs + lanes))
                chunks.append(_Chunk(ky * dh - pt, kx * dw - pl, c0 + cs, lanes, tap))
    return chunks


def _row_chunks(geo: ConvGeometry, c: int, dim: int) -> list[_Chunk]:
    """Chunks of dim consecutive bytes of each kernel row's kw*C span (on a padded image: window origin 0, 0)."""
    span = geo.kw * c
    chunks = []
    for ky in range(geo.kh):
        for start in range(0, span, dim):
            p = np.arange(start, min(start + dim, span))
            chunks.append(_Chunk(ky * geo.dilations[0], 0, start, p.size, (np.full(p.size, ky), p // c, p % c)))
    return chunks


def _pad_copy(em: Emitter, x: ActTensor, pads: tuple[int, int, int, int], zp_row: int,
              program: list[Instr]) -> _Image:
    """Copy x into a scratch image padded with its zero point (LOAD with padding rows, STORE), per SP-sized slab."""
    n, h, w, c = x.nhwc
    pt, pl, pb, pr = (_pad_field(p) for p in pads)
    hp, wp = h + pt + pb, w + pl + pr
    if wp > em.config.sp_rows:
        raise Unsupported(f"padded input row of {wp} pixels exceeds the scratchpad ({em.config.sp_rows} rows)")
    out = _Image(em.scratch(n * hp * wp * c), n, hp, wp, c)
    slab = em.config.sp_rows // wp
    for i in range(n):
        for r0 in range(0, hp, slab):
            rows = min(slab, hp - r0)
            yb, yv, ya = _axis(r0, rows, 1, -pt, h)
            common = dict(dst=Mem.SP, dst_row=0, row_elems=c, pad_value=x.zp_byte)
            if yv:
                program.append(Instr(Opcode.LOAD, dram_offset=x.offset + (i * h + r0 + yb - pt) * w * c, x_size=w,
                                     x_stride=c, y_size=yv, y_stride=w * c, x_pad_before=pl, x_pad_after=pr,
                                     y_pad_before=yb, y_pad_after=ya, **common))
            else:
                program.append(Instr(Opcode.LOAD, dram_offset=zp_row, x_size=wp, y_size=rows, **common))
            program += [Instr(Opcode.SYNC),
                        Instr(Opcode.STORE, src=Mem.SP, src_row=0, dram_offset=out.offset + (i * hp + r0) * wp * c,
                              x_size=wp, x_stride=c, y_size=rows, y_stride=wp * c, row_elems=c),
                        Instr(Opcode.SYNC)]
    return out


def _bundle_weights(w: np.ndarray, zp: np.ndarray, geo: ConvGeometry, chunks: list[_Chunk], g0: int, g1: int,
                    dim: int) -> np.ndarray:
    """B (chunks*dim, Ob) of groups g0..g1-1: lane k of chunk kc times output channel o (the channel's weight
    zero point `zp[o]` across groups)."""
    o_total, cg = w.shape[0], w.shape[1]
    og = o_total // geo.groups
    ob = (g1 - g0) * og
    zp = np.broadcast_to(np.asarray(zp, dtype=np.int64), (o_total,))[g0 * og : g1 * og]
    b = np.repeat(zp[None, :], len(chunks) * dim, axis=0).astype(w.dtype)
    o_group = np.arange(ob) // og
    for kc, ch in enumerate(chunks):
        ky, kx, c = ch.tap
        c_group, c_in = c // cg, c % cg
        vals = w[g0 * og : g1 * og][:, c_in, ky, kx].T  # lanes x Ob
        same = c_group[:, None] == o_group[None, :]
        b[kc * dim : kc * dim + ch.lanes] = np.where(same, vals, zp[None, :])
    return b


def _check(x: ActTensor, y: ActTensor, w: np.ndarray, geo: ConvGeometry) -> None:
    n, c, h, wi = x.shape if len(x.shape) == 4 else (0, 0, 0, 0)
    if len(x.shape) != 4 or w.ndim != 4:
        raise LoweringError(f"conv2d needs 4-D x and w, got {x.shape} and {w.shape}")
    o, cg = w.shape[:2]
    if geo.groups < 1 or c % geo.groups or o % geo.groups or cg != c // geo.groups:
        raise LoweringError(f"groups={geo.groups} does not fit x channels {c} and w shape {w.shape}")
    if min(geo.strides + geo.dilations) < 1 or min(geo.pads) < 0:
        raise LoweringError(f"bad strides {geo.strides}, dilations {geo.dilations} or pads {geo.pads}")
    ho, wo = geo.out_size(h, wi)
    if y.shape != (n, o, ho, wo):
        raise LoweringError(f"conv2d output shape {y.shape} != expected {(n, o, ho, wo)}")


@dataclass(frozen=True)
class _Job:
    """What every bundle of one conv shares."""

    em: Emitter
    x: ActTensor
    y: ActTensor
    w: np.ndarray
    w_zp: int
    geo: ConvGeometry
    m: np.ndarray
    s: np.ndarray
    bias: np.ndarray
    requant: Requant
    zp_row: int
    wzp: np.ndarray | None = None  # per output channel weight zero points for GEMM wzp_en (then w_zp is 0)


Plan = tuple[float, int, int, str | None, bool]  # (estimate, tile_m, tile_nt, bias mode, banded)
CLOSE_CALL = 0.75  # estimates closer than this ratio are settled by the full model on both programs ...
SMALL_LAYER = 500_000  # ... for layers under this many estimated cycles (fixed costs blur the estimate there)


def _plans(job: _Job, nt: int, kt: int, bias: np.ndarray, band: bool) -> list[Plan]:
    """(estimated cycles, tile_m, tile_nt, bias mode, banded) for each bias mode of one layout."""
    cfg, dim, geo = job.em.config, job.em.config.dim, job.geo
    n, _, ho, wo = job.y.shape
    taps = geo.kh * geo.kw if band else 1
    gather = gather_row_cycles(cfg, dim)
    wp = (wo - 1) * geo.strides[1] + (geo.kw - 1) * geo.dilations[1] + 1

    def band_rows(tm: int) -> int:
        return ((tm // wo - 1) * geo.strides[0] + (geo.kh - 1) * geo.dilations[0] + 1) * wp

    modes: list[str | None] = [None] if not bias.any() else ["row"] if job.em.isa_minor >= 1 else \
        ["acc"] + (["gemm"] if bias_chunk(bias, dim, nt) else [])
    wzp_rows = nt if job.wzp is not None else 0
    candidates = [r * wo for r in range(1, ho + 1) if band_rows(r * wo) <= cfg.sp_rows] if band \
        else _tile_candidates(ho, wo)
    out = []
    for mode in modes:
        def estimate(tm: int, tn: int, mode: str | None = mode) -> float:
            rows = [blk[2] * blk[4] for blk in _blocks(n, ho, wo, tm)]
            a_cost = band_rows(tm) * gather / (taps * tm) if band else gather
            return estimate_cycles(cfg, rows, kt * taps, nt, tn, a_cost, True, mode)

        try:
            plan = best_tiles(cfg, candidates, nt, True, estimate, int(mode == "gemm") + wzp_rows,
                              band_rows if band else None, taps, bias_rows=mode == "row")
        except Unsupported:
            continue
        out.append((*plan, mode, band))
    return out


def _schedule(job: _Job, g0: int, g1: int, chunks: list[_Chunk], img: _Image, plan: Plan,
              dry: bool) -> list[Instr]:
    """The program of one plan; `dry` builds it without allocating constants (offsets 0: timing only)."""
    em, cfg, dim, geo = job.em, job.em.config, job.em.config.dim, job.geo
    n, _, ho, wo = job.y.shape
    og = job.y.shape[1] // geo.groups
    nt, o_sl = -(-(g1 - g0) * og // dim), slice(g0 * og, g1 * og)
    _, tile_m, tile_nt, mode, band = plan
    taps = geo.kh * geo.kw if band else 1
    order = sorted(chunks, key=lambda ch: (ch.boff, int(ch.tap[0][0]), int(ch.tap[1][0]))) if band else chunks

    def const(make) -> int:
        return 0 if dry else em.const(make())

    chunk = bias_chunk(job.bias[o_sl], dim, nt) if mode == "gemm" else None
    zps = job.w_zp if job.wzp is None else job.wzp
    ops = GemmOperands(kt=len(order) // taps, nt=nt, a_zp=job.x.zero_point, a_signed=job.x.signed,
                       w_zp=job.w_zp, w_signed=job.w.dtype == np.int8, requant=job.requant, taps=taps,
                       w=const(lambda: weight_tiles(_bundle_weights(job.w, zps, geo, order, g0, g1, dim), dim,
                                                    job.w_zp)),
                       bias=const(lambda: int32_row(job.bias[o_sl], nt * dim)) if mode in ("acc", "row") else None,
                       bias_en=mode == "row",
                       wzp=None if job.wzp is None else const(lambda: _zp_rows(job.wzp[o_sl], job.w.dtype, nt, dim)),
                       params=const(lambda: param_rows(dim, job.m[o_sl], job.s[o_sl], nt)),
                       bias_gemm=(const(lambda: chunk[0]), const(lambda: chunk[1])) if chunk else None)
    blocks = _blocks(n, ho, wo, tile_m)
    args = (cfg, img, order[::taps], geo.strides, job.y, (g0 * og, g1 * og), job.x.zero_point, job.zp_row, blocks)
    source = _BandSource(*args, geo=geo, lanes=[ch.lanes for ch in order[::taps]]) if band else _ConvSource(*args)
    return GemmSchedule(cfg, ops, source, len(blocks), tile_m, tile_nt).build()


def _zp_rows(zp: np.ndarray, dtype: np.dtype, nt: int, dim: int) -> bytes:
    """Per-column weight zero points as nt SP rows of dim bytes (GEMM wzp_en's wzp_row of each column tile)."""
    rows = np.zeros(nt * dim, dtype=dtype)
    rows[: zp.size] = zp
    return rows.tobytes()


def _weights(em: Emitter, w: np.ndarray, w_zero_point: np.ndarray | int) -> tuple[np.ndarray, int, np.ndarray | None]:
    """(weights, scalar w_zp, per-channel zero points for wzp_en or None): per-channel zero points fold into
    int8 weights when w - zp fits; otherwise ISA 1.1's GEMM wzp_en subtracts them at preload (9-bit exact)."""
    try:
        w8, wzp = weights_8bit(w, w_zero_point)
        return w8, wzp, None
    except Unsupported:
        if em.isa_minor < 1:
            raise
    zp = np.broadcast_to(np.asarray(w_zero_point, dtype=np.int64).ravel(), (w.shape[0],))
    return w, 0, zp.copy()


def _bundle(job: _Job, g0: int, g1: int, chunks: list[_Chunk], img: _Image,
            packed: bool = False) -> tuple[list[Instr], str]:
    """The GEMM schedule of groups g0..g1-1 (their weights, bias and parameters as constants): per-tap chunks,
    or input bands read once per channel chunk (taps as shifted views). The quick estimate ranks tilings within
    each layout; when the two layouts' best estimates are close on a small layer, the full model decides."""
    cfg, geo = job.em.config, job.geo
    og = job.y.shape[1] // geo.groups
    nt = -(-(g1 - g0) * og // cfg.dim)
    bias, taps = job.bias[g0 * og : g1 * og], geo.kh * geo.kw
    best = [min(p, key=lambda q: q[0]) for p in (_plans(job, nt, len(chunks), bias, False),
            _plans(job, nt, len(chunks) // taps, bias, True) if not packed and taps > 1 else [])
            if p]
    if not best:
        raise Unsupported(f"no tiling fits sp_rows={cfg.sp_rows}, acc_rows={cfg.acc_rows} (double-buffered)")
    plan = min(best, key=lambda q: q[0])
    low, high = sorted(q[0] for q in best) if len(best) == 2 else (0, 1)
    if len(best) == 2 and low / high > CLOSE_CALL and high < SMALL_LAYER:
        plan = min(best, key=lambda q: predict_cycles(cfg, _schedule(job, g0, g1, chunks, img, q, dry=True)))
    _, tile_m, tile_nt, mode, band = plan
    kt = len(chunks) // taps if band else len(chunks)
    return _schedule(job, g0, g1, chunks, img, plan, dry=False), (
        f"groups {g0}..{g1 - 1}: {kt} chunks{f' x {taps} taps (bands)' if band else ''}, tiles {tile_m} x "
        f"{tile_nt}, bias {mode}")


def conv2d(em: Emitter, x: ActTensor, y: ActTensor, w: np.ndarray, w_scale: np.ndarray | float,
           w_zero_point: np.ndarray | int, bias: np.ndarray | None, strides: Sequence[int] = (1, 1),
           pads: Sequence[int] = (0, 0, 0, 0), dilations: Sequence[int] = (1, 1), groups: int = 1,
           clamp: tuple[int, int] | None = None) -> LayerCost:
    """y = clamp(requant(conv(x - x.zp, w - w_zp) + bias)) with the per-channel multiplier x.scale*w_scale/y.scale.

    x, y: NHWC activations (logical NCHW shapes); w: (O, C/groups, kH, kW) int8/uint8; w_zero_point scalar or
    per channel (differing per-channel zero points fold into int8 weights when w - zp fits; else GEMM wzp_en on
    ISA 1.1, Unsupported on 1.0); bias int32 per
    output channel or None; pads (top, left, bottom, right); clamp: output bounds of a fused Relu/Clip.
    """
    w = np.asarray(w)
    geo = ConvGeometry(int(w.shape[2]), int(w.shape[3]), tuple(strides), tuple(pads), tuple(dilations), int(groups))
    _check(x, y, w, geo)
    w8, wzp, per_channel = _weights(em, w, w_zero_point)
    dim = em.config.dim
    n, h, wi, c = x.nhwc
    o, cg = w.shape[:2]
    og = o // geo.groups
    m, s = multipliers(x.scale * np.broadcast_to(np.asarray(w_scale, dtype=np.float64), (o,)) / y.scale)
    lo, hi = clamp_bounds(y, clamp)
    bias32 = np.zeros(o, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64).reshape(o)
    job = _Job(em, x, y, w8, wzp, geo, m, s, bias32, Requant(y.signed, y.zero_point, lo, hi),
               em.const(bytes([x.zp_byte]) * dim), per_channel)
    program: list[Instr] = []
    notes = []
    if _packed(geo, c, dim):
        image = _pad_copy(em, x, geo.pads, job.zp_row, program) if any(geo.pads) else _Image(x.offset, n, h, wi, c)
        flat = ConvGeometry(geo.kh, geo.kw, geo.strides, (0, 0, 0, 0), geo.dilations, 1)
        bundles = [(0, 1, _row_chunks(flat, c, dim), image, True)]
        notes.append("packed kernel rows" + (" (zero-point-padded copy)" if any(geo.pads) else ""))
    else:
        per = max(1, dim // max(cg, og)) if geo.groups > 1 else 1
        image = _Image(x.offset, n, h, wi, c)
        bundles = [(g0, min(g0 + per, geo.groups), _tap_chunks(geo, (min(g0 + per, geo.groups) - g0) * cg,
                                                               g0 * cg, dim), image, False)
                   for g0 in range(0, geo.groups, per)]
    for g0, g1, chunks, img, packed in bundles:
        if program:
            program.append(Instr(Opcode.SYNC))  # the next bundle (or the padded copy's reader) reuses every buffer
        instrs, note = _bundle(job, g0, g1, chunks, img, packed)
        program += instrs
        notes.append(note)
    return finish_layer(em, program, n * y.shape[2] * y.shape[3] * o * cg * geo.kh * geo.kw, notes)
