"""Softmax on ISA 1.1: REDUCE MAX, LUTW exp table, REDUCE SUM with RECIP, REQUANT row_scale.

Per vector (the elements one softmax normalizes; `rowgroups` lays them out in SP, chunk-major):

1. `REDUCE max, dst_sp` leaves the vector's largest byte M broadcast in an SP row;
2. `LUTW diff` writes e = T[M - x] into ACC, where T[d] = round(2^K * exp(-beta * x.scale * d)) is a 256-entry
   int32 table (K as large as keeps the sum of `length` entries below 2^31);
3. `REDUCE sum, src=acc, post=recip, post_shift=P` turns S = sum(e) into the multiplier (m, s) of e * 2^P / S;
4. `REQUANT row_scale` computes v = MBQM(e, m, s) (the probability in units of 2^-P) and requantizes v to y
   with the per-lane multiplier 1 / (2^P * y.scale), zero point and clamp (P = q when y.scale = 2^-q, such as
   TFLite's 1/256: the per-lane stage is then the exact identity).

T, K, P and the per-lane multiplier are `nux.golden.kernels.softmax_params`, so y equals the golden
`kernels.softmax` bit for bit; against float softmax the error is the table's rounding (2^-K relative) plus the
rounding of step 4: within one step of onnxruntime's and TFLite's.
"""

from __future__ import annotations

from collections.abc import Sequence

from nux.compiler.lower.common import finish_layer
from nux.compiler.lower.rowgroups import (
    Band,
    Groups,
    band_program,
    groups_of,
    lane_params,
    lutw_table,
    per_band,
    row_scaled_requant,
    store_band,
)
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, Unsupported
from nux.golden.kernels import softmax_params
from nux.isa import Instr, Mem, Opcode, ReduceOp, ReducePost


def softmax(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int], beta: float = 1.0) -> LayerCost:
    """Softmax of x over the logical `axes` (one axis, or ONNX < 13's trailing axes), quantized to y."""
    if y.shape != x.shape:
        raise Unsupported(f"Softmax output {y.shape} differs from its input {x.shape}")
    if not beta > 0:
        raise Unsupported(f"Softmax with beta={beta} (only beta > 0)")
    g = groups_of(x, y, axes)
    if g is None:
        raise Unsupported(f"Softmax over axes {sorted(axes)} that are not one strided run in memory")
    dim = em.config.dim
    rows = g.rows(dim)
    nv = per_band(em, g, 2 * rows + 1, rows + 1, acc_fixed=2, row_scaled=True)
    params = softmax_params(g.length, x.scale, beta, y.scale)
    p = params.post_shift
    consts = [lutw_table(em, params.table), lane_params(em, params.out_m, params.out_s, 0)]

    def compute(n: int, sp: int, acc: int) -> list[Instr]:
        return _band_compute(g, x, y, n, dim, sp, acc, p)

    def store(band: Band, sp: int) -> list[Instr]:
        return store_band(g, band, sp + band.nv * (rows + 1), dim)

    program = band_program(g, x, y, nv, (nv * (2 * rows + 1), nv * (rows + 1)), (0, 2), consts, compute, store,
                           dim)
    return finish_layer(em, program, 0, [f"softmax over {g.length} (exp table 2^{params.k})"])


def _band_compute(g: Groups, x: ActTensor, y: ActTensor, nv: int, dim: int, sp: int, acc: int,
                  p: int) -> list[Instr]:
    """Max row, exps, reciprocal multiplier and the requant of one band (module docstring)."""
    rows = g.rows(dim)
    m_row, out_row, e_row, p_row = sp + nv * rows, sp + nv * (rows + 1), acc, acc + nv * rows
    walk = dict(group_rows=rows, n_groups=nv, a_rstride=nv, a_gstride=1, last_lanes=g.last_lanes(dim))
    signed = int(x.signed)
    program = [
        Instr(Opcode.REDUCE, rop=ReduceOp.MAX, src=Mem.SP, dst_sp=1, a_signed=signed, a_base=sp, out_row=m_row,
              **walk),
        Instr(Opcode.LUTW, diff=1, a_signed=signed, b_signed=signed, a_base=sp, b_base=m_row, out_base=e_row,
              x_size=nv, y_size=rows, a_xstride=1, a_ystride=nv, b_xstride=1),
        Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, post=ReducePost.RECIP, post_shift=p, a_base=e_row,
              out_row=p_row, **walk),
    ]
    return program + row_scaled_requant(g, y, nv, dim, e_row, out_row, p_row)
