"""Data movers by strided DMA: Concat, Split, Slice, Pad, Transpose, DepthToSpace, Expand, Reshape/relayout.

Every mover is one primitive, `copy_box`: walk a box of indices, reading the byte at src + sum(i_k * s_k) and
writing it at dst + sum(i_k * d_k). The axes are ordered so that the destination's innermost axis is last; axes
contiguous on both sides merge, and the innermost contiguous run becomes the row (dim bytes at most, a chunk
axis when longer); up to three axes map onto LOAD/STORE's x, y, z, outer axes become separate LOAD/STORE
pairs. Rows pass through SP in bands that alternate between two halves (`schedule.pipeline`, with a compute-queue
NOP relaying the tokens). A transpose that moves the innermost axis degenerates to one-byte rows: correct, but
one DMA burst per element (the cost model shows it).

Operators are described on logical shapes (NCHW for 4-D); `_strides` gives each logical axis's byte stride in
DRAM (NHWC for 4-D, row-major otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np

from nux.compiler.lower.common import finish_layer
from nux.compiler.lower.perf import predict_cycles
from nux.compiler.lower.schedule import Band, pipeline
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.isa import Instr, Mem, Opcode

Axis = tuple[int, int, int]  # (size, source stride, destination stride)
Move = tuple[int, int, list[Axis], Axis]  # (source offset, destination offset, <= 3 axes outer->inner, row axis)
CONTIGUOUS = 1  # a row axis's lane stride when its bytes are consecutive (LOAD/STORE without lane_stride)


def _strides(t: ActTensor) -> list[int]:
    """Byte stride of each logical axis in DRAM."""
    if len(t.shape) == 4:
        n, c, h, w = t.shape
        return [h * w * c, 1, w * c, c]
    return [prod(t.shape[k + 1 :]) for k in range(len(t.shape))]


def _normalize(axes: list[Axis]) -> tuple[list[Axis], int]:
    """Drop size-1 axes, order by destination stride (innermost last), merge contiguous ones; return the axes
    without the innermost contiguous run, and that run's length in bytes."""
    axes = sorted((a for a in axes if a[0] > 1), key=lambda a: (a[2], a[1]), reverse=True)
    merged: list[Axis] = []
    for size, s, d in axes:
        if merged and merged[-1][1] == s * size and merged[-1][2] == d * size:
            prev = merged.pop()
            size, s, d = prev[0] * size, s, d
        merged.append((size, s, d))
    if merged and merged[-1][1] == 1 and merged[-1][2] == 1:
        return merged[:-1], merged[-1][0]
    return merged, 1


def _moves(src: int, dst: int, axes: list[Axis], row: Axis, dim: int, band: int) -> list[Move]:
    """Split the walk into LOAD/STORE-sized moves: rows of <= dim lanes, <= 3 axes, <= band rows each.

    `row` is (lanes, source lane stride, destination lane stride): (run, 1, 1) for a contiguous run."""
    lanes, ls, ld = row
    if lanes > dim:  # the row becomes a chunk axis (plus a ragged tail)
        full, tail = divmod(lanes, dim)
        out = _moves(src, dst, axes + [(full, dim * ls, dim * ld)], (dim, ls, ld), dim, band)
        if tail:
            out += _moves(src + full * dim * ls, dst + full * dim * ld, axes, (tail, ls, ld), dim, band)
        return out
    if not axes:
        return [(src, dst, [(1, 0, 0)], row)]
    rows = prod(a[0] for a in axes)
    if len(axes) <= 3 and rows <= band:
        return [(src, dst, axes, row)]
    size, s, d = axes[0]
    inner = prod(a[0] for a in axes[1:])
    if len(axes) <= 3 and inner <= band:  # pieces of the outermost axis, as many indices as a band holds
        step = band // inner
        return [(src + i * s, dst + i * d, [(min(step, size - i), s, d)] + axes[1:], row)
                for i in range(0, size, step)]
    return [m for i in range(size) for m in _moves(src + i * s, dst + i * d, axes[1:], row, dim, band)]


