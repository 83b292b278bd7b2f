"""The golden machine: NumPy memories and a program-order interpreter of nux instruction streams.

`Machine.run_task` is the architectural definition of a task (docs/isa.md sections 2-5): descriptor check,
fetch, decode, dispatch checks in priority order, execution, perf counters. It executes in program order; the
dispatch-time token rule guarantees that any correct decoupled execution (the RTL) gives the same results.
"""

from __future__ import annotations

import threading

import numpy as np

from nux.golden.checks import Tokens, check_arena, check_fields, check_rows
from nux.golden.errors import MachineError, NpuFault
from nux.golden.units import check_cancel, execute
from nux.isa import ISA_VERSION, PERF, DecodeError, ErrorCode, Instr, Mem, NpuConfig, Opcode, decode

INSTR_BYTES = 32
COUNTER_MASK = (1 << 64) - 1
_DECODE_CACHE_LIMIT = 1 << 16


class Machine:
    """NPU state: DRAM (shared with the host), SP (uint8 bytes), ACC (int32), LUT, LUTW (int32), the weight tile,
    counters. `isa_minor` is the ISA 1.x it implements (0: exactly a 1.0 NPU).

    SP, ACC and LUT persist across tasks (the ISA calls them unspecified at task start; keeping them makes
    the golden model deterministic). `counters` holds every PERF counter; the timing ones stay 0.
    """

    def __init__(self, config: NpuConfig, dram: np.ndarray, isa_minor: int = ISA_VERSION[1]):
        if not isinstance(dram, np.ndarray) or dram.dtype != np.uint8 or dram.ndim != 1:
            raise MachineError("dram must be a one-dimensional numpy uint8 array")
        if not dram.flags.writeable or not dram.flags.c_contiguous:
            raise MachineError("dram must be a writeable, contiguous array")
        if isa_minor not in range(ISA_VERSION[1] + 1):
            raise MachineError(f"isa_minor must be in [0, {ISA_VERSION[1]}], got {isa_minor!r}")
        self.config = config
        self.dram = dram
        self.isa_minor = isa_minor
        self.sp = np.zeros((config.sp_rows, config.dim), dtype=np.uint8)
        self.acc = np.zeros((config.acc_rows, config.dim), dtype=np.int32)
        self.lut = np.zeros(256, dtype=np.uint8)
        self.lutw = np.zeros(256, dtype=np.int32)
        self.tile = np.zeros((config.dim, config.dim), dtype=np.float32)
        self.counters: dict[str, int] = dict.fromkeys(PERF, 0)
        self._counter_lock = threading.Lock()
        self._decoded: dict[bytes, Instr | DecodeError] = {}

    # ------------------------------------------------------------------ state helpers used by the units

    def memory(self, mem: Mem) -> np.ndarray:
        """The on-chip memory as rows x dim (the LUTs seen as 256/dim rows)."""
        dim = self.config.dim
        return {Mem.SP: self.sp, Mem.ACC: self.acc, Mem.LUT: self.lut.reshape(-1, dim),
                Mem.LUTW: self.lutw.reshape(-1, dim)}[mem]

    def count(self, **increments: int) -> None:
        """Add to perf counters (64-bit wrap); locked so that PERF_CLEAR from another thread is never lost."""
        with self._counter_lock:
            for name, n in increments.items():
                self.counters[name] = (self.counters[name] + n) & COUNTER_MASK

    def clear_counters(self) -> None:
        with self._counter_lock:
            for name in self.counters:
                self.counters[name] = 0

    # ------------------------------------------------------------------ tasks

    def check_task(self, prog_base: int, prog_len: int, arena_base: int, arena_size: int) -> None:
        """BAD_TASK (FAULT_PC 0) for an invalid descriptor, as the NPU checks it at task start."""
        problem = None
        if prog_base % INSTR_BYTES:
            problem = f"prog_base 0x{prog_base:x} is not 32-byte aligned"
        elif prog_len == 0:
            problem = "prog_len is 0"
        elif arena_base + arena_size > 1 << self.config.dram_addr_bits:
            problem = f"arena ends past the {self.config.dram_addr_bits}-bit address space"
        elif prog_base < arena_base or prog_base + INSTR_BYTES * prog_len > arena_base + arena_size:
            problem = "program is not inside the arena"
        if problem:
            raise NpuFault(ErrorCode.BAD_TASK, 0, problem)

    def _fetch(self, address: int, pc: int) -> Instr:
        """Fetch and decode one instruction; decode errors map to ILLEGAL_OPCODE / BAD_FIELD."""
        if address + INSTR_BYTES > self.dram.size:
            raise NpuFault(ErrorCode.BUS_ERROR, pc, f"instruction fetch at 0x{address:x} is past device DRAM")
        word = self.dram[address : address + INSTR_BYTES].tobytes()
        result = self._decoded.get(word)
        if result is None:
            try:
                result = decode(word, pc, self.isa_minor)
            except DecodeError as exc:
                result = exc
            if len(self._decoded) >= _DECODE_CACHE_LIMIT:
                self._decoded.clear()
            self._decoded[word] = result
        if isinstance(result, DecodeError):
            code = ErrorCode.ILLEGAL_OPCODE if result.reason == "opcode" else ErrorCode.BAD_FIELD
            raise NpuFault(code, pc, str(result).split(": ", 1)[-1])
        return result

    def run_task(
        self,
        prog_base: int,
        prog_len: int,
        arena_base: int,
        arena_size: int,
        cancel: threading.Event | None = None,
    ) -> None:
        """Run one task to its END; raise NpuFault on an error (state: everything before the fault done).

        `cancel` (set by CTRL.RESET in GoldenDevice) is checked between instructions and between chunks of
        long instructions; when set, Cancelled is raised.
        """
        for name, value in (("prog_base", prog_base), ("prog_len", prog_len), ("arena_base", arena_base),
                            ("arena_size", arena_size)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise MachineError(f"{name} must be a non-negative integer, got {value!r}")
        self.check_task(prog_base, prog_len, arena_base, arena_size)
        config = self.config
        tokens = Tokens()
        tile_loaded = False
        for pc in range(prog_len):
            check_cancel(cancel)
            ins = self._fetch(prog_base + INSTR_BYTES * pc, pc)
            check_fields(ins, config, pc, self.isa_minor)
            tokens.check(ins, pc)
            if ins.opcode is Opcode.GEMM and not ins.values["preload"] and not tile_loaded:
                raise NpuFault(ErrorCode.BAD_DEP, pc, "GEMM preload=0 before any weight tile was loaded")
            check_rows(ins, config, pc)
            check_arena(ins, config, arena_size, pc)
            tokens.apply(ins)
            execute(self, ins, arena_base, pc, cancel)
            tile_loaded = tile_loaded or (ins.opcode is Opcode.GEMM and bool(ins.values["preload"]))
            self.count(INSTRET=1)
            if ins.opcode is Opcode.END:
                return
        raise NpuFault(ErrorCode.PROGRAM_OVERRUN, prog_len, f"no END within {prog_len} instructions")
