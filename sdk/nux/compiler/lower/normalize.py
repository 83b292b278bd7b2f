"""LpNormalization on ISA 1.1. p = 2: LUTW brings x - zp into ACC, REDUCE SUMSQ with RSQRT, REQUANT row_scale.

Per vector (laid out by `rowgroups`), with (A, P) = golden `kernels.l2_normalize_shifts`:

1. `LUTW` (no diff) writes T[byte] = (x - zp) * 2^A into ACC;
2. `REDUCE sumsq, post=rsqrt, post_shift=P` turns S = sum((x - zp)^2) into TFLite's inverse-sqrt multiplier
   (m, t) with the shift raised by P;
3. `REQUANT row_scale` computes v = MBQM((x - zp) * 2^A, m, t + P) = (x - zp) / sqrt(S) * 2^(A + P) and brings
   v to y with the per-lane multiplier 1 / (2^(A + P) * y.scale): golden `kernels.l2_normalize`, bit for bit.

At TFLite's output scale 1/128, (A, P) = (0, 7) for int8 and (7, 0) for uint8 and the per-lane stage is the
identity: exactly TFLite's reference L2_NORMALIZATION, int8 `MBQM(x - zp, m, t + 7)` and uint8
`RDBPOT(SRDHM(128 * (x - zp), m), -t)` (t <= 0, so MBQM is exactly that); other output scales take 20 fraction
bits (A = 0, P = 20). A vector of zeros gives y's zero point.

p = 1: two `LUTW diff` passes with the identity table against an SP row of zero points give max(x - zp, 0) and
max(zp - x, 0) in consecutive ACC rows, one `REDUCE sum, src=acc, post=recip, post_shift=P` over both turns
S = sum|x - zp| into the multiplier of 2^P / S, a GEMM with the identity tile puts x - zp into ACC, and
`REQUANT row_scale` computes v = MBQM(x - zp, m, s) = (x - zp) / S * 2^P, brought to y by 1 / (2^P * y.scale)
(`rowgroups.row_scale_params`; no golden kernel yet: the tests build its reference from golden pieces).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nux.compiler.lower.common import finish_layer, multipliers
from nux.compiler.lower.rowgroups import (
    Band,
    Groups,
    band_program,
    groups_of,
    lane_params,
    lutw_table,
    per_band,
    row_scale_params,
    row_scaled_requant,
    store_band,
)
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, Unsupported
from nux.golden.kernels import l2_normalize_shifts
from nux.isa import Instr, Mem, Opcode, ReduceOp, ReducePost

MAX_SUMSQ_LENGTH = ((1 << 31) - 1) // (255 * 255)  # longer vectors could wrap the int32 sum of squares


def value_table(x: ActTensor, shift: int) -> np.ndarray:
    """T[byte] = (value of byte per x's dtype - x.zp) * 2^shift: the LUTW table that puts x - zp into ACC."""
    raw = np.arange(256, dtype=np.int64)
    values = raw - 256 * (raw >= 128) if x.signed else raw
    return (values - x.zero_point) << shift


def lp_normalize(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int], p: int = 2) -> LayerCost:
    """y = x / ||x||_p over the logical `axes` (p = 1 or 2), quantized to y (module docstring)."""
    if p not in (1, 2):
        raise Unsupported(f"LpNormalization with p={p} (only p = 1 and p = 2)")
    if y.shape != x.shape:
        raise Unsupported(f"LpNormalization output {y.shape} differs from its input {x.shape}")
    g = groups_of(x, y, axes)
    if g is None:
        raise Unsupported(f"LpNormalization over axes {sorted(axes)} that are not one strided run in memory")
    if g.length > MAX_SUMSQ_LENGTH:
        raise Unsupported(f"LpNormalization over {g.length} elements: the int32 sum of squares could wrap")
    dim = em.config.dim
    rows = g.rows(dim)
    if p == 1:
        return _l1(em, g, x, y, *row_scale_params(1.0, y.scale))
    nv = per_band(em, g, 2 * rows, rows + 1, acc_fixed=2, row_scaled=True)
    pre, post = l2_normalize_shifts(x.signed, y.scale)
    (m,), (s,) = multipliers(np.array([1.0 / (2.0 ** (pre + post) * y.scale)]))
    consts = [lutw_table(em, value_table(x, pre)), lane_params(em, int(m), int(s), 0)]

    def compute(n: int, sp: int, acc: int) -> list[Instr]:
        return _band_compute(g, x, y, n, dim, sp, acc, post)

    def store(band: Band, sp: int) -> list[Instr]:
        return store_band(g, band, sp + band.nv * rows, dim)

    program = band_program(g, x, y, nv, (nv * 2 * rows, nv * (rows + 1)), (0, 2), consts, compute, store, dim)
    return finish_layer(em, program, 0, [f"L2 normalization over {g.length}"])


