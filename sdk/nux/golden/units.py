"""Execution of each instruction class on the machine's NumPy memories (docs/isa.md section 4).

Every instruction is a handful of whole-array operations: row addresses come from `np.arange` arithmetic,
memory moves from fancy indexing, GEMM from one float32 matmul (exact: operands are 9-bit, products < 2^16 and a
dot product of at most 32 of them < 2^21, far inside float32's 24-bit mantissa). Long instructions run in chunks
of rows and look at the cancel event in between, so CTRL.RESET can stop them. Dispatch checks have already run.

Reads and writes of one VECTOR or POOL instruction: all reads happen before any write (the result is built in a
temporary and stored at the end), so an output range overlapping its own input reads the old values.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from nux.golden.checks import DRAM_OPS, VECTOR_PARAM_ROWS, dram_end, dram_mem, esize, lane_step, row_elems
from nux.golden.errors import Cancelled, NpuFault
from nux.golden.requant import _mbqm, _requant, wrap32
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier
from nux.isa import ErrorCode, Instr, Mem, Opcode, PoolOp, ReduceOp, ReducePost, VectorOp

if TYPE_CHECKING:
    from nux.golden.machine import Machine

#: Rows per chunk of a LOAD, STORE, GEMM or REQUANT between two looks at the cancel event.
CHUNK_ROWS = 16384
#: Elements (rows x taps x lanes) per chunk of a POOL or VECTOR.
CHUNK_ELEMS = 1 << 22


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("task cancelled")


def byte_value(raw: int, signed: bool) -> int:
    """An 8-bit field read as int8 (signed) or uint8."""
    return raw - 256 if signed and raw >= 128 else raw


def grid(base: int, *steps: tuple[int, int]) -> np.ndarray:
    """Flat row (or address) list of nested loops, outermost first: base + sum(i_k * stride_k)."""
    out = np.array([base], dtype=np.int64)
    for count, stride in steps:
        out = (out[:, None] + np.arange(count, dtype=np.int64) * stride).ravel()
    return out


def _lanes(rows: np.ndarray, signed: bool) -> np.ndarray:
    """SP bytes as int64 lane values per signedness."""
    return (rows.view(np.int8) if signed else rows).astype(np.int64)


def _chunks(total: int, per_chunk: int, cancel: threading.Event | None):
    for start in range(0, total, per_chunk):
        check_cancel(cancel)
        yield slice(start, min(start + per_chunk, total))


def _check_bus(m: Machine, ins: Instr, arena_base: int, arena_end: int, pc: int) -> None:
    """BUS_ERROR when a LOAD/GATHER/STORE inside the arena still reaches past the device's physical DRAM."""
    if arena_base + arena_end > m.dram.size:
        raise NpuFault(ErrorCode.BUS_ERROR, pc, f"{ins.opcode.name} reaches past device DRAM ({m.dram.size} bytes)")


def _dram_rows(ins: Instr, arena_base: int) -> np.ndarray:
    v = ins.values
    return grid(arena_base + v["dram_offset"], (v["z_size"], v["z_stride"]), (v["y_size"], v["y_stride"]),
                (v["x_size"], v["x_stride"]))


def _lane_offsets(ins: Instr, lanes: int) -> np.ndarray:
    """Byte offsets from a row's address of the lanes it moves, lane by lane (esize bytes each)."""
    size = esize(dram_mem(ins))
    return ((np.arange(lanes, dtype=np.int64) * lane_step(ins))[:, None] + np.arange(size)).ravel()


def execute_load(m: Machine, ins: Instr, arena_base: int, cancel: threading.Event | None) -> None:
    """LOAD and GATHER (which has no padding rows and reads lanes lane_stride apart)."""
    v = ins.values
    dst = Mem(v["dst"])
    lanes = row_elems(ins, m.config)
    wide = esize(dst) == 4
    xb, xa, yb, ya = (v.get(name, 0) for name in ("x_pad_before", "x_pad_after", "y_pad_before", "y_pad_after"))
    xn, yn = xb + v["x_size"] + xa, yb + v["y_size"] + ya
    block = m.memory(dst)[v["dst_row"] : v["dst_row"] + v["z_size"] * yn * xn]
    block[...] = byte_value(v["pad_value"], True) if wide else v["pad_value"]
    # Destination rows of the non-padding (z, y, x) positions, in the same order as their DRAM addresses.
    rows = grid(yb * xn + xb, (v["z_size"], yn * xn), (v["y_size"], xn), (v["x_size"], 1))
    addrs = _dram_rows(ins, arena_base)
    offsets = _lane_offsets(ins, lanes)
    for part in _chunks(rows.size, CHUNK_ROWS, cancel):
        data = m.dram[addrs[part, None] + offsets]
        block[rows[part], :lanes] = data.view("<i4") if wide else data
    m.count(DMA_RD_BYTES=rows.size * offsets.size)


