"""Elementwise layers on the VECTOR instruction: Add, Mul (TFLite rescale semantics), Mean of two, LUT unary ops.

Tensors are streamed as SP rows of dim bytes, in bands that alternate between two buffer sets
(`schedule.pipeline`). Three operand shapes:

- same shape: the flat bytes (NHWC or row-major alike) as contiguous dim-byte rows, one LOAD per operand;
- per-channel B (logical (1, C, 1, 1) for 4-D, or the last axis): A as (pixels, C), one channel chunk of dim
  lanes at a time (strided rows), B's chunk one SP row read with stride 0;
- scalar B: B's byte is spread over all lanes once (a GEMM with a tile whose row 0 is ones, then an identity
  REQUANT back to its own zero point) and read with stride 0.

ADD uses VECTOR rows 0/1 (output), 2/3 (A), 4/5 (B) from `nux.golden.kernels.add_params` with add_shift 20; MUL
the single multiplier a.scale * b.scale / y.scale; both clamp to the output type intersected with a fused clamp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nux.compiler.lower.common import clamp_bounds, finish_layer, multipliers, param_rows
from nux.compiler.lower.schedule import Band, pipeline
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.golden.kernels import ADD_LEFT_SHIFT, add_params, make_lut
from nux.isa import Instr, Mem, Opcode, VectorOp

IDENTITY = (1 << 30, 1)  # MBQM(x, 2^30, 1) == x


@dataclass(frozen=True)
class _Segment:
    """`rows` rows of `lanes` bytes: A at a_off + i*stride, B at b_off (+ i*stride unless b_fixed), out alike."""

    a_off: int
    b_off: int | None
    out_off: int
    rows: int
    stride: int
    lanes: int
    b_fixed: bool


def _flat_segments(a: ActTensor, b: ActTensor | None, y: ActTensor, dim: int, b_fixed: bool) -> list[_Segment]:
    full, tail = divmod(a.nbytes, dim)
    boff = None if b is None else b.offset
    segs = [_Segment(a.offset, boff, y.offset, full, dim, dim, b_fixed)] if full else []
    if tail:
        bt = None if b is None else (b.offset if b_fixed else b.offset + full * dim)
        segs.append(_Segment(a.offset + full * dim, bt, y.offset + full * dim, 1, dim, tail, b_fixed))
    return segs


def _channel_segments(a: ActTensor, b: ActTensor, y: ActTensor, dim: int) -> list[_Segment]:
    c = a.shape[1] if len(a.shape) == 4 else a.shape[-1]
    pixels = a.nbytes // c
    return [_Segment(a.offset + c0, b.offset + c0, y.offset + c0, pixels, c, min(dim, c - c0), True)
            for c0 in range(0, c, dim)]


def broadcast_kind(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """How operand shape b streams against a (the output's shape): "same", "scalar", "channel" (one value per
    channel: (1, C, 1, 1) for 4-D, the last axis otherwise), or None (another broadcast: expand b first)."""
    if a == b:
        return "same"
    size = int(np.prod(b, dtype=np.int64))
    if size == 1:
        return "scalar"
    c = a[1] if len(a) == 4 else a[-1]
    per_channel = (1, c, 1, 1) if len(a) == 4 else (1,) * (len(a) - 1) + (c,)
    return "channel" if b in (per_channel, (c,)) and size == c else None


def _broadcast_kind(a: ActTensor, b: ActTensor) -> str:
    kind = broadcast_kind(a.shape, b.shape)
    if kind is None:
        raise Unsupported(f"broadcasting {b.shape} onto {a.shape} (only same shape, per-channel or scalar)")
    return kind


class _Streamer:
    """Bands of segments through VECTOR: SP = [broadcast row | 2 x (A band, B band, output band)]."""

    def __init__(self, em: Emitter, vector: Instr, param_blob: int | None, param_count: int, prologue: list[Instr],
                 lut: int | None = None):
        self.em, self.dim = em, em.config.dim
        self.vector, self.prologue = vector, prologue
        self.band = max(1, (em.config.sp_rows - 1) // 6)
        self.preload = []
        if param_blob is not None:
            self.preload.append(Instr(Opcode.LOAD, dst=Mem.ACC, dst_row=0, dram_offset=param_blob,
                                      x_size=param_count, x_stride=self.dim * 4))
        if lut is not None:
            self.preload.append(Instr(Opcode.LOAD, dst=Mem.LUT, dst_row=0, dram_offset=lut,
                                      x_size=em.config.lut_rows, x_stride=self.dim))

    def _band(self, seg: _Segment, r0: int, rows: int, parity: int, bcast_row: int | None) -> Band:
        dim, base = self.dim, 1 + parity * 3 * self.band
        a_row, b_row, o_row = base, base + self.band, base + 2 * self.band
        el = seg.lanes % dim
        loads = [Instr(Opcode.LOAD, dst=Mem.SP, dst_row=a_row, dram_offset=seg.a_off + r0 * seg.stride,
                       x_size=rows, x_stride=seg.stride, row_elems=el)]
        b_stride = 0 if seg.b_fixed else 1
        if bcast_row is not None:
            b_row = bcast_row
        elif seg.b_off is not None:
            b_first = seg.b_off + (0 if seg.b_fixed else r0 * seg.stride)
            loads.append(Instr(Opcode.LOAD, dst=Mem.SP, dst_row=b_row, dram_offset=b_first,
                               x_size=1 if seg.b_fixed else rows, x_stride=seg.stride, row_elems=el))
        compute = self.vector.replace(a_base=a_row, b_base=b_row, out_base=o_row, x_size=rows, a_xstride=1,
                                      b_xstride=b_stride)
        store = Instr(Opcode.STORE, src=Mem.SP, src_row=o_row, dram_offset=seg.out_off + r0 * seg.stride,
                      x_size=rows, x_stride=seg.stride, row_elems=el)
        return loads, [compute], [store]

    def build(self, segments: list[_Segment], bcast_row: int | None = None) -> list[Instr]:
        parts = [(seg, r0) for seg in segments for r0 in range(0, seg.rows, self.band)]
        bands = [self._band(seg, r0, min(self.band, seg.rows - r0), i % 2, bcast_row)
                 for i, (seg, r0) in enumerate(parts)]
        bands[0] = (self.preload + bands[0][0], bands[0][1], bands[0][2])
        return self.prologue + pipeline(bands)


def _spread_scalar(em: Emitter, b: ActTensor, row: int) -> list[Instr]:
    """Instructions that leave b's byte in every lane of SP row `row` (queues quiescent afterwards)."""
    dim = em.config.dim
    ones = np.zeros((dim, dim), dtype=np.int8)
    ones[0] = 1
    tile = em.const(ones.tobytes())
    ident = em.const(param_rows(dim, np.full(dim, IDENTITY[0]), np.full(dim, IDENTITY[1]), 1))
    return [Instr(Opcode.LOAD, dst=Mem.SP, dst_row=row, dram_offset=b.offset, row_elems=1, pad_value=b.zp_byte),
            Instr(Opcode.LOAD, dst=Mem.SP, dst_row=row + 1, dram_offset=tile, x_size=dim, x_stride=dim),
            Instr(Opcode.LOAD, dst=Mem.ACC, dst_row=2, dram_offset=ident, x_size=2, x_stride=dim * 4, push_next=1),
            Instr(Opcode.GEMM, preload=1, a_signed=int(b.signed), w_signed=1, a_zp=b.zp_byte, w_row=row + 1,
                  acc_base=0, a_base=row, x_size=1, pop_prev=1),
            Instr(Opcode.REQUANT, out_signed=int(b.signed), out_zp=b.zp_byte, clamp_lo=b.qrange[0] & 0xFF,
                  clamp_hi=b.qrange[1] & 0xFF, param_row=2, acc_base=0, sp_base=row, n_rows=1),
            Instr(Opcode.SYNC)]


