"""The MMIO register map, declared once (AXI-Lite, 32-bit registers, 4-byte aligned, 4 KiB window).

Every fact about the registers lives in the declarations below: offsets, access, typed bit fields, which
NpuConfig field a CFG_* register reports, which task-descriptor word a TASK_* register stages. Everything else is
generated from them: the STATUS/CTRL/IRQ flag enums, the driver's identification and task staging, the golden and
RTL register files (rtl/axil.py decodes from `REGISTERS`), the C header and Verilog include (nux.isa.docgen) and
the tables of docs/isa.md. Nothing outside this module types an offset or a bit position.

Tasks are queued by writing a descriptor to the TASK_* staging registers and then DOORBELL; the NPU runs queued
tasks in order, counting them in COMPLETED. 64-bit perf counters are read low word first: reading the low word
latches the high word, so LO then HI is a consistent pair.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from nux.isa.config import NpuConfig
from nux.isa.encoding import ISA_VERSION, ErrorCode

NPU_ID = 0x4E555831  # "NUX1"
MMIO_SIZE = 0x1000
#: address bits of the MMIO window (the AXI-Lite slave's address width)
MMIO_ADDR_BITS = (MMIO_SIZE - 1).bit_length()
WORD_BITS = 32


class Access(enum.Enum):
    """How software sees a register (the RTL and golden register files implement it by this)."""

    R = "R"  # read-only: a constant, or state of the NPU
    W = "W"  # write-only action; reads 0
    RW = "RW"  # storage: reads back what was written
    W1C = "W1C"  # bits set by the NPU, cleared by writing 1


@dataclass(frozen=True)
class BitField:
    """Bits [lsb + width - 1 : lsb] of a register; `enum` names the values when they have names."""

    name: str
    lsb: int
    width: int
    doc: str
    enum: type[enum.IntEnum] | None = None

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def max(self) -> int:
        """The largest value the field holds."""
        return (1 << self.width) - 1

    @property
    def mask(self) -> int:
        """The field's bits in place (word & mask keeps only this field)."""
        return ((1 << self.width) - 1) << self.lsb

    def get(self, word: int) -> int:
        """The field's value in a register word."""
        return (word >> self.lsb) & self.max

    def put(self, value: int) -> int:
        """`value` moved into place; refuses a value that does not fit (it would corrupt other fields)."""
        if not 0 <= value <= self.max:
            raise ValueError(f"{value} does not fit the {self.width}-bit field {self.name}")
        return value << self.lsb


@dataclass(frozen=True)
class Register:
    """One 32-bit register. At most one of `value` / `config` / `task` says where its contents come from."""

    name: str
    offset: int
    access: Access
    doc: str
    fields: tuple[BitField, ...] = ()
    #: a constant every implementation reports (ID, VERSION)
    value: int | None = None
    #: the NpuConfig field this CFG_* register reports
    config: str | None = None
    #: (task-descriptor field, 32-bit word of it, low word 0) this TASK_* register stages
    task: tuple[str, int] | None = None

    @property
    def width(self) -> int:
        """Bits up to the highest field (how wide a register that stores only the fields must be)."""
        return max((f.msb + 1 for f in self.fields), default=WORD_BITS)

    def field(self, name: str) -> BitField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}; fields: {[f.name for f in self.fields]}")

    def decode(self, word: int) -> dict[str, int]:
        """Every field's value in `word`, by field name."""
        return {f.name: f.get(word) for f in self.fields}

    def encode(self, **values: int) -> int:
        """The word holding the named field values (fields not named are 0)."""
        return sum(self.field(name).put(value) for name, value in values.items())


class PerfCounter(NamedTuple):
    """A 64-bit counter at `offset` (low word) and `offset + 4` (high word, latched by reading the low word).

    Deterministic counters are equal in the golden model and the RTL; timing counters are implementation-defined
    (the golden model reports 0).
    """

    name: str
    offset: int
    deterministic: bool
    doc: str

    @property
    def hi(self) -> int:
        return self.offset + 4


def flags(name: str, register: Register) -> type[enum.IntFlag]:
    """An IntFlag of the register's one-bit fields (`status & Status.BUSY`), so the bit positions stay declared
    only in the register."""
    members = {f.name: f.mask for f in register.fields if f.width == 1}
    flag = enum.IntFlag(name, members, module=__name__)
    flag.__doc__ = f"{register.name} one-bit fields: " + "; ".join(
        f"{f.name}: {f.doc}" for f in register.fields if f.width == 1)
    return flag


def _cfg(offset: int, field: str) -> Register:
    return Register(f"CFG_{field.upper()}", offset, Access.R, f"NpuConfig.{field}", config=field)


