"""Dispatch-time checks (docs/isa.md sections 3 and 5), in their priority order after decoding.

Kept apart from execution so the rules read like the spec: BAD_FIELD (field ranges), BAD_DEP (token counts and
the no-tile rule), SPAD_OOB (every on-chip row touched), ARENA_VIOLATION (last DRAM byte of LOAD/STORE). Each
check raises NpuFault with the instruction's index; nothing here changes machine state except `Tokens.apply`.
"""

from __future__ import annotations

from nux.golden.errors import NpuFault
from nux.isa import (
    ISA_VERSION,
    MAX_TOKENS,
    QUEUE_OF,
    ErrorCode,
    Instr,
    Mem,
    NpuConfig,
    Opcode,
    PoolOp,
    Queue,
    ReduceOp,
    ReducePost,
    VectorOp,
    instr_minor,
)

# Token channels, numbered for the per-task counter list.
L2C, C2L, C2S, S2C = range(4)
CHANNEL_NAMES = ("L->C", "C->L", "C->S", "S->C")
DEP_FLAGS = ("pop_prev", "pop_next", "push_prev", "push_next")
#: Per queue, the channel each dependency flag names (None: the queue has no such neighbour -> BAD_DEP).
CHANNELS: dict[Queue, tuple[int | None, int | None, int | None, int | None]] = {
    Queue.LOAD: (None, C2L, None, L2C),
    Queue.COMPUTE: (L2C, S2C, C2L, C2S),
    Queue.STORE: (C2S, None, S2C, None),
}

#: ACC parameter rows each VECTOR op reads (output stage m0/s0, plus m2/s2 and m4/s4 for ADD).
VECTOR_PARAM_ROWS = {VectorOp.ADD: 6, VectorOp.MUL: 2, VectorOp.MAX: 2, VectorOp.MIN: 2, VectorOp.LUT: 0}
#: The instructions that move data between DRAM and the on-chip memories.
DRAM_OPS = (Opcode.LOAD, Opcode.GATHER, Opcode.STORE)
_SIZE_FIELDS = ("x_size", "y_size", "z_size", "n_rows", "win_x", "win_y")


def esize(mem: Mem) -> int:
    """Bytes per lane in DRAM: int32 for ACC and the wide LUT, a byte for SP and the LUT."""
    return 4 if mem in (Mem.ACC, Mem.LUTW) else 1


def row_elems(ins: Instr, config: NpuConfig) -> int:
    """LOAD/STORE lanes per row: the field, with 0 meaning dim."""
    return ins.row_elems or config.dim


def queue_of(ins: Instr) -> Queue | None:
    """The queue that executes `ins` (NOP names it; SYNC and END run in the dispatcher)."""
    if ins.opcode is Opcode.NOP:
        return Queue(ins.queue)
    return QUEUE_OF[ins.opcode]


def check_fields(ins: Instr, config: NpuConfig, pc: int, isa_minor: int = ISA_VERSION[1]) -> None:
    """BAD_FIELD: sizes 0, row_elems > dim, undefined enum values, a value or field of a later ISA minor, and the
    combination rules of the 1.1 fields (reserved bits are the decoder's job)."""
    problem = field_problem(ins, config, isa_minor)
    if problem:
        raise NpuFault(ErrorCode.BAD_FIELD, pc, problem)


def field_problem(ins: Instr, config: NpuConfig, isa_minor: int = ISA_VERSION[1]) -> str | None:
    """Why `ins` is BAD_FIELD on a device of ISA 1.`isa_minor`, or None."""
    values, op = ins.values, ins.opcode
    need = instr_minor(op, values)
    if need > isa_minor:
        return f"{op.name.lower()} uses ISA 1.{need}; the device implements 1.{isa_minor}"
    for name in _SIZE_FIELDS:
        if values.get(name, 1) == 0:
            return f"{name} is 0"
    if op in (Opcode.LOAD, Opcode.STORE, Opcode.GATHER) and values["row_elems"] > config.dim:
        return f"row_elems {values['row_elems']} > dim {config.dim}"
    if not _enums_defined(op, values):
        return "undefined enum value"
    rules = _RULES.get(op)
    return next((why for bad, why in rules(values, config) if bad), None) if rules else None