def _binary(em: Emitter, a: ActTensor, b: ActTensor, y: ActTensor, vector: Instr, params: bytes,
            count: int) -> list[Instr]:
    if y.shape != a.shape:
        a, b = b, a
    if y.shape != a.shape:  # both operands broadcast (passes.decompose expands one of them first)
        raise Unsupported(f"elementwise output {y.shape} is neither input's shape ({a.shape}, {b.shape})")
    kind = _broadcast_kind(a, b)
    vector = vector.replace(a_signed=int(a.signed), b_signed=int(b.signed), a_zp=a.zp_byte, b_zp=b.zp_byte)
    if kind == "channel":
        return _Streamer(em, vector, em.const(params), count, []).build(_channel_segments(a, b, y, em.config.dim))
    if kind == "scalar":
        # SP row 0 holds the spread scalar; rows 1.. are the bands (the spread uses rows 0..dim, before them)
        if em.config.sp_rows < 2 * em.config.dim + 8:
            raise Unsupported("scratchpad too small to spread a scalar operand")
        prologue = _spread_scalar(em, b, 0)
        streamer = _Streamer(em, vector, em.const(params), count, prologue)
        return streamer.build(_flat_segments(a, None, y, em.config.dim, True), bcast_row=0)
    return _Streamer(em, vector, em.const(params), count, []).build(_flat_segments(a, b, y, em.config.dim, False))


def _out_fields(y: ActTensor, clamp: tuple[int, int] | None) -> dict[str, int]:
    lo, hi = clamp_bounds(y, clamp)
    return dict(out_signed=int(y.signed), out_zp=y.zp_byte, clamp_lo=lo & 0xFF, clamp_hi=hi & 0xFF)


