"""ReduceSum / ReduceMean / ReduceMax / ReduceL2.

ISA 1.0 paths, reused on 1.1 (they run at one GEMM/POOL row per pixel):
- over channels (axis 1 of a 4-D tensor, or the last axis of a matrix): a 1 x 1 convolution with one output
  channel of ones; the requant multiplier is x.scale / y.scale (sum) or x.scale / (C * y.scale) (mean);
- over H and W (axes 2, 3): a whole-image POOL sum, requantized by x.scale / y.scale (sum) or divided by the
  window size (mean, = GlobalAveragePool).

ISA 1.1 (`REDUCE`), any other axis set whose axes form one strided run in memory (`rowgroups`; otherwise the
input is first copied into a scratch with the reduced axes innermost): per vector, `REDUCE` sums (max) x - zp into
an ACC row and a REQUANT by x.scale / y.scale (mean: x.scale / (count * y.scale)) writes the byte (golden
`kernels.reduce_sum`); ReduceL2 takes S = sum((x - zp)^2) into ACC, then `REDUCE sum, src=acc, post=rsqrt` over
lane 0 gives 1/sqrt(S) as (m, t), and `REQUANT row_scale` computes v = MBQM(S, m, t + P) = sqrt(S) * 2^P
(P = 10), brought to y by x.scale / (2^P * y.scale) (golden `kernels.reduce_l2`).

keepdims only changes y's logical shape, not its bytes (NHWC with a 1-sized axis is the same as row-major
without it), so y may be given either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nux.compiler.lower.common import finish_layer, multipliers
from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.movers import _strides, copy_box
from nux.compiler.lower.pool import global_avg_pool
from nux.compiler.lower.rowgroups import (
    Band,
    Groups,
    band_program,
    groups_of,
    lane_params,
    out_fields,
    per_band,
    store_results,
)
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.golden.kernels import REDUCE_L2_POST_SHIFT
from nux.isa import Instr, Mem, Opcode, ReduceOp, ReducePost

MAX_SUMSQ_LENGTH = ((1 << 31) - 1) // (255 * 255)  # longer vectors could wrap the int32 sum of squares


def _legacy(em: Emitter, x: ActTensor, y: ActTensor, axes_set: set[int], mean: bool) -> LayerCost | None:
    """The ISA 1.0 lowering (module docstring) when the axes are channels or H x W, else None."""
    rank = len(x.shape)
    if rank != 4 and axes_set != {rank - 1}:
        return None
    if rank != 4:
        rows = int(np.prod(x.shape[:-1]))
        x = ActTensor(x.offset, (1, x.shape[-1], 1, rows), x.dtype, x.scale, x.zero_point)  # NHWC bytes = rows
        axes_set = {1}
    n, c, h, w = x.shape
    if axes_set not in ({1}, {2, 3}):
        return None
    if y.nbytes != (n * h * w if axes_set == {1} else n * c):
        raise LoweringError(f"reduce over {sorted(axes_set)} of {x.shape} cannot give {y.shape}")
    if axes_set == {2, 3}:
        y4 = ActTensor(y.offset, (n, c, 1, 1), y.dtype, y.scale, y.zero_point)
        return global_avg_pool(em, x, y4, divide=mean)
    y4 = ActTensor(y.offset, (n, 1, h, w), y.dtype, y.scale, y.zero_point)
    return conv2d(em, x, y4, np.ones((1, c, 1, 1), dtype=np.int8), 1.0 / c if mean else 1.0, 0, None)


def _grouped(em: Emitter, x: ActTensor, y: ActTensor, axes: set[int]) -> tuple[ActTensor, Groups, list[Instr]]:
    """x's vectors over `axes`; when they are no strided run, x copied to a scratch (kept axes, reduced axes)
    first, returned with the copy's instructions."""
    g = groups_of(x, y, axes)
    if g is not None:
        return x, g, []
    strides = _strides(x)
    kept = [a for a in range(len(x.shape)) if a not in axes]
    order = kept + sorted(axes, key=lambda a: strides[a], reverse=True)
    shape = [x.shape[a] for a in order]
    flat = ActTensor(em.scratch(x.nbytes), (int(np.prod(shape[: len(kept)])), int(np.prod(shape[len(kept):]))),
                     x.dtype, x.scale, x.zero_point)
    dst = [int(np.prod(shape[k + 1:])) for k in range(len(shape))]
    copy = copy_box(em, x.offset, flat.offset, [(d, strides[a], dst[k]) for k, (a, d) in
                                                  enumerate(zip(order, shape, strict=True))])
    flat_y = ActTensor(y.offset, (flat.shape[0], 1), y.dtype, y.scale, y.zero_point)
    return flat, groups_of(flat, flat_y, [1]), copy + [Instr(Opcode.SYNC)]