def _l1(em: Emitter, g: Groups, x: ActTensor, y: ActTensor, shift: int, m: int, s: int) -> LayerCost:
    """p = 1 (module docstring): SP rows 0..dim-1 hold the identity tile, row dim the zero points."""
    dim = em.config.dim
    rows = g.rows(dim)
    nv = per_band(em, g, 2 * rows, 3 * rows + 1, sp_fixed=dim + 1, acc_fixed=2, row_scaled=True)
    fixed = np.vstack([np.eye(dim, dtype=np.int64), np.full((1, dim), x.zp_byte)]).astype(np.uint8)
    consts = [lutw_table(em, np.arange(256)), lane_params(em, m, s, 0),
              Instr(Opcode.LOAD, dst=Mem.SP, dst_row=0, dram_offset=em.const(fixed.tobytes()), x_size=dim + 1,
                    x_stride=dim)]
    signs = dict(a_signed=int(x.signed), b_signed=int(x.signed), diff=1)

    def compute(n: int, sp: int, acc: int) -> list[Instr]:
        total = n * rows
        pos, neg, val, p_row, out = acc, acc + total, acc + 2 * total, acc + 3 * total, sp + total
        return [Instr(Opcode.LUTW, a_base=dim, b_base=sp, out_base=pos, x_size=total, b_xstride=1, **signs),
                Instr(Opcode.LUTW, a_base=sp, b_base=dim, out_base=neg, x_size=total, a_xstride=1, **signs),
                Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, post=ReducePost.RECIP, post_shift=shift,
                      a_base=pos, out_row=p_row, group_rows=2 * rows, n_groups=n, a_rstride=n, a_gstride=1),
                Instr(Opcode.GEMM, preload=1, a_signed=int(x.signed), w_signed=1, a_zp=x.zp_byte, w_row=0,
                      acc_base=val, a_base=sp, x_size=total, a_xstride=1),
                *row_scaled_requant(g, y, n, dim, val, out, p_row)]

    def store(band: Band, sp: int) -> list[Instr]:
        return store_band(g, band, sp + band.nv * rows, dim)

    program = band_program(g, x, y, nv, (nv * 2 * rows, nv * (3 * rows + 1)), (dim + 1, 2), consts, compute,
                           store, dim)
    return finish_layer(em, program, 0, [f"L1 normalization over {g.length}"])


def _band_compute(g: Groups, x: ActTensor, y: ActTensor, nv: int, dim: int, sp: int, acc: int,
                  post_shift: int) -> list[Instr]:
    rows = g.rows(dim)
    out_row, p_row = sp + nv * rows, acc + nv * rows
    program = [
        Instr(Opcode.LUTW, a_signed=int(x.signed), a_base=sp, out_base=acc, x_size=nv * rows, a_xstride=1),
        Instr(Opcode.REDUCE, rop=ReduceOp.SUMSQ, src=Mem.SP, a_signed=int(x.signed), a_zp=x.zp_byte,
              post=ReducePost.RSQRT, post_shift=post_shift, a_base=sp, out_row=p_row, group_rows=rows,
              n_groups=nv, a_rstride=nv, a_gstride=1, last_lanes=g.last_lanes(dim)),
    ]
    return program + row_scaled_requant(g, y, nv, dim, acc, out_row, p_row)
