"""Reduction groups in DRAM and SP: the layout Softmax, LpNormalization and the Reduce* lowerings share (ISA 1.1).

An operator that reduces over a set of axes sees its input as *vectors*: the `length` elements one output (or
one softmax/normalization) depends on. In DRAM the reduced axes must merge into one strided axis (`lane_stride`
bytes between elements: 1 when contiguous, e.g. channels of an NHWC tensor; C for a softmax over W); the kept
axes enumerate the vectors, merged where both x and y allow, the innermost one cut into bands of `nv` vectors.

In SP a band is laid out chunk-major: element e of vector v is lane e % dim of row `base + (e // dim) * nv + v`,
so a vector's rows form an arithmetic progression (REDUCE `a_rstride = nv`, `a_gstride = 1`) whose last row
holds the `tail` lanes (REDUCE `last_lanes`), and one LOAD (contiguous) or GATHER (strided lanes) per band moves
the full chunks (x = vectors, y = chunks), one more the tails. STORE moves rows back the same way (with
`lane_stride` when the axis is strided). Instruction fields are 16 bits, so a band is at most 65535 rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from nux.compiler.lower.common import multipliers, param_rows
from nux.compiler.lower.movers import _strides
from nux.compiler.lower.schedule import pipeline
from nux.compiler.lower.target import ActTensor, Emitter, LoweringError, Unsupported
from nux.isa import Instr, Mem, Opcode

MAX_ROWS = 0xFFFF


@dataclass(frozen=True)
class Kept:
    """A kept (vector-enumerating) axis: `count` vectors, `x_stride` / `y_stride` bytes apart in x and y."""

    count: int
    x_stride: int
    y_stride: int


@dataclass(frozen=True)
class Groups:
    """x's vectors: `length` elements `lane_stride` bytes apart, enumerated by `kept` (outermost first)."""

    length: int
    lane_stride: int
    y_lane_stride: int
    kept: tuple[Kept, ...]

    @property
    def vectors(self) -> int:
        n = 1
        for k in self.kept:
            n *= k.count
        return n

    def chunks(self, dim: int) -> tuple[int, int]:
        """(full rows, lanes of the tail row; 0 = no tail) of one vector."""
        return divmod(self.length, dim)

    def rows(self, dim: int) -> int:
        """SP rows of one vector."""
        return -(-self.length // dim)

    def last_lanes(self, dim: int) -> int:
        """Lanes in a vector's last row, as REDUCE's `last_lanes` (0 means dim)."""
        return self.length % dim


def _merge(axes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Merge adjacent (size, stride, ...) axes (outermost first) whose every stride continues the next axis."""
    merged: list[tuple[int, ...]] = []
    for axis in axes:
        if merged and all(merged[-1][i] == axis[0] * axis[i] for i in range(1, len(axis))):
            prev = merged.pop()
            axis = (prev[0] * axis[0], *axis[1:])
        merged.append(axis)
    return merged


def groups_of(x: ActTensor, y: ActTensor, axes: Sequence[int]) -> Groups | None:
    """x's vectors over logical `axes`, with y one value per vector (any keepdims) or x's own shape.

    None when the reduced axes do not merge into one strided DRAM axis (the caller transposes first or gives up).
    """
    rank = len(x.shape)
    reduced = {int(a) % rank for a in axes}
    xs = _strides(x)
    same = y.shape == x.shape
    if same:
        ys = xs
    else:
        kept_shape = [d for a, d in enumerate(x.shape) if a not in reduced]
        if y.nbytes != max(1, _prod(kept_shape)):
            raise LoweringError(f"reducing {x.shape} over {sorted(reduced)} cannot give {y.shape}")
        ys = _kept_strides(x.shape, reduced, y)
    order = sorted(range(rank), key=lambda a: xs[a], reverse=True)  # storage order, outermost first
    red = _merge([(x.shape[a], xs[a], ys[a] if same else 0) for a in order if a in reduced and x.shape[a] > 1])
    if len(red) > 1:
        return None
    length, lane, y_lane = red[0] if red else (1, 1, 1)
    kept = _merge([(x.shape[a], xs[a], ys[a]) for a in order if a not in reduced and x.shape[a] > 1])
    return Groups(length, lane, y_lane if same else 0, tuple(Kept(*k) for k in kept))


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _kept_strides(shape: Sequence[int], reduced: set[int], y: ActTensor) -> list[int]:
    """Byte stride in y of each of x's logical axes (0 for reduced ones), for y with or without kept dims."""
    ys = _strides(y)
    if len(y.shape) == len(shape):
        return [0 if a in reduced else ys[a] for a in range(len(shape))]
    kept = [a for a in range(len(shape)) if a not in reduced]
    if len(kept) != len(y.shape):
        raise LoweringError(f"y {y.shape} is neither x {tuple(shape)} with kept dims nor without them")
    out = [0] * len(shape)
    for i, a in enumerate(kept):
        out[a] = ys[i]
    return out


@dataclass(frozen=True)
class Band:
    """`nv` consecutive vectors: x's first at DRAM offset `x_off`, y's at `y_off`."""

    x_off: int
    y_off: int
    nv: int


def bands(g: Groups, x: ActTensor, y: ActTensor, per_band: int) -> Iterator[Band]:
    """Every vector once, in bands of at most `per_band` along the innermost kept axis."""
    if not g.kept:
        yield Band(x.offset, y.offset, 1)
        return
    *outer, inner = g.kept
    for idx in product(*(range(k.count) for k in outer)):
        xo = x.offset + sum(i * k.x_stride for i, k in zip(idx, outer, strict=True))
        yo = y.offset + sum(i * k.y_stride for i, k in zip(idx, outer, strict=True))
        for v0 in range(0, inner.count, per_band):
            yield Band(xo + v0 * inner.x_stride, yo + v0 * inner.y_stride, min(per_band, inner.count - v0))


def vector_stride(g: Groups, which: str) -> int:
    """DRAM bytes between consecutive vectors of a band in x or y."""
    return getattr(g.kept[-1], f"{which}_stride") if g.kept else 0


def per_band(em: Emitter, g: Groups, sp_per_vector: int, acc_per_vector: int, sp_fixed: int = 0,
             acc_fixed: int = 0, row_scaled: bool = False) -> int:
    """Vectors per band with two band buffers in SP and ACC (beyond the fixed rows), capped by 16-bit fields.

    `row_scaled` (the band ends in `row_scaled_requant`): several vectors cost one REQUANT per chunk row (rows x
    (overhead + nv) cycles), one vector a single REQUANT (overhead + rows), so long vectors go one per band."""
    cfg = em.config
    if em.isa_minor < 1:
        raise Unsupported("needs ISA 1.1 (REDUCE/LUTW); the target implements ISA 1.0")
    fits = [(cfg.sp_rows - sp_fixed) // (2 * sp_per_vector)]
    if acc_per_vector:
        fits.append((cfg.acc_rows - acc_fixed) // (2 * acc_per_vector))
    count = min(*fits, MAX_ROWS // g.rows(cfg.dim), g.kept[-1].count if g.kept else 1)
    if count < 1:
        raise Unsupported(f"a vector of {g.length} elements ({g.rows(cfg.dim)} rows) does not fit "
                          f"sp_rows={cfg.sp_rows} / acc_rows={cfg.acc_rows} double-buffered")
    return 1 if row_scaled and g.rows(cfg.dim) >= count else count


def _dma(g: Groups, lane_stride: int, mem_row: dict[str, int], off: int, stride: int, nv: int, dim: int,
         opcode: Opcode, **fields: int) -> list[Instr]:
    """The one or two LOAD/GATHER/STORE instructions of a band's chunk-major rows (module docstring)."""
    full, tail = g.chunks(dim)
    strided = {} if lane_stride == 1 else {"lane_stride": lane_stride}
    out = []
    row_key, row0 = next(iter(mem_row.items()))
    if full:
        walk = (dict(x_size=full, x_stride=dim * lane_stride) if nv == 1 else
                dict(x_size=nv, x_stride=stride, y_size=full, y_stride=dim * lane_stride))
        out.append(Instr(opcode, dram_offset=off, **{row_key: row0}, **walk, **strided, **fields))
    if tail:
        out.append(Instr(opcode, dram_offset=off + full * dim * lane_stride, **{row_key: row0 + full * nv},
                         x_size=nv, x_stride=stride, row_elems=tail, **strided, **fields))
    return out


def load_band(g: Groups, x: ActTensor, band: Band, sp_row: int, dim: int, pad: int | None = None) -> list[Instr]:
    """Bring a band of x into SP rows from `sp_row` (chunk-major); unused lanes hold `pad` (default x's zp)."""
    opcode = Opcode.LOAD if g.lane_stride == 1 else Opcode.GATHER
    fill = x.zp_byte if pad is None else pad & 0xFF
    return _dma(g, g.lane_stride, {"dst_row": sp_row}, band.x_off, vector_stride(g, "x"), band.nv, dim, opcode,
                dst=Mem.SP, pad_value=fill)


def store_band(g: Groups, band: Band, sp_row: int, dim: int) -> list[Instr]:
    """Write a band's chunk-major SP rows from `sp_row` back to y (x's shape)."""
    return _dma(g, g.y_lane_stride, {"src_row": sp_row}, band.y_off, vector_stride(g, "y"), band.nv, dim,
                Opcode.STORE, src=Mem.SP)


def store_results(g: Groups, band: Band, sp_row: int) -> list[Instr]:
    """Write lane 0 of SP rows sp_row .. sp_row + nv - 1 (one result per vector) to y."""
    return [Instr(Opcode.STORE, src=Mem.SP, src_row=sp_row, dram_offset=band.y_off, x_size=band.nv,
                  x_stride=vector_stride(g, "y"), row_elems=1)]


HEADROOM_BITS = 12  # bits of a row-scaled value below y's quantization step when y.scale is no power of two


def row_scale_params(real: float, y_scale: float) -> tuple[int, int, int]:
    """(P, m, s) of a two-stage requant of `value * real / y_scale`: REDUCE's post_shift P makes the row-scaled
    v = value * 2^P, then the per-lane multiplier real / (2^P * y_scale) brings v to y. When real / y_scale is a
    power of two 2^P (TFLite's 1/128 and 1/256 outputs) that is the identity (2^30, 1), exact: one rounding in
    all; otherwise P keeps HEADROOM_BITS below y's step (P <= 29 keeps v = value * 2^P inside int32 for
    |value| <= 1)."""
    ratio = real / y_scale
    mantissa, exponent = math.frexp(ratio)
    if mantissa == 0.5 and 0 <= exponent - 1 <= 29:
        p = exponent - 1
    else:
        p = int(min(29, max(0, round(math.log2(ratio)) + HEADROOM_BITS)))
    m, s = multipliers(np.array([ratio / (1 << p)]))
    return p, int(m[0]), int(s[0])


def lutw_table(em: Emitter, table: np.ndarray) -> Instr:
    """A LOAD of a 256-entry int32 table into the wide LUT (256 / dim rows of dim int32)."""
    dim = em.config.dim
    blob = em.const(np.asarray(table, dtype="<i4").tobytes())
    return Instr(Opcode.LOAD, dst=Mem.LUTW, dst_row=0, dram_offset=blob, x_size=256 // dim, x_stride=4 * dim)


def lane_params(em: Emitter, m: int, s: int, acc_row: int) -> Instr:
    """A LOAD of the per-lane REQUANT parameter rows (m and s in every lane) into ACC rows acc_row, acc_row + 1."""
    dim = em.config.dim
    blob = em.const(param_rows(dim, np.full(dim, m), np.full(dim, s), 1))
    return Instr(Opcode.LOAD, dst=Mem.ACC, dst_row=acc_row, dram_offset=blob, x_size=2, x_stride=4 * dim)


def out_fields(y: ActTensor) -> dict[str, int]:
    """REQUANT's output fields for y (its type's full range), per-lane parameters in ACC rows 0 and 1."""
    lo, hi = y.qrange
    return dict(out_signed=int(y.signed), out_zp=y.zp_byte, clamp_lo=lo & 0xFF, clamp_hi=hi & 0xFF, param_row=0)


def row_scaled_requant(g: Groups, y: ActTensor, nv: int, dim: int, acc_row: int, sp_row: int,
                       p_row: int) -> list[Instr]:
    """REQUANT row_scale of a band's chunk-major ACC rows into SP, vector v scaled by ACC[p_row + v].

    REQUANT's groups are runs of consecutive rows, so a band of several vectors takes one REQUANT per chunk row
    (nv rows, one per vector); a single vector is one REQUANT."""
    fields = dict(out_fields(y), row_scale=1, rowp_base=p_row)
    rows = g.rows(dim)
    if nv == 1:
        return [Instr(Opcode.REQUANT, acc_base=acc_row, sp_base=sp_row, n_rows=rows, group_rows=rows, **fields)]
    return [Instr(Opcode.REQUANT, acc_base=acc_row + j * nv, sp_base=sp_row + j * nv, n_rows=nv, group_rows=1,
                  **fields) for j in range(rows)]


def band_program(g: Groups, x: ActTensor, y: ActTensor, nv: int, halves: tuple[int, int], fixed: tuple[int, int],
                 prologue: list[Instr], compute: Callable[[int, int, int], list[Instr]],
                 store: Callable[[Band, int], list[Instr]], dim: int) -> list[Instr]:
    """Every band through `pipeline`: band i loads into SP half i % 2 (`halves` = SP and ACC rows per half,
    after `fixed` SP and ACC rows), `compute(nv, sp, acc)` works on it, `store(band, sp)` writes it back;
    `prologue` (constant loads) goes before the first band's loads."""
    parts = []
    for i, band in enumerate(bands(g, x, y, nv)):
        sp, acc = fixed[0] + (i % 2) * halves[0], fixed[1] + (i % 2) * halves[1]
        parts.append((load_band(g, x, band, sp, dim), compute(band.nv, sp, acc), store(band, sp)))
    parts[0] = (prologue + parts[0][0], parts[0][1], parts[0][2])
    return pipeline(parts)


__all__ = ["HEADROOM_BITS", "Band", "Groups", "Kept", "band_program", "bands", "groups_of", "lane_params",
           "load_band", "lutw_table", "out_fields", "per_band", "row_scale_params",
           "row_scaled_requant", "store_band", "store_results", "vector_stride"]