def _per_vector(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int], rop: ReduceOp,
                real: float) -> LayerCost:
    """One byte per vector: REDUCE rop of x - zp into ACC, REQUANT by the multiplier `real` (ReduceL2: see the
    module docstring)."""
    axes_set = {int(a) % len(x.shape) for a in axes}
    source, g, prologue = _grouped(em, x, y, axes_set)
    if rop is ReduceOp.SUMSQ and g.length > MAX_SUMSQ_LENGTH:
        raise Unsupported(f"ReduceL2 over {g.length} elements: the int32 sum of squares could wrap")
    dim = em.config.dim
    rows = g.rows(dim)
    l2 = rop is ReduceOp.SUMSQ
    nv = per_band(em, g, rows + 1, 2 if l2 else 1, acc_fixed=2)
    shift = REDUCE_L2_POST_SHIFT if l2 else 0  # ReduceL2: v = sqrt(S) * 2^P, golden kernels.reduce_l2
    (m,), (s,) = multipliers(np.array([real / (1 << shift)]))
    m, s = int(m), int(s)
    walk = dict(rop=rop, src=Mem.SP, a_signed=int(source.signed), a_zp=source.zp_byte, group_rows=rows,
                a_gstride=1, last_lanes=g.last_lanes(dim))

    def compute(n: int, sp: int, acc: int) -> list[Instr]:
        out = sp + n * rows
        program = [Instr(Opcode.REDUCE, a_base=sp, out_row=acc, n_groups=n, a_rstride=n, **walk)]
        if not l2:
            return program + [Instr(Opcode.REQUANT, acc_base=acc, sp_base=out, n_rows=n, **out_fields(y))]
        return program + [  # 1/sqrt of lane 0 of each S row
            Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, post=ReducePost.RSQRT, post_shift=shift,
                  a_base=acc, out_row=acc + n, n_groups=n, a_gstride=1, last_lanes=1),
            Instr(Opcode.REQUANT, acc_base=acc, sp_base=out, n_rows=n, row_scale=1, rowp_base=acc + n,
                  group_rows=1, **out_fields(y))]

    def store(band: Band, sp: int) -> list[Instr]:
        return store_results(g, band, sp + band.nv * rows)

    program = prologue + band_program(g, source, y, nv,
                                      (nv * (rows + 1), nv * (2 if l2 else 1)), (0, 2), [lane_params(em, m, s, 0)],
                                      compute, store, dim)
    return finish_layer(em, program, 0, [f"{rop.name.lower()} over {g.length} per vector (REDUCE)"])


def _reduce(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int], mean: bool) -> LayerCost:
    rank = len(x.shape)
    axes_set = {int(a) % rank for a in axes}
    done = _legacy(em, x, y, axes_set, mean)
    if done is not None:
        return done
    if em.isa_minor < 1:
        raise Unsupported(f"reduction over axes {sorted(axes_set)} of a rank-{rank} tensor on ISA 1.0 "
                          "(channels or H x W only; other axes need REDUCE of ISA 1.1)")
    count = int(np.prod([x.shape[a] for a in axes_set]))
    return _per_vector(em, x, y, axes_set, ReduceOp.SUM, x.scale / (count * y.scale) if mean else x.scale / y.scale)


def reduce_sum(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceSum over any axes (module docstring), requantized to y."""
    return _reduce(em, x, y, axes, mean=False)


def reduce_mean(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceMean over any axes (module docstring), requantized to y."""
    return _reduce(em, x, y, axes, mean=True)


def reduce_max(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceMax over any axes (ISA 1.1): REDUCE max of x - zp, requantized by x.scale / y.scale (monotonic)."""
    return _per_vector(em, x, y, axes, ReduceOp.MAX, x.scale / y.scale)


def reduce_l2(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceL2 over any axes (ISA 1.1): sqrt(sum((x - zp)^2)) * x.scale, requantized to y."""
    return _per_vector(em, x, y, axes, ReduceOp.SUMSQ, x.scale / y.scale)