def _band_of(moves: list[Move], half: int, parity: int, dim: int) -> Band:
    """A band's loads (LOAD, or GATHER for a lane-strided source row) and stores (STORE, lane_stride if the
    destination row is lane-strided)."""
    loads, stores, row = [], [], parity * half
    for src, dst, axes, (lanes, ls, ld) in moves:
        axes = [(1, 0, 0)] * (3 - len(axes)) + axes
        (zs, zsrc, zdst), (ys, ysrc, ydst), (xs, xsrc, xdst) = axes
        geometry = dict(x_size=xs, y_size=ys, z_size=zs, row_elems=lanes % dim)
        gather = dict(lane_stride=ls) if ls != CONTIGUOUS and lanes > 1 else {}
        loads.append(Instr(Opcode.GATHER if gather else Opcode.LOAD, dst=Mem.SP, dst_row=row, dram_offset=src,
                           x_stride=xsrc, y_stride=ysrc, z_stride=zsrc, **geometry, **gather))
        scatter = dict(lane_stride=ld) if ld != CONTIGUOUS and lanes > 1 else {}
        stores.append(Instr(Opcode.STORE, src=Mem.SP, src_row=row, dram_offset=dst, x_stride=xdst, y_stride=ydst,
                            z_stride=zdst, **geometry, **scatter))
        row += xs * ys * zs
    return loads, [Instr(Opcode.NOP, queue=1)], stores


def _row_choices(inner: list[Axis], run: int, isa_minor: int) -> list[tuple[list[Axis], Axis]]:
    """(outer axes, row axis) ways to walk a normalized box: the contiguous run (one-byte rows when nothing is
    contiguous on both sides), and with ISA 1.1 any axis contiguous on one side as a lane-strided row (GATHER
    reads its lanes at the source stride, or STORE writes them at the destination stride)."""
    choices = [(inner, (run, CONTIGUOUS, CONTIGUOUS))]
    if isa_minor < 1 or run > 1:
        return choices
    for k, (size, s, d) in enumerate(inner):
        if (s == 1 and d > 1) or (d == 1 and s > 1):
            choices.append((inner[:k] + inner[k + 1 :], (size, s, d)))
    return choices


