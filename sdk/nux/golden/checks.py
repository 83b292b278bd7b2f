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
    """BAD_FIELD: sizes 0, row_elems > dim, undefined enum values, values a later ISA minor added (reserved bits
    are the decoder's job)."""
    values = ins.values
    if instr_minor(ins.opcode, values) > isa_minor:
        raise NpuFault(ErrorCode.BAD_FIELD, pc, f"a field value of ISA 1.{instr_minor(ins.opcode, values)} on a "
                       f"1.{isa_minor} device")
    for name in _SIZE_FIELDS:
        if values.get(name, 1) == 0:
            raise NpuFault(ErrorCode.BAD_FIELD, pc, f"{name} is 0")
    op = ins.opcode
    if op in (Opcode.LOAD, Opcode.STORE) and ins.row_elems > config.dim:
        raise NpuFault(ErrorCode.BAD_FIELD, pc, f"row_elems {ins.row_elems} > dim {config.dim}")
    bad_enum = (
        (op is Opcode.LOAD and ins.dst not in tuple(Mem))
        or (op is Opcode.STORE and ins.src not in (Mem.SP, Mem.ACC))
        or (op is Opcode.VECTOR and ins.vop not in tuple(VectorOp))
        or (op is Opcode.POOL and ins.pop not in tuple(PoolOp))
        or (op is Opcode.NOP and ins.queue not in tuple(Queue))
    )
    if bad_enum:
        raise NpuFault(ErrorCode.BAD_FIELD, pc, "undefined enum value")


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


def touched_rows(ins: Instr, config: NpuConfig) -> list[tuple[Mem, int]]:
    """(memory, largest row) for every on-chip row range `ins` reads or writes."""
    v = ins.values
    op = ins.opcode
    if op is Opcode.LOAD:
        rows = v["z_size"] * (v["y_pad_before"] + v["y_size"] + v["y_pad_after"])
        rows *= v["x_pad_before"] + v["x_size"] + v["x_pad_after"]
        return [(Mem(v["dst"]), v["dst_row"] + rows - 1)]
    if op is Opcode.STORE:
        return [(Mem(v["src"]), v["src_row"] + v["x_size"] * v["y_size"] * v["z_size"] - 1)]
    if op is Opcode.GEMM:
        streamed = v["x_size"] * v["y_size"]
        rows = [(Mem.SP, _last(v["a_base"], (v["x_size"], v["a_xstride"]), (v["y_size"], v["a_ystride"])))]
        rows.append((Mem.ACC, v["acc_base"] + streamed - 1))
        if v["preload"]:
            rows.append((Mem.SP, v["w_row"] + config.dim - 1))
        return rows
    if op is Opcode.REQUANT:
        n = v["n_rows"]
        return [(Mem.ACC, v["param_row"] + 1), (Mem.ACC, v["acc_base"] + n - 1), (Mem.SP, v["sp_base"] + n - 1)]
    if op in (Opcode.VECTOR, Opcode.POOL):
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
    return []


def check_rows(ins: Instr, config: NpuConfig, pc: int) -> None:
    """SPAD_OOB: every SP, ACC and LUT row `ins` touches must exist."""
    limits = {Mem.SP: config.sp_rows, Mem.ACC: config.acc_rows, Mem.LUT: config.lut_rows, Mem.LUTW: config.lut_rows}
    for mem, row in touched_rows(ins, config):
        if row >= limits[mem]:
            raise NpuFault(ErrorCode.SPAD_OOB, pc, f"{mem.name} row {row} >= {limits[mem]}")


def dram_end(ins: Instr, config: NpuConfig) -> int:
    """One past the last arena byte a LOAD or STORE touches (the formula of section 5)."""
    v = ins.values
    size = esize(Mem(v["dst" if ins.opcode is Opcode.LOAD else "src"]))
    steps = ((v["x_size"], v["x_stride"]), (v["y_size"], v["y_stride"]), (v["z_size"], v["z_stride"]))
    return _last(v["dram_offset"], *steps) + row_elems(ins, config) * size


def check_arena(ins: Instr, config: NpuConfig, arena_size: int, pc: int) -> None:
    """ARENA_VIOLATION: LOAD/STORE must stay inside [0, arena_size) of the arena."""
    if ins.opcode in (Opcode.LOAD, Opcode.STORE):
        end = dram_end(ins, config)
        if end > arena_size:
            raise NpuFault(ErrorCode.ARENA_VIOLATION, pc, f"access ends at offset {end} > arena_size {arena_size}")