def _task(offset: int, field: str, words: int, doc: str) -> tuple[Register, ...]:
    """The staging registers of one descriptor field: TASK_<FIELD>, or TASK_<FIELD>_LO/_HI for a 64-bit one."""
    if words == 1:
        return (Register(f"TASK_{field.upper()}", offset, Access.RW, doc, task=(field, 0)),)
    return tuple(Register(f"TASK_{field.upper()}_{half}", offset + 4 * word, Access.RW,
                          f"{doc}, {'low' if word == 0 else 'high'} word", task=(field, word))
                 for word, half in enumerate(("LO", "HI")))


_IRQ_FIELDS = (
    BitField("DONE", 0, 1, "a task completed"),
    BitField("ERROR", 1, 1, "a task stopped on an error"),
)

_MINOR = BitField("MINOR", 0, 16, "minor version: only adds to the major version")
_MAJOR = BitField("MAJOR", 16, 16, "major version: programs of another major do not run")
VERSION = Register("VERSION", 0x004, Access.R, "ISA version", fields=(_MINOR, _MAJOR),
                   value=_MAJOR.put(ISA_VERSION[0]) | _MINOR.put(ISA_VERSION[1]))
CTRL = Register("CTRL", 0x020, Access.W, "actions (write 1 to act; they read back 0)", fields=(
    BitField("RESET", 0, 1, "abort the running task, drop queued tasks, clear STATUS, tokens and queues"),
    BitField("PERF_CLEAR", 1, 1, "zero every perf counter"),
))
STATUS = Register("STATUS", 0x024, Access.R, "state of the NPU and its command queue", fields=(
    BitField("BUSY", 0, 1, "a task is running or queued"),
    BitField("ERROR", 1, 1, "the NPU stopped on an error; sticky until CTRL.RESET"),
    BitField("CMDQ_OVERFLOW", 2, 1, "DOORBELL was written while the command queue was full; the task was dropped"),
    BitField("ERROR_CODE", 8, 8, "why the NPU stopped (NONE unless ERROR)", enum=ErrorCode),
    BitField("QUEUED", 16, 8, "tasks queued or running (saturates at 255)"),
))
IRQ_ENABLE = Register("IRQ_ENABLE", 0x030, Access.RW, "interrupts that raise the irq line", fields=_IRQ_FIELDS)
IRQ_STATUS = Register("IRQ_STATUS", 0x034, Access.W1C, "interrupts pending; write 1 to clear; irq is high while "
                      "IRQ_STATUS & IRQ_ENABLE != 0", fields=_IRQ_FIELDS)

REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x000, Access.R, f'constant 0x{NPU_ID:08X} ("NUX1")', value=NPU_ID),
    VERSION,
    _cfg(0x008, "dim"),
    _cfg(0x00C, "sp_rows"),
    _cfg(0x010, "acc_rows"),
    _cfg(0x014, "axi_data_bits"),
    _cfg(0x018, "dram_addr_bits"),
    _cfg(0x01C, "cmdq_depth"),
    CTRL,
    STATUS,
    Register("FAULT_PC", 0x028, Access.R, "instruction index of the fault (valid while STATUS.ERROR)"),
    Register("FAULT_TAG", 0x02C, Access.R, "TASK_TAG of the faulting task"),
    IRQ_ENABLE,
    IRQ_STATUS,
    Register("COMPLETED", 0x038, Access.R, "tasks completed without error since reset (wraps at 2^32)"),
    Register("CMDQ_FREE", 0x03C, Access.R, "free command-queue slots"),
    *_task(0x040, "prog_base", 2, "program address (32-byte aligned)"),
    *_task(0x048, "prog_len", 1, "program length in instructions"),
    *_task(0x04C, "arena_base", 2, "arena base address"),
    *_task(0x054, "arena_size", 1, "arena size in bytes"),
    *_task(0x058, "tag", 1, "caller's tag for the task (reported in LAST_TAG / FAULT_TAG)"),
    Register("DOORBELL", 0x05C, Access.W, "any write queues the staged TASK_* descriptor"),
    Register("LAST_TAG", 0x060, Access.R, "TASK_TAG of the last task completed"),
)
#: Flags of the one-bit fields, generated from the declarations above.
Ctrl = flags("Ctrl", CTRL)
Status = flags("Status", STATUS)
Irq = flags("Irq", IRQ_STATUS)

PERF_COUNTERS: tuple[PerfCounter, ...] = (
    PerfCounter("CYCLES", 0x100, False, "cycles with a task running"),
    PerfCounter("ARRAY_BUSY", 0x108, True, "rows streamed through the array (one per busy cycle)"),
    PerfCounter("MACS", 0x110, True, "multiply-accumulates: dim*dim per streamed row"),
    PerfCounter("DMA_RD_BYTES", 0x118, True,
                "DRAM bytes read by LOAD (padding not counted, instruction fetch not counted)"),
    PerfCounter("DMA_WR_BYTES", 0x120, True, "DRAM bytes written by STORE"),
    PerfCounter("INSTRET", 0x128, True, "instructions completed (END included)"),
    PerfCounter("STALL_LOAD", 0x130, False, "cycles the load queue waited for a token"),
    PerfCounter("STALL_COMPUTE", 0x138, False, "cycles the compute queue waited for a token"),
    PerfCounter("STALL_STORE", 0x140, False, "cycles the store queue waited for a token"),
)