def copy_box(em: Emitter, src: int, dst: int, axes: list[Axis]) -> list[Instr]:
    """Instructions copying the box `axes` = [(size, source stride, destination stride)] (module docstring):
    of the ways to form rows (`_row_choices`), the one the performance model prices lowest."""
    cfg = em.config
    inner, run = _normalize(list(axes))
    programs = [_emit_moves(em, _moves(src, dst, outer, row, cfg.dim, cfg.sp_rows // 2))
                for outer, row in _row_choices(inner, run, em.isa_minor)]
    return min(programs, key=lambda p: predict_cycles(cfg, p)) if len(programs) > 1 else programs[0]


def fill(em: Emitter, dst: int, nbytes: int, value: int) -> list[Instr]:
    """Instructions writing `nbytes` copies of a byte at dst (rows of dim bytes read again and again)."""
    dim = em.config.dim
    row = em.const(bytes([value & 0xFF]) * dim)
    full, tail = divmod(nbytes, dim)
    moves = _moves(row, dst, [(full, 0, dim)], (dim, 1, 1), dim, em.config.sp_rows // 2) if full else []
    if tail:
        moves.append((row, dst + full * dim, [(1, 0, 0)], (tail, 1, 1)))
    return _emit_moves(em, moves)


def _emit_moves(em: Emitter, moves: list[Move]) -> list[Instr]:
    dim, half = em.config.dim, em.config.sp_rows // 2
    if not moves:
        return []
    for _, _, m_axes, _ in moves:
        if any(size > 0xFFFF for size, _, _ in m_axes):
            raise Unsupported("a data-mover axis longer than the LOAD/STORE size fields (65535)")
    bands, current, rows = [], [], 0
    for move in moves:
        n = prod(a[0] for a in move[2])
        if current and rows + n > half:
            bands.append(current)
            current, rows = [], 0
        current.append(move)
        rows += n
    bands.append(current)
    return pipeline([_band_of(b, half, i % 2, dim) for i, b in enumerate(bands)], store_reads_loads=True)


def _finish(em: Emitter, program: list[Instr], what: str) -> LayerCost:
    return finish_layer(em, program, 0, [what])


def _chain(parts: list[list[Instr]]) -> list[Instr]:
    """Pipelines one after another: each reuses both SP halves, so a SYNC separates them."""
    out: list[Instr] = []
    for part in parts:
        if out and part:
            out.append(Instr(Opcode.SYNC))
        out += part
    return out


def _box(shape: Sequence[int], src_strides: Sequence[int], dst_strides: Sequence[int]) -> list[Axis]:
    return [(int(n), int(s), int(d)) for n, s, d in zip(shape, src_strides, dst_strides, strict=True)]


def _row_major(shape: Sequence[int]) -> list[int]:
    return [prod(shape[k + 1 :]) for k in range(len(shape))]


def copy(em: Emitter, x: ActTensor, y: ActTensor) -> LayerCost:
    """Reshape / Flatten / Identity / relayout: y's elements in x's logical row-major order.

    A reshape between two different 4-D shapes (both NHWC in DRAM) goes through a row-major scratch copy.
    """
    if x.nbytes != y.nbytes or x.dtype != y.dtype:
        raise LoweringError(f"copy of {x.shape} {x.dtype} into {y.shape} {y.dtype}")
    if x.shape == y.shape:
        return _finish(em, copy_box(em, x.offset, y.offset, _box(x.shape, _strides(x), _strides(y))), "copy")
    if len(y.shape) != 4 or len(x.shape) != 4:  # walk x's logical box into row-major / row-major into y's box
        axes = _box(x.shape, _strides(x), _row_major(x.shape)) if len(y.shape) != 4 else \
            _box(y.shape, _row_major(y.shape), _strides(y))
        return _finish(em, copy_box(em, x.offset, y.offset, axes), "copy")
    flat = em.scratch(x.nbytes)
    program = _chain([copy_box(em, x.offset, flat, _box(x.shape, _strides(x), _row_major(x.shape))),
                      copy_box(em, flat, y.offset, _box(y.shape, _row_major(y.shape), _strides(y)))])
    return _finish(em, program, "copy (through a row-major scratch)")


def transpose(em: Emitter, x: ActTensor, y: ActTensor, perm: Sequence[int]) -> LayerCost:
    """y = x.transpose(perm) on logical axes (any rank, any layouts: one-byte rows when innermost moves)."""
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(len(x.shape))) or tuple(x.shape[p] for p in perm) != y.shape:
        raise LoweringError(f"transpose {perm} of {x.shape} is not {y.shape}")
    xs = _strides(x)
    return _finish(em, copy_box(em, x.offset, y.offset, _box(y.shape, [xs[p] for p in perm], _strides(y))),
                   "transpose")


def concat(em: Emitter, inputs: Sequence[ActTensor], y: ActTensor, axis: int) -> LayerCost:
    """Concat along a logical axis: each input is a box placed at its offset along `axis` in y."""
    axis %= len(y.shape)
    ys, parts, at = _strides(y), [], 0
    for t in inputs:
        if t.dtype != y.dtype or t.scale != y.scale or t.zero_point != y.zero_point:
            raise Unsupported("Concat inputs with different quantization than the output (needs a requant)")
        parts.append(copy_box(em, t.offset, y.offset + at * ys[axis], _box(t.shape, _strides(t), ys)))
        at += t.shape[axis]
    if at != y.shape[axis]:
        raise LoweringError(f"concat sizes along axis {axis} sum to {at}, output has {y.shape[axis]}")
    return _finish(em, _chain(parts), "concat")


def split(em: Emitter, x: ActTensor, outputs: Sequence[ActTensor], axis: int) -> LayerCost:
    """Split along a logical axis into consecutive pieces."""
    axis %= len(x.shape)
    xs, parts, at = _strides(x), [], 0
    for t in outputs:
        parts.append(copy_box(em, x.offset + at * xs[axis], t.offset, _box(t.shape, xs, _strides(t))))
        at += t.shape[axis]
    return _finish(em, _chain(parts), "split")


def slice_(em: Emitter, x: ActTensor, y: ActTensor, starts: Sequence[int], steps: Sequence[int]) -> LayerCost:
    """Slice with resolved per-axis starts and positive steps (y.shape gives the counts)."""
    if any(s < 1 for s in steps):
        raise Unsupported("Slice with negative steps")
    xs = _strides(x)
    src = x.offset + sum(int(a) * s for a, s in zip(starts, xs, strict=True))
    return _finish(em, copy_box(em, src, y.offset, _box(y.shape, [s * k for s, k in zip(xs, steps, strict=True)],
                                                         _strides(y))), "slice")


def pad(em: Emitter, x: ActTensor, y: ActTensor, pads_begin: Sequence[int], value: int | None = None) -> LayerCost:
    """Constant Pad: y filled with `value` (default x's zero point), then x copied in at pads_begin."""
    ys = _strides(y)
    dst = y.offset + sum(int(p) * s for p, s in zip(pads_begin, ys, strict=True))
    program = _chain([fill(em, y.offset, y.nbytes, x.zero_point if value is None else int(value)),
                      copy_box(em, x.offset, dst, _box(x.shape, _strides(x), ys))])
    return _finish(em, program, "pad")


def expand(em: Emitter, x: ActTensor, y: ActTensor) -> LayerCost:
    """Expand (numpy broadcasting of x to y.shape): broadcast axes read with stride 0."""
    lead = len(y.shape) - len(x.shape)
    shape = (1,) * lead + x.shape
    xs = [0] * lead + _strides(x)
    if any(a not in (1, b) for a, b in zip(shape, y.shape, strict=True)):
        raise LoweringError(f"cannot expand {x.shape} to {y.shape}")
    src = [0 if a == 1 and b > 1 else s for a, b, s in zip(shape, y.shape, xs, strict=True)]
    return _finish(em, copy_box(em, x.offset, y.offset, _box(y.shape, src, _strides(y))), "expand")


def depth_to_space(em: Emitter, x: ActTensor, y: ActTensor, block: int, mode: str = "DCR") -> LayerCost:
    """DepthToSpace: y[n, c, h*b+i, w*b+j] = x[n, channel(i, j, c), h, w] (DCR: (i*b+j)*C'+c; CRD: c*b*b+i*b+j)."""
    n, c, h, w = x.shape
    cp = c // (block * block)
    if y.shape != (n, cp, h * block, w * block) or mode not in ("DCR", "CRD"):
        raise LoweringError(f"depth_to_space {x.shape} b={block} {mode} -> {y.shape}")
    xs, ys = _strides(x), _strides(y)
    ci = (block * cp, cp, 1) if mode == "DCR" else (block, 1, block * block)  # channel strides of (i, j, c)
    axes = [(n, xs[0], ys[0]), (h, xs[2], ys[2] * block), (w, xs[3], ys[3] * block),
            (block, ci[0] * xs[1], ys[2]), (block, ci[1] * xs[1], ys[3]), (cp, ci[2] * xs[1], ys[1])]
    return _finish(em, copy_box(em, x.offset, y.offset, axes), f"depth_to_space {mode}")


def space_to_depth(em: Emitter, x: ActTensor, y: ActTensor, block: int) -> LayerCost:
    """SpaceToDepth: y[n, (i*b+j)*C + c, h, w] = x[n, c, h*b+i, w*b+j] (DepthToSpace DCR's inverse)."""
    n, c, h, w = x.shape
    if h % block or w % block or y.shape != (n, c * block * block, h // block, w // block):
        raise LoweringError(f"space_to_depth {x.shape} b={block} -> {y.shape}")
    xs, ys = _strides(x), _strides(y)
    axes = [(n, xs[0], ys[0]), (h // block, xs[2] * block, ys[2]), (w // block, xs[3] * block, ys[3]),
            (block, xs[2], ys[1] * block * c), (block, xs[3], ys[1] * c), (c, xs[1], ys[1])]
    return _finish(em, copy_box(em, x.offset, y.offset, axes), "space_to_depth")


def progressions(index: np.ndarray) -> list[tuple[int, int]] | None:
    """index[i] = index[0] + sum_k i_k * step_k as nested (size, step) axes, outer first, or None.

    A channel shuffle's indices (0, C/g, 2C/g, ..., 1, C/g + 1, ...) are [(C/g, 1), (g, C/g)]: one box."""
    if index.size == 1:
        return []
    step = int(index[1] - index[0])
    run = 1
    while run < index.size and index[run] == index[0] + run * step:
        run += 1
    if index.size % run or not np.array_equal(
            index.reshape(-1, run), index[::run, None] + step * np.arange(run)[None, :]):
        return None
    outer = progressions(index[::run])
    return None if outer is None else outer + [(run, step)]


def _runs(index: np.ndarray) -> list[tuple[int, int, int]]:
    """(position, length, step >= 0) arithmetic runs covering `index` (a fallback when it is not one box)."""
    out, i = [], 0
    while i < index.size:
        step = int(index[i + 1] - index[i]) if i + 1 < index.size else 0
        step = max(step, 0)
        j = i + 1
        while j < index.size and index[j] == index[i] + (j - i) * step:
            j += 1
        out.append((i, j - i, step))
        i = j
    return out


def gather(em: Emitter, x: ActTensor, y: ActTensor, index: Sequence[int], axis: int, keep_axis: bool = True) \
        -> LayerCost:
    """Gather with constant indices along `axis` (y = x.take(index, axis)): one box when the indices are nested
    arithmetic progressions (a channel shuffle, a strided selection), else one box per arithmetic run.
    `keep_axis` False: a scalar index, y has x's rank minus one."""
    idx = np.asarray(index, dtype=np.int64).reshape(-1)
    size = x.shape[axis]
    if idx.size == 0 or idx.min() < -size or idx.max() >= size:
        raise LoweringError(f"gather indices out of range for axis {axis} of {x.shape}")
    idx = np.where(idx < 0, idx + size, idx)
    shape = x.shape[:axis] + (idx.size,) + x.shape[axis + 1:]
    if (y.shape if keep_axis else y.shape[:axis] + (1,) + y.shape[axis:]) != shape:
        raise LoweringError(f"gather of {idx.size} indices along axis {axis} of {x.shape} is not {y.shape}")
    xs, ys = _strides(x), _strides(y)
    if not keep_axis:
        ys = ys[:axis] + [0] + ys[axis:]
    around = [(n, s, d) for k, (n, s, d) in enumerate(zip(shape, xs, ys, strict=True)) if k != axis]
    steps = progressions(idx)
    if steps is not None and min(step for _, step in steps + [(1, 0)]) >= 0:
        inner = [prod(n for n, _ in steps[k + 1:]) for k in range(len(steps))]
        axes = around + [(n, step * xs[axis], ys[axis] * i) for (n, step), i in zip(steps, inner, strict=True)]
        return _finish(em, copy_box(em, x.offset + int(idx[0]) * xs[axis], y.offset, axes), "gather")
    parts = [copy_box(em, x.offset + int(idx[at]) * xs[axis], y.offset + at * ys[axis],
                      around + [(length, step * xs[axis], ys[axis])]) for at, length, step in _runs(idx)]
    return _finish(em, _chain(parts), f"gather ({len(parts)} runs)")


__all__ = ["concat", "copy", "copy_box", "depth_to_space", "expand", "fill", "gather", "pad", "progressions",
           "slice_", "space_to_depth", "split", "transpose"]