def _enums_defined(op: Opcode, v: dict[str, int]) -> bool:
    checks = {
        Opcode.LOAD: lambda: v["dst"] in tuple(Mem),
        Opcode.STORE: lambda: v["src"] in (Mem.SP, Mem.ACC),
        Opcode.GATHER: lambda: v["dst"] in (Mem.SP, Mem.ACC),
        Opcode.VECTOR: lambda: v["vop"] in tuple(VectorOp),
        Opcode.POOL: lambda: v["pop"] in tuple(PoolOp),
        Opcode.NOP: lambda: v["queue"] in tuple(Queue),
        Opcode.REDUCE: lambda: v["rop"] in tuple(ReduceOp) and v["post"] in tuple(ReducePost),
    }
    check = checks.get(op)
    return check is None or check()


def _strided_acc_rules(v: dict[str, int], mem: str) -> list[tuple[bool, str]]:
    """STORE/GATHER with lane_stride on ACC: every address a multiple of 4, so no int32 straddles a bus beat."""
    if not v["lane_stride"] or v[mem] != Mem.ACC:
        return []
    names = ("dram_offset", "x_stride", "y_stride", "z_stride", "lane_stride")
    return [(any(v[n] % 4 for n in names), "lane-strided ACC access needs dram_offset and strides multiple of 4")]


def _gemm_rules(v: dict[str, int], config: NpuConfig) -> list[tuple[bool, str]]:
    return [
        (v["wzp_en"] and (not v["preload"] or v["w_zp"]), "wzp_en needs preload=1 and w_zp=0"),
        (v["bias_en"] and v["accumulate"], "bias_en needs accumulate=0"),
        (not v["wzp_en"] and v["wzp_row"], "wzp_row is set without wzp_en"),
        (not v["bias_en"] and v["bias_row"], "bias_row is set without bias_en"),
    ]


def _requant_rules(v: dict[str, int], config: NpuConfig) -> list[tuple[bool, str]]:
    if v["row_scale"]:
        return [(v["group_rows"] == 0, "group_rows is 0 with row_scale")]
    return [(v["rowp_base"] or v["group_rows"], "rowp_base/group_rows are set without row_scale")]


def _reduce_rules(v: dict[str, int], config: NpuConfig) -> list[tuple[bool, str]]:
    return [
        (v["last_lanes"] > config.dim, f"last_lanes {v['last_lanes']} > dim {config.dim}"),
        (v["group_rows"] == 0 or v["n_groups"] == 0, "group_rows or n_groups is 0"),
        (v["src"] == Mem.ACC and (v["a_signed"] or v["a_zp"] or v["rop"] == ReduceOp.SUMSQ),
         "src=acc takes no a_signed, a_zp or rop=sumsq"),
        (v["post"] != ReducePost.NONE and v["dst_sp"], "post needs an ACC destination"),
        (v["post"] == ReducePost.NONE and v["post_shift"], "post_shift is set without post"),
    ]


def _lutw_rules(v: dict[str, int], config: NpuConfig) -> list[tuple[bool, str]]:
    b_fields = ("b_signed", "b_base", "b_xstride", "b_ystride")
    return [(not v["diff"] and any(v[n] for n in b_fields), "b_* fields are set without diff")]


_RULES = {
    Opcode.STORE: lambda v, config: _strided_acc_rules(v, "src"),
    Opcode.GATHER: lambda v, config: _strided_acc_rules(v, "dst"),
    Opcode.GEMM: _gemm_rules,
    Opcode.REQUANT: _requant_rules,
    Opcode.REDUCE: _reduce_rules,
    Opcode.LUTW: _lutw_rules,
}


