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

from nux.compiler.lower.common import finish_layer
from nux.compiler.lower.schedule import Band, pipeline
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.isa import Instr, Mem, Opcode

Axis = tuple[int, int, int]  # (size, source stride, destination stride)
Move = tuple[int, int, list[Axis], int]  # (source offset, destination offset, <= 3 axes outer->inner, row bytes)


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


def _moves(src: int, dst: int, axes: list[Axis], run: int, dim: int, band: int) -> list[Move]:
    """Split the walk into LOAD/STORE-sized moves: rows of <= dim bytes, <= 3 axes, <= band rows each."""
    if run > dim:  # the run becomes a chunk axis (plus a ragged tail)
        full, tail = divmod(run, dim)
        out = _moves(src, dst, axes + [(full, dim, dim)], dim, dim, band)
        if tail:
            out += _moves(src + full * dim, dst + full * dim, axes, tail, dim, band)
        return out
    if not axes:
        return [(src, dst, [(1, 0, 0)], run)]
    rows = prod(a[0] for a in axes)
    if len(axes) <= 3 and rows <= band:
        return [(src, dst, axes, run)]
    size, s, d = axes[0]
    inner = prod(a[0] for a in axes[1:])
    if len(axes) <= 3 and inner <= band:  # pieces of the outermost axis, as many indices as a band holds
        step = band // inner
        return [(src + i * s, dst + i * d, [(min(step, size - i), s, d)] + axes[1:], run)
                for i in range(0, size, step)]
    return [m for i in range(size) for m in _moves(src + i * s, dst + i * d, axes[1:], run, dim, band)]


def _band_of(moves: list[Move], half: int, parity: int, dim: int) -> Band:
    loads, stores, row = [], [], parity * half
    for src, dst, axes, run in moves:
        axes = [(1, 0, 0)] * (3 - len(axes)) + axes
        (zs, zsrc, zdst), (ys, ysrc, ydst), (xs, xsrc, xdst) = axes
        geometry = dict(x_size=xs, y_size=ys, z_size=zs, row_elems=run % dim)
        loads.append(Instr(Opcode.LOAD, dst=Mem.SP, dst_row=row, dram_offset=src, x_stride=xsrc, y_stride=ysrc,
                           z_stride=zsrc, **geometry))
        stores.append(Instr(Opcode.STORE, src=Mem.SP, src_row=row, dram_offset=dst, x_stride=xdst, y_stride=ydst,
                            z_stride=zdst, **geometry))
        row += xs * ys * zs
    return loads, [Instr(Opcode.NOP, queue=1)], stores


def copy_box(em: Emitter, src: int, dst: int, axes: list[Axis]) -> list[Instr]:
    """Instructions copying the box `axes` = [(size, source stride, destination stride)] (module docstring)."""
    inner, run = _normalize(list(axes))
    return _emit_moves(em, _moves(src, dst, inner, run, em.config.dim, em.config.sp_rows // 2))


def fill(em: Emitter, dst: int, nbytes: int, value: int) -> list[Instr]:
    """Instructions writing `nbytes` copies of a byte at dst (rows of dim bytes read again and again)."""
    dim = em.config.dim
    row = em.const(bytes([value & 0xFF]) * dim)
    full, tail = divmod(nbytes, dim)
    moves = _moves(row, dst, [(full, 0, dim)], dim, dim, em.config.sp_rows // 2) if full else []
    if tail:
        moves.append((row, dst + full * dim, [(1, 0, 0)], tail))
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


def copy(em: Emitter, x: ActTensor, y: ActTensor) -> LayerCost:
    """Reshape / Flatten / Identity / relayout: y's elements in x's logical row-major order.

    4-D tensors are NHWC in DRAM, so a reshape that changes a 4-D shape into another 4-D shape is Unsupported.
    """
    if x.nbytes != y.nbytes or x.dtype != y.dtype:
        raise LoweringError(f"copy of {x.shape} {x.dtype} into {y.shape} {y.dtype}")
    if len(y.shape) != 4:  # walk x's logical box; y is row-major in x's logical order
        axes = _box(x.shape, _strides(x), [prod(x.shape[k + 1 :]) for k in range(len(x.shape))])
    elif len(x.shape) != 4 or x.shape == y.shape:
        axes = _box(y.shape, [prod(y.shape[k + 1 :]) for k in range(4)] if x.shape != y.shape else _strides(x),
                    _strides(y))
    else:
        raise Unsupported(f"reshape {x.shape} -> {y.shape} between two NHWC 4-D layouts")
    return _finish(em, copy_box(em, x.offset, y.offset, axes), "copy")


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


__all__ = ["concat", "copy", "copy_box", "depth_to_space", "expand", "fill", "pad", "slice_", "split", "transpose"]