REGISTER: dict[str, Register] = {r.name: r for r in REGISTERS}
REG: dict[str, int] = {r.name: r.offset for r in REGISTERS}
PERF: dict[str, int] = {c.name: c.offset for c in PERF_COUNTERS}
DETERMINISTIC_COUNTERS = tuple(c.name for c in PERF_COUNTERS if c.deterministic)
#: NpuConfig field -> the CFG_* register reporting it, in NpuConfig order
CONFIG_FIELDS: dict[str, Register] = {r.config: r for r in REGISTERS if r.config is not None}
#: task-descriptor field -> its TASK_* staging registers, low word first (descriptor field order)
TASK_FIELDS: dict[str, tuple[Register, ...]] = {
    name: tuple(r for r in REGISTERS if r.task is not None and r.task[0] == name)
    for name in dict.fromkeys(r.task[0] for r in REGISTERS if r.task is not None)
}
#: a STATUS word's field shifts, for code composing STATUS (the RTL command queue)
STATUS_ERROR_SHIFT = STATUS.field("ERROR_CODE").lsb
STATUS_QUEUED_SHIFT = STATUS.field("QUEUED").lsb


def constant_registers(config: NpuConfig, isa_minor: int = ISA_VERSION[1]) -> dict[Register, int]:
    """What ID, VERSION and CFG_* read on an NPU built for `config` implementing ISA 1.`isa_minor` (golden model,
    RTL and fakes agree by this)."""
    if not 0 <= isa_minor <= ISA_VERSION[1]:
        raise ValueError(f"isa_minor must be in [0, {ISA_VERSION[1]}], got {isa_minor}")
    values = {r: r.value if r.value is not None else getattr(config, r.config)
              for r in REGISTERS if r.value is not None or r.config is not None}
    values[VERSION] = _MAJOR.put(ISA_VERSION[0]) | _MINOR.put(isa_minor)
    return values


def task_words(**fields: int) -> dict[Register, int]:
    """The TASK_* register words staging a descriptor (prog_base=..., prog_len=..., ...; every field needed)."""
    if set(fields) != set(TASK_FIELDS):
        raise ValueError(f"a task descriptor has the fields {list(TASK_FIELDS)}, got {sorted(fields)}")
    mask = (1 << WORD_BITS) - 1
    return {reg: (fields[name] >> (WORD_BITS * reg.task[1])) & mask
            for name, regs in TASK_FIELDS.items() for reg in regs}


def task_fields(words: Mapping[str, int]) -> dict[str, int]:
    """The descriptor staged in TASK_* register words (by register name): the inverse of `task_words`."""
    return {name: sum(words[reg.name] << (WORD_BITS * reg.task[1]) for reg in regs)
            for name, regs in TASK_FIELDS.items()}


def check_map(registers: tuple[Register, ...], counters: tuple[PerfCounter, ...]) -> None:
    """Offsets unique, aligned, inside the window; fields inside their word and disjoint; every NpuConfig field
    reported once, in order; descriptor words complete. Run at import, so a bad edit fails at once."""
    offsets = [r.offset for r in registers] + [o for c in counters for o in (c.offset, c.hi)]
    if len(offsets) != len(set(offsets)) or any(o % 4 or not 0 <= o < MMIO_SIZE for o in offsets):
        raise AssertionError("register map overlaps or is misaligned")
    for r in registers:
        bits = 0
        for f in r.fields:
            if f.width < 1 or f.msb >= WORD_BITS or bits & f.mask:
                raise AssertionError(f"{r.name}.{f.name} overlaps another field or leaves the word")
            if f.enum is not None and max(f.enum) > f.max:
                raise AssertionError(f"{r.name}.{f.name} is too narrow for {f.enum.__name__}")
            bits |= f.mask
        if sum(x is not None for x in (r.value, r.config, r.task)) > 1:
            raise AssertionError(f"{r.name} has more than one source")
    if [r.config for r in registers if r.config is not None] != [f.name for f in dataclasses.fields(NpuConfig)]:
        raise AssertionError("every NpuConfig field needs exactly one CFG_* register, in NpuConfig order")
    words: dict[str, list[int]] = {}
    for r in registers:
        if r.task is not None:
            words.setdefault(r.task[0], []).append(r.task[1])
    if any(w != list(range(len(w))) for w in words.values()):
        raise AssertionError("TASK_* words must be declared low word first, without gaps")


check_map(REGISTERS, PERF_COUNTERS)