class Tokens:
    """The dispatcher's per-channel token counts (pushed minus popped, in program order) for one task."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]

    def _flags(self, ins: Instr, pc: int) -> list[tuple[str, int]]:
        queue = queue_of(ins)
        if queue is None:  # SYNC / END carry no flags (the decoder rejects them as reserved bits)
            return []
        named = []
        for flag, channel in zip(DEP_FLAGS, CHANNELS[queue], strict=True):
            if ins.values[flag]:
                if channel is None:
                    raise NpuFault(ErrorCode.BAD_DEP, pc, f"{flag} on the {queue.name.lower()} queue has no channel")
                named.append((flag, channel))
        return named

    def check(self, ins: Instr, pc: int) -> None:
        """BAD_DEP unless every pop finds an earlier push and no push exceeds MAX_TOKENS (pops first)."""
        counts = list(self.counts)
        flags = self._flags(ins, pc)
        for flag, channel in flags:
            if flag.startswith("pop"):
                if counts[channel] == 0:
                    raise NpuFault(ErrorCode.BAD_DEP, pc, f"{flag}: no {CHANNEL_NAMES[channel]} token pushed earlier")
                counts[channel] -= 1
        for flag, channel in flags:
            if flag.startswith("push"):
                if counts[channel] == MAX_TOKENS:
                    raise NpuFault(ErrorCode.BAD_DEP, pc, f"{flag}: {CHANNEL_NAMES[channel]} exceeds {MAX_TOKENS}")
                counts[channel] += 1

    def apply(self, ins: Instr) -> None:
        """Record the pops and pushes of an instruction that passed every check."""
        queue = queue_of(ins)
        if queue is None:
            return
        for flag, channel in zip(DEP_FLAGS, CHANNELS[queue], strict=True):
            if ins.values[flag] and channel is not None:
                self.counts[channel] += 1 if flag.startswith("push") else -1


def _last(base: int, *steps: tuple[int, int]) -> int:
    """Largest row of an iteration: strides are unsigned, so it is the last one of every loop."""
    return base + sum((count - 1) * stride for count, stride in steps)


def _load_rows(v: dict[str, int], config: NpuConfig) -> list[tuple[Mem, int]]:
    rows = v["z_size"] * (v["y_pad_before"] + v["y_size"] + v["y_pad_after"])
    rows *= v["x_pad_before"] + v["x_size"] + v["x_pad_after"]
    return [(Mem(v["dst"]), v["dst_row"] + rows - 1)]


def _gemm_rows(v: dict[str, int], config: NpuConfig) -> list[tuple[Mem, int]]:
    rows = [(Mem.SP, _last(v["a_base"], (v["x_size"], v["a_xstride"]), (v["y_size"], v["a_ystride"]))),
            (Mem.ACC, v["acc_base"] + v["x_size"] * v["y_size"] - 1)]
    if v["preload"]:
        rows.append((Mem.SP, v["w_row"] + config.dim - 1))
    if v["wzp_en"]:
        rows.append((Mem.SP, v["wzp_row"]))
    if v["bias_en"]:
        rows.append((Mem.ACC, v["bias_row"]))
    return rows


def _requant_rows(v: dict[str, int], config: NpuConfig) -> list[tuple[Mem, int]]:
    n = v["n_rows"]
    rows = [(Mem.ACC, v["param_row"] + 1), (Mem.ACC, v["acc_base"] + n - 1), (Mem.SP, v["sp_base"] + n - 1)]
    if v["row_scale"]:
        rows.append((Mem.ACC, v["rowp_base"] + (n - 1) // v["group_rows"]))
    return rows


def _vector_pool_rows(op: Opcode, v: dict[str, int]) -> list[tuple[Mem, int]]:
    steps = [(v["x_size"], v["a_xstride"]), (v["y_size"], v["a_ystride"])]
    if op is Opcode.POOL:
        steps += [(v["win_x"], v["win_xstride"]), (v["win_y"], v["win_ystride"])]
        params = 2
    else:
        params = VECTOR_PARAM_ROWS[VectorOp(v["vop"])]
    rows = [(Mem.SP, _last(v["a_base"], *steps)), (Mem.SP, v["out_base"] + v["x_size"] * v["y_size"] - 1)]
    if params:
        rows.append((Mem.ACC, v["param_row"] + params - 1))
    if op is Opcode.VECTOR and params:  # LUT reads neither B nor parameters
        rows.append((Mem.SP, _last(v["b_base"], (v["x_size"], v["b_xstride"]), (v["y_size"], v["b_ystride"]))))
    return rows


def _reduce_rows(v: dict[str, int], config: NpuConfig) -> list[tuple[Mem, int]]:
    last_in = _last(v["a_base"], (v["n_groups"], v["a_gstride"]), (v["group_rows"], v["a_rstride"]))
    return [(Mem(v["src"]), last_in), (Mem.SP if v["dst_sp"] else Mem.ACC, v["out_row"] + v["n_groups"] - 1)]


def _lutw_rows(v: dict[str, int], config: NpuConfig) -> list[tuple[Mem, int]]:
    iters = (v["x_size"], v["a_xstride"]), (v["y_size"], v["a_ystride"])
    rows = [(Mem.SP, _last(v["a_base"], *iters)), (Mem.ACC, v["out_base"] + v["x_size"] * v["y_size"] - 1)]
    if v["diff"]:
        rows.append((Mem.SP, _last(v["b_base"], (v["x_size"], v["b_xstride"]), (v["y_size"], v["b_ystride"]))))
    return rows


def _moved_rows(v: dict[str, int], mem: str, first: str) -> list[tuple[Mem, int]]:
    return [(Mem(v[mem]), v[first] + v["x_size"] * v["y_size"] * v["z_size"] - 1)]


_ROWS = {
    Opcode.LOAD: _load_rows,
    Opcode.STORE: lambda v, config: _moved_rows(v, "src", "src_row"),
    Opcode.GATHER: lambda v, config: _moved_rows(v, "dst", "dst_row"),
    Opcode.GEMM: _gemm_rows,
    Opcode.REQUANT: _requant_rows,
    Opcode.VECTOR: lambda v, config: _vector_pool_rows(Opcode.VECTOR, v),
    Opcode.POOL: lambda v, config: _vector_pool_rows(Opcode.POOL, v),
    Opcode.REDUCE: _reduce_rows,
    Opcode.LUTW: _lutw_rows,
}


def touched_rows(ins: Instr, config: NpuConfig) -> list[tuple[Mem, int]]:
    """(memory, largest row) for every on-chip row range `ins` reads or writes."""
    rows = _ROWS.get(ins.opcode)
    return rows(ins.values, config) if rows else []


def check_rows(ins: Instr, config: NpuConfig, pc: int) -> None:
    """SPAD_OOB: every SP, ACC and LUT row `ins` touches must exist."""
    limits = {Mem.SP: config.sp_rows, Mem.ACC: config.acc_rows, Mem.LUT: config.lut_rows, Mem.LUTW: config.lut_rows}
    for mem, row in touched_rows(ins, config):
        if row >= limits[mem]:
            raise NpuFault(ErrorCode.SPAD_OOB, pc, f"{mem.name} row {row} >= {limits[mem]}")


def lane_step(ins: Instr) -> int:
    """DRAM bytes between consecutive lanes of a row: lane_stride, or esize when it is 0 (or absent: LOAD)."""
    return ins.values.get("lane_stride", 0) or esize(dram_mem(ins))


def dram_mem(ins: Instr) -> Mem:
    """The on-chip memory a LOAD, GATHER or STORE moves DRAM data to or from."""
    return Mem(ins.values["src" if ins.opcode is Opcode.STORE else "dst"])


def dram_end(ins: Instr, config: NpuConfig) -> int:
    """One past the last arena byte a LOAD, GATHER or STORE touches (the formula of section 5)."""
    v = ins.values
    steps = ((v["x_size"], v["x_stride"]), (v["y_size"], v["y_stride"]), (v["z_size"], v["z_stride"]))
    return _last(v["dram_offset"], *steps) + (row_elems(ins, config) - 1) * lane_step(ins) + esize(dram_mem(ins))


def check_arena(ins: Instr, config: NpuConfig, arena_size: int, pc: int) -> None:
    """ARENA_VIOLATION: LOAD/GATHER/STORE must stay inside [0, arena_size) of the arena."""
    if ins.opcode in DRAM_OPS:
        end = dram_end(ins, config)
        if end > arena_size:
            raise NpuFault(ErrorCode.ARENA_VIOLATION, pc, f"access ends at offset {end} > arena_size {arena_size}")
