"""The MMIO register map (AXI-Lite, 32-bit registers, 4-byte aligned, 4 KiB window).

Tasks are queued by writing a descriptor to the TASK_* staging registers and then DOORBELL; the NPU runs queued
tasks in order, counting them in COMPLETED. 64-bit perf counters are read low word first: reading *_LO latches
the high word, so LO then HI is a consistent pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NPU_ID = 0x4E555831  # "NUX1"
MMIO_SIZE = 0x1000


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str  # "R", "W", "RW", "W1C"
    doc: str


class Ctrl(enum.IntFlag):
    """CTRL bits (write 1 to act; they read back 0)."""

    RESET = 1 << 0  # abort the running task, drop queued tasks, clear STATUS, tokens and queues
    PERF_CLEAR = 1 << 1  # zero every perf counter


class Status(enum.IntFlag):
    """STATUS bits [7:0]; bits [15:8] hold the ErrorCode, [23:16] the tasks queued or running."""

    BUSY = 1 << 0  # a task is running or queued
    ERROR = 1 << 1  # the NPU stopped on an error; sticky until CTRL.RESET
    CMDQ_OVERFLOW = 1 << 2  # DOORBELL was written while the command queue was full; the task was dropped


class Irq(enum.IntFlag):
    """IRQ_ENABLE / IRQ_STATUS bits; the interrupt line is high while (IRQ_STATUS & IRQ_ENABLE) != 0."""

    DONE = 1 << 0  # a task completed
    ERROR = 1 << 1  # a task stopped on an error


STATUS_ERROR_SHIFT = 8
STATUS_QUEUED_SHIFT = 16

REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x000, "R", 'constant 0x4E555831 ("NUX1")'),
    Register("VERSION", 0x004, "R", "ISA version: major << 16 | minor"),
    Register("CFG_DIM", 0x008, "R", "NpuConfig.dim"),
    Register("CFG_SP_ROWS", 0x00C, "R", "NpuConfig.sp_rows"),
    Register("CFG_ACC_ROWS", 0x010, "R", "NpuConfig.acc_rows"),
    Register("CFG_AXI_DATA_BITS", 0x014, "R", "NpuConfig.axi_data_bits"),
    Register("CFG_DRAM_ADDR_BITS", 0x018, "R", "NpuConfig.dram_addr_bits"),
    Register("CFG_CMDQ_DEPTH", 0x01C, "R", "NpuConfig.cmdq_depth"),
    Register("CTRL", 0x020, "W", "Ctrl bits: RESET, PERF_CLEAR (self-clearing)"),
    Register("STATUS", 0x024, "R", "Status bits [7:0], error code [15:8], tasks queued or running [23:16]"),
    Register("FAULT_PC", 0x028, "R", "instruction index of the fault (valid while STATUS.ERROR)"),
    Register("FAULT_TAG", 0x02C, "R", "TASK_TAG of the faulting task"),
    Register("IRQ_ENABLE", 0x030, "RW", "Irq bits that raise the interrupt line"),
    Register("IRQ_STATUS", 0x034, "W1C", "Irq bits pending; write 1 to clear"),
    Register("COMPLETED", 0x038, "R", "tasks completed without error since reset (wraps at 2^32)"),
    Register("CMDQ_FREE", 0x03C, "R", "free command-queue slots"),
    Register("TASK_PROG_BASE_LO", 0x040, "RW", "program address, low word (32-byte aligned)"),
    Register("TASK_PROG_BASE_HI", 0x044, "RW", "program address, high word"),
    Register("TASK_PROG_LEN", 0x048, "RW", "program length in instructions"),
    Register("TASK_ARENA_BASE_LO", 0x04C, "RW", "arena base address, low word"),
    Register("TASK_ARENA_BASE_HI", 0x050, "RW", "arena base address, high word"),
    Register("TASK_ARENA_SIZE", 0x054, "RW", "arena size in bytes"),
    Register("TASK_TAG", 0x058, "RW", "caller's tag for the task (reported in LAST_TAG / FAULT_TAG)"),
    Register("DOORBELL", 0x05C, "W", "any write queues the staged TASK_* descriptor"),
    Register("LAST_TAG", 0x060, "R", "TASK_TAG of the last task completed"),
)

#: 64-bit performance counters: (name, offset of the low word, deterministic?). Deterministic counters are equal
#: in the golden model and the RTL; timing counters are implementation-defined (the golden model reports 0).
PERF_COUNTERS: tuple[tuple[str, int, bool, str], ...] = (
    ("CYCLES", 0x100, False, "cycles with a task running"),
    ("ARRAY_BUSY", 0x108, True, "rows streamed through the array (one per busy cycle)"),
    ("MACS", 0x110, True, "multiply-accumulates: dim*dim per streamed row"),
    (
        "DMA_RD_BYTES",
        0x118,
        True,
        "DRAM bytes read by LOAD (padding not counted, instruction fetch not counted)",
    ),
    ("DMA_WR_BYTES", 0x120, True, "DRAM bytes written by STORE"),
    ("INSTRET", 0x128, True, "instructions completed (END included)"),
    ("STALL_LOAD", 0x130, False, "cycles the load queue waited for a token"),
    ("STALL_COMPUTE", 0x138, False, "cycles the compute queue waited for a token"),
    ("STALL_STORE", 0x140, False, "cycles the store queue waited for a token"),
)

REG: dict[str, int] = {r.name: r.offset for r in REGISTERS}
PERF: dict[str, int] = {name: offset for name, offset, _, _ in PERF_COUNTERS}
DETERMINISTIC_COUNTERS = tuple(name for name, _, det, _ in PERF_COUNTERS if det)


def _check_map() -> None:
    offsets = (
        [r.offset for r in REGISTERS]
        + [o for _, o, _, _ in PERF_COUNTERS]
        + [o + 4 for _, o, _, _ in PERF_COUNTERS]
    )
    if len(offsets) != len(set(offsets)) or any(o % 4 or o >= MMIO_SIZE for o in offsets):
        raise AssertionError("register map overlaps or is misaligned")


_check_map()