def _rows(dim: int, pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(param_rows(dim, np.full(dim, m), np.full(dim, s), 1) for m, s in pairs)


def add(em: Emitter, a: ActTensor, b: ActTensor, y: ActTensor, clamp: tuple[int, int] | None = None) -> LayerCost:
    """TFLite quantized ADD (nux.golden.kernels.qadd); b (or a) may broadcast per channel or as a scalar."""
    (ma, sa), (mb, sb), (mo, so) = add_params(a.scale, b.scale, y.scale)
    if y.shape != a.shape:  # the schedule swaps the operands so that A has the output's shape
        (ma, sa), (mb, sb) = (mb, sb), (ma, sa)
    vector = Instr(Opcode.VECTOR, vop=VectorOp.ADD, add_shift=ADD_LEFT_SHIFT, param_row=0, **_out_fields(y, clamp))
    program = _binary(em, a, b, y, vector, _rows(em.config.dim, [(mo, so), (ma, sa), (mb, sb)]), 6)
    return finish_layer(em, program, 0, ["add"])


def mul(em: Emitter, a: ActTensor, b: ActTensor, y: ActTensor, clamp: tuple[int, int] | None = None) -> LayerCost:
    """TFLite quantized MUL (nux.golden.kernels.qmul): requant((a - a.zp)(b - b.zp), a.scale*b.scale/y.scale)."""
    m, s = multipliers(np.array([a.scale * b.scale / y.scale]))
    vector = Instr(Opcode.VECTOR, vop=VectorOp.MUL, param_row=0, **_out_fields(y, clamp))
    program = _binary(em, a, b, y, vector, _rows(em.config.dim, [(int(m[0]), int(s[0]))]), 2)
    return finish_layer(em, program, 0, ["mul"])


def mean(em: Emitter, inputs: list[ActTensor], y: ActTensor) -> LayerCost:
    """ONNX Mean of two inputs: their quantized ADD into an output of twice y's scale (same rounding as ADD)."""
    if len(inputs) != 2:
        raise Unsupported(f"Mean of {len(inputs)} inputs (only 2 are exact as one ADD)")
    doubled = ActTensor(y.offset, y.shape, y.dtype, 2 * y.scale, y.zero_point)
    return add(em, inputs[0], inputs[1], doubled)


def lut(em: Emitter, x: ActTensor, y: ActTensor, table: np.ndarray) -> LayerCost:
    """y = table[raw byte of x] (VECTOR vop=lut): any unary function of one int8/uint8 tensor."""
    table = np.asarray(table)
    if table.shape != (256,) or table.dtype != np.uint8 or y.shape != x.shape:
        raise LoweringError("lut needs a (256,) uint8 table and y of x's shape")
    vector = Instr(Opcode.VECTOR, vop=VectorOp.LUT, a_signed=int(x.signed), out_signed=int(y.signed))
    streamer = _Streamer(em, vector, None, 0, [], lut=em.const(table.tobytes()))
    program = streamer.build(_flat_segments(x, None, y, em.config.dim, True))
    return finish_layer(em, program, 0, ["lut"])


def lut_table(fn: Callable[[np.ndarray], np.ndarray], x: ActTensor, y: ActTensor) -> np.ndarray:
    """The 256-entry table of a float function from x's to y's quantization (nux.golden.kernels.make_lut)."""
    return make_lut(fn, x.scale, x.zero_point, y.scale, y.zero_point, x.signed, y.signed)


def rescale(em: Emitter, x: ActTensor, y: ActTensor, clamp: tuple[int, int] | None = None) -> LayerCost:
    """y = clamp(requant(x - x.zp, x.scale / y.scale)): a requantizing copy (Relu, Clip, a change of scale,
    zero point or signedness), as VECTOR max(a, a)."""
    if y.shape != x.shape:
        raise LoweringError(f"rescale keeps the shape: {x.shape} -> {y.shape}")
    m, s = multipliers(np.array([x.scale / y.scale]))
    vector = Instr(Opcode.VECTOR, vop=VectorOp.MAX, param_row=0, a_signed=int(x.signed), b_signed=int(x.signed),
                   a_zp=x.zp_byte, b_zp=x.zp_byte, **_out_fields(y, clamp))
    streamer = _Streamer(em, vector, em.const(_rows(em.config.dim, [(int(m[0]), int(s[0]))])), 2, [])
    segments = [_Segment(g.a_off, g.a_off, g.out_off, g.rows, g.stride, g.lanes, False)
                for g in _flat_segments(x, None, y, em.config.dim, False)]
    return finish_layer(em, streamer.build(segments), 0, ["rescale"])