def execute_store(m: Machine, ins: Instr, arena_base: int, cancel: threading.Event | None) -> None:
    v = ins.values
    src = Mem(v["src"])
    lanes = row_elems(ins, m.config)
    addrs = _dram_rows(ins, arena_base)
    mem = m.memory(src)[v["src_row"] : v["src_row"] + addrs.size, :lanes]
    data = mem.astype("<i4").view(np.uint8) if src is Mem.ACC else mem
    offsets = _lane_offsets(ins, lanes)
    size, step = esize(src), lane_step(ins)
    span = (lanes - 1) * step + size
    disjoint = step >= size and bool(np.all(np.diff(addrs) >= span))
    for part in _chunks(addrs.size, CHUNK_ROWS, cancel):
        flat = (addrs[part, None] + offsets).ravel()
        values = data[part].ravel()
        if not disjoint:  # overlapping rows or lanes: the later one wins, as in a sequential store unit
            flat, keep = np.unique(flat[::-1], return_index=True)
            values = values[::-1][keep]
        m.dram[flat] = values
    m.count(DMA_WR_BYTES=addrs.size * offsets.size)


def _weight_tile(m: Machine, v: dict[str, int]) -> np.ndarray:
    """The preloaded tile: SP rows w_row.. minus the scalar w_zp, or minus the per-column row sp(wzp_row)."""
    w_signed = bool(v["w_signed"])
    tile = _lanes(m.sp[v["w_row"] : v["w_row"] + m.config.dim], w_signed)
    zp = _lanes(m.sp[v["wzp_row"]], w_signed)[None, :] if v["wzp_en"] else byte_value(v["w_zp"], w_signed)
    return (tile - zp).astype(np.float32)


