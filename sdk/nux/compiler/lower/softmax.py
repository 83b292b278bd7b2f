"""Softmax on ISA 1.1: REDUCE MAX, LUTW exp table, REDUCE SUM with RECIP, REQUANT row_scale.

Per vector (the elements one softmax normalizes; `rowgroups` lays them out in SP, chunk-major):

1. `REDUCE max, dst_sp` leaves the vector's largest byte M broadcast in an SP row;
2. `LUTW diff` writes e = T[M - x] into ACC, where T[d] = round(2^K * exp(-beta * x.scale * d)) is a 256-entry
   int32 table (`exp_table`; K as large as keeps the sum of `length` entries below 2^31);
3. `REDUCE sum, src=acc, post=recip, post_shift=P` turns S = sum(e) into the multiplier (m, s) of e * 2^P / S;
4. `REQUANT row_scale` computes v = MBQM(e, m, s) (the probability in units of 2^-P) and requantizes v to y
   with the per-lane multiplier 1 / (2^P * y.scale), zero point and clamp (`rowgroups.row_scale_params`: one
   exact rounding when y.scale is a power of two such as TFLite's 1/256, else 12 bits of headroom).

All of it is integer arithmetic the golden model defines, so y equals `reference` bit for bit; against float
softmax the error is the table's rounding (2^-K relative) plus the rounding of step 4: within one step of
onnxruntime's and TFLite's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nux.compiler.lower.common import finish_layer
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
from nux.isa import Instr, Mem, Opcode, ReduceOp, ReducePost

INT32_MAX = (1 << 31) - 1


def table_bits(length: int) -> int:
    """K: the largest exponent with length * 2^K <= INT32_MAX (the sum of the exps cannot wrap), at most 30."""
    return min(30, int(math.floor(math.log2(INT32_MAX / length))))


def exp_table(x_scale: float, beta: float, length: int) -> np.ndarray:
    """T[d] = round(2^K * exp(-beta * x_scale * d)) for d = M - x in 0..255, as int32."""
    d = np.arange(256, dtype=np.float64)
    return np.round(np.ldexp(np.exp(-beta * x_scale * d), table_bits(length))).astype(np.int64)


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
    p, m, s = row_scale_params(1.0, y.scale)
    consts = [lutw_table(em, exp_table(x.scale, beta, g.length)), lane_params(em, m, s, 0)]

    def compute(n: int, sp: int, acc: int) -> list[Instr]:
        return _band_compute(g, x, y, n, dim, sp, acc, p)

    def store(band: Band, sp: int) -> list[Instr]:
        return store_band(g, band, sp + band.nv * (rows + 1), dim)

    program = band_program(g, x, y, nv, (nv * (2 * rows + 1), nv * (rows + 1)), (0, 2), consts, compute, store,
                           dim)
    return finish_layer(em, program, 0, [f"softmax over {g.length} (exp table 2^{table_bits(g.length)})"])


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


def reference(x: np.ndarray, x_scale: float, y_scale: float, y_zp: int, y_signed: bool,
              axes: Sequence[int], beta: float = 1.0) -> np.ndarray:
    """The integer softmax this lowering computes, in NumPy from the golden model's pieces (for tests and docs)."""
    from nux.golden.requant import mbqm, requant
    from nux.golden.rowops import recip_multiplier

    axes = tuple(int(a) % x.ndim for a in axes)
    length = int(np.prod([x.shape[a] for a in axes]))
    xi = x.astype(np.int64)
    d = np.clip(xi.max(axis=axes, keepdims=True) - xi, 0, 255)
    e = exp_table(x_scale, beta, length)[d]
    p, m2, s2 = row_scale_params(1.0, y_scale)
    m, s = recip_multiplier(e.sum(axis=axes, keepdims=True), p)
    v = mbqm(e, np.broadcast_to(m, e.shape), np.broadcast_to(s, e.shape))
    lo, hi = (-128, 127) if y_signed else (0, 255)
    return requant(v, m2, s2, y_zp, lo, hi).astype(np.int8 if y_signed else np.uint8)