def execute_gemm(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    v = ins.values
    dim = m.config.dim
    if v["preload"]:
        m.tile = _weight_tile(m, v)
    bias = m.acc[v["bias_row"]].astype(np.int64) if v["bias_en"] else None  # read before the first write
    a_signed = bool(v["a_signed"])
    a_zp = np.float32(byte_value(v["a_zp"], a_signed))
    rows = grid(v["a_base"], (v["y_size"], v["a_ystride"]), (v["x_size"], v["a_xstride"]))
    sp = m.sp.view(np.int8) if a_signed else m.sp
    acc = m.acc[v["acc_base"] : v["acc_base"] + rows.size]
    for part in _chunks(rows.size, CHUNK_ROWS, cancel):
        products = (sp[rows[part]].astype(np.float32) - a_zp) @ m.tile
        if v["accumulate"]:
            acc[part] += products.astype(np.int32)  # int32 array addition wraps: wrap32
        elif bias is not None:
            acc[part] = wrap32(products.astype(np.int64) + bias)
        else:
            acc[part] = products
    m.count(ARRAY_BUSY=rows.size, MACS=rows.size * dim * dim)


def _out_stage(v: dict[str, int]) -> tuple[int, int, int]:
    """(out_zp, clamp_lo, clamp_hi) read per out_signed."""
    signed = bool(v["out_signed"])
    return tuple(byte_value(v[name], signed) for name in ("out_zp", "clamp_lo", "clamp_hi"))  # type: ignore[return-value]


def _params(m: Machine, v: dict[str, int], count: int) -> list[np.ndarray]:
    """The parameter rows ACC[param_row .. param_row + count - 1] as int64 (one multiplier or shift per lane)."""
    return list(m.acc[v["param_row"] : v["param_row"] + count].astype(np.int64))


def _to_bytes(values: np.ndarray) -> np.ndarray:
    return (values & 0xFF).astype(np.uint8)


def execute_requant(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    v = ins.values
    mult, shift = _params(m, v, 2)
    zp, lo, hi = _out_stage(v)
    n = v["n_rows"]
    src = m.acc[v["acc_base"] : v["acc_base"] + n]
    dst = m.sp[v["sp_base"] : v["sp_base"] + n]
    for part in _chunks(n, CHUNK_ROWS, cancel):
        x = src[part].astype(np.int64)
        if v["row_scale"]:  # each row first by its group's (multiplier, shift) from lanes 0, 1 of an ACC row
            groups = m.acc[v["rowp_base"] + np.arange(part.start, part.stop) // v["group_rows"]].astype(np.int64)
            x = _mbqm(x, groups[:, :1], groups[:, 1:2])
        dst[part] = _to_bytes(_requant(x, mult, shift, zp, lo, hi))


def _vector_rows(m: Machine, v: dict[str, int], vop: VectorOp, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    if vop is VectorOp.LUT:
        return m.lut[m.sp[ra]]
    a = _lanes(m.sp[ra], bool(v["a_signed"])) - byte_value(v["a_zp"], bool(v["a_signed"]))
    b = _lanes(m.sp[rb], bool(v["b_signed"])) - byte_value(v["b_zp"], bool(v["b_signed"]))
    params = _params(m, v, VECTOR_PARAM_ROWS[vop])
    if vop is VectorOp.ADD:
        shift = v["add_shift"]
        a = _mbqm(wrap32(a << shift), params[2], params[3])
        b = _mbqm(wrap32(b << shift), params[4], params[5])
        x = wrap32(a + b)
    elif vop is VectorOp.MUL:
        x = a * b
    elif vop is VectorOp.MAX:
        x = np.maximum(a, b)
    else:
        x = np.minimum(a, b)
    return _to_bytes(_requant(x, params[0], params[1], *_out_stage(v)))


def execute_vector(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    v = ins.values
    vop = VectorOp(v["vop"])
    ra = grid(v["a_base"], (v["y_size"], v["a_ystride"]), (v["x_size"], v["a_xstride"]))
    rb = grid(v["b_base"], (v["y_size"], v["b_ystride"]), (v["x_size"], v["b_xstride"]))
    out = np.empty((ra.size, m.config.dim), dtype=np.uint8)
    for part in _chunks(ra.size, max(1, CHUNK_ELEMS // m.config.dim), cancel):
        out[part] = _vector_rows(m, v, vop, ra[part], rb[part])
    m.sp[v["out_base"] : v["out_base"] + ra.size] = out


def execute_pool(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    v = ins.values
    signed = bool(v["a_signed"])
    zp = byte_value(v["a_zp"], signed)
    origins = grid(v["a_base"], (v["y_size"], v["a_ystride"]), (v["x_size"], v["a_xstride"]))
    taps = grid(0, (v["win_y"], v["win_ystride"]), (v["win_x"], v["win_xstride"]))
    mult, shift = _params(m, v, 2)
    out_stage = _out_stage(v)
    out = np.empty((origins.size, m.config.dim), dtype=np.uint8)
    for part in _chunks(origins.size, max(1, CHUNK_ELEMS // (taps.size * m.config.dim)), cancel):
        t = _lanes(m.sp[origins[part, None] + taps], signed) - zp  # (rows, taps, lanes)
        r = t.max(axis=1) if PoolOp(v["pop"]) is PoolOp.MAX else wrap32(t.sum(axis=1))
        out[part] = _to_bytes(_requant(r, mult, shift, *out_stage))
    m.sp[v["out_base"] : v["out_base"] + origins.size] = out


def _reduce_groups(m: Machine, v: dict[str, int], groups: np.ndarray) -> np.ndarray:
    """r of each group in `groups` (int64, wrapped to int32 for SUM/SUMSQ)."""
    dim = m.config.dim
    rows = v["a_base"] + groups[:, None] * v["a_gstride"] + np.arange(v["group_rows"]) * v["a_rstride"]
    if v["src"] == Mem.ACC:
        t = m.acc[rows].astype(np.int64)
    else:
        signed = bool(v["a_signed"])
        t = _lanes(m.sp[rows], signed) - byte_value(v["a_zp"], signed)  # (groups, rows, lanes)
    used = np.ones((v["group_rows"], dim), dtype=bool)
    used[-1, v["last_lanes"] or dim :] = False
    rop = ReduceOp(v["rop"])
    if rop is ReduceOp.MAX:
        return np.where(used, t, np.iinfo(np.int64).min).max(axis=(1, 2))
    t = np.where(used, t, 0)
    return wrap32((t * t if rop is ReduceOp.SUMSQ else t).sum(axis=(1, 2)))


def _reduce_rows(m: Machine, v: dict[str, int], r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The destination memory and the rows written for reductions r (broadcast r, or [m, s, 0, ...])."""
    dim = m.config.dim
    post = ReducePost(v["post"])
    if post is ReducePost.NONE:
        if v["dst_sp"]:
            return m.sp, np.repeat(_to_bytes(r)[:, None], dim, axis=1)
        return m.acc, np.repeat(r[:, None], dim, axis=1)
    mult, shift = (recip_multiplier if post is ReducePost.RECIP else rsqrt_multiplier)(r, v["post_shift"])
    out = np.zeros((r.size, dim), dtype=np.int64)
    out[:, 0], out[:, 1] = mult, shift
    return m.acc, out


def execute_reduce(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    """REDUCE group by group in program order: a group's output row may be a later group's input, so groups
    run in one batch only when no output row lies inside the rows read."""
    v = ins.values
    n, group_elems = v["n_groups"], v["group_rows"] * m.config.dim
    first_in = v["a_base"]
    last_in = first_in + (n - 1) * v["a_gstride"] + (v["group_rows"] - 1) * v["a_rstride"]
    same_mem = (v["src"] == Mem.SP) == bool(v["dst_sp"])
    overlap = same_mem and v["out_row"] <= last_in and first_in <= v["out_row"] + n - 2
    per_chunk = 1 if overlap else max(1, CHUNK_ELEMS // group_elems)
    for part in _chunks(n, per_chunk, cancel):
        groups = np.arange(part.start, part.stop, dtype=np.int64)
        mem, out = _reduce_rows(m, v, _reduce_groups(m, v, groups))
        mem[v["out_row"] + part.start : v["out_row"] + part.stop] = out


def execute_lutw(m: Machine, ins: Instr, cancel: threading.Event | None) -> None:
    """ACC[out] = LUTW[idx]: idx the raw byte of A, or clamp(B - A, 0, 255) with diff."""
    v = ins.values
    ra = grid(v["a_base"], (v["y_size"], v["a_ystride"]), (v["x_size"], v["a_xstride"]))
    rb = grid(v["b_base"], (v["y_size"], v["b_ystride"]), (v["x_size"], v["b_xstride"]))
    out = m.acc[v["out_base"] : v["out_base"] + ra.size]
    for part in _chunks(ra.size, max(1, CHUNK_ELEMS // m.config.dim), cancel):
        if v["diff"]:
            a = _lanes(m.sp[ra[part]], bool(v["a_signed"]))
            idx = np.clip(_lanes(m.sp[rb[part]], bool(v["b_signed"])) - a, 0, 255)
        else:
            idx = m.sp[ra[part]]
        out[part] = m.lutw[idx]


def execute(m: Machine, ins: Instr, arena_base: int, pc: int, cancel: threading.Event | None) -> None:
    """Run one checked instruction (SYNC, END and NOP have no effect beyond their tokens)."""
    op = ins.opcode
    if op in DRAM_OPS:
        _check_bus(m, ins, arena_base, dram_end(ins, m.config), pc)
        (execute_store if op is Opcode.STORE else execute_load)(m, ins, arena_base, cancel)
    elif op in _COMPUTE:
        _COMPUTE[op](m, ins, cancel)


_COMPUTE = {
    Opcode.GEMM: execute_gemm,
    Opcode.REQUANT: execute_requant,
    Opcode.VECTOR: execute_vector,
    Opcode.POOL: execute_pool,
    Opcode.REDUCE: execute_reduce,
    Opcode.LUTW: execute_lutw,
}
