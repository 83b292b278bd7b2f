"""`golden`: the NumPy golden model as a register-level device, `GoldenDevice` (docs/isa.md section 6).

Options: `config` (NpuConfig), `dram_size` (bytes), `hang` (never complete a task: for timeout tests).

Only MMIO and DMA drive it, exactly like the hardware: TASK_* staging registers, DOORBELL into a command queue of
depth `cmdq_depth`, a worker thread that runs queued tasks in order (so submission is asynchronous), STATUS,
COMPLETED/LAST_TAG, FAULT_*, IRQ_ENABLE/IRQ_STATUS (W1C, level interrupt), CTRL.RESET / PERF_CLEAR and 64-bit
perf counters whose LO read latches HI. All register state sits behind one lock; `wait_irq` waits on its
condition variable. A task taken by the worker leaves the command queue (CMDQ_FREE counts waiting tasks only).

It lives in the driver, beside the other backends, rather than in nux.golden: the golden model (nux.golden) is
the ground floor and stays free of the Device protocol; this module only puts the register file of nux.isa in
front of its Machine. Every offset and bit comes from the declarations in nux.isa.registers.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import numpy as np
from nux.device import Device, DeviceError, check_dma, check_mmio
from nux.driver.registry import construct, register_backend
from nux.golden.errors import Cancelled, NpuFault
from nux.golden.machine import Machine
from nux.isa import (
    CTRL,
    IRQ_ENABLE,
    IRQ_STATUS,
    ISA_VERSION,
    PERF,
    PERF_COUNTERS,
    REG,
    STATUS,
    TASK_FIELDS,
    Ctrl,
    ErrorCode,
    Irq,
    NpuConfig,
    constant_registers,
    task_fields,
)

_MASK32 = 0xFFFFFFFF
_STAGING = {r.offset: r.name for regs in TASK_FIELDS.values() for r in regs}
_PERF_BY_LO = {c.offset: c.name for c in PERF_COUNTERS}
_PERF_BY_HI = {c.hi: c.name for c in PERF_COUNTERS}
_IRQ_BITS = sum(f.mask for f in IRQ_ENABLE.fields)
_QUEUED_MAX = STATUS.field("QUEUED").max
#: How long CTRL.RESET waits for the worker to abandon a task (a chunk of rows takes milliseconds).
_RESET_TIMEOUT = 30.0
DEFAULT_CONFIG = NpuConfig()


@dataclass(frozen=True)
class Task:
    prog_base: int
    prog_len: int
    arena_base: int
    arena_size: int
    tag: int


class GoldenDevice:
    """A Device whose NPU is the golden model, with `dram_size` bytes of device DRAM.

    `hang=True` is a test hook for driver time-out handling: tasks are taken from the queue (STATUS.BUSY) but
    never run or complete until CTRL.RESET aborts them. The attribute may be changed between tasks (a task
    reads it when it starts), so a test can hang one task and then let the device recover.
    `isa_minor` is the ISA 1.x the device implements (VERSION reads it; 0 behaves exactly like a 1.0 NPU, such
    as the RTL before its 1.1 units are wired in).
    """

    def __init__(self, config: NpuConfig = DEFAULT_CONFIG, dram_size: int = 64 << 20, hang: bool = False,
                 isa_minor: int = ISA_VERSION[1]):
        if not 0 < dram_size <= 1 << config.dram_addr_bits:
            raise DeviceError(f"dram_size {dram_size} must be in (0, 2^{config.dram_addr_bits}]")
        self.config = config
        self.dram_size = dram_size
        self.hang = hang
        self.dram = np.zeros(dram_size, dtype=np.uint8)
        if isa_minor not in range(ISA_VERSION[1] + 1):
            raise DeviceError(f"isa_minor must be in [0, {ISA_VERSION[1]}], got {isa_minor!r}")
        self.isa_minor = isa_minor
        self.machine = Machine(config, self.dram, isa_minor)
        self._cond = threading.Condition()
        self._queue: collections.deque[Task] = collections.deque()
        self._running: Task | None = None
        self._cancel = threading.Event()
        self._closed = False
        self._staging = dict.fromkeys(_STAGING.values(), 0)
        self._constants = {r.offset: value for r, value in constant_registers(config, isa_minor).items()}
        self._irq_enable = 0
        self._latches = dict.fromkeys(PERF, 0)
        #: the exception behind an INTERNAL fault (a golden-model bug), kept for debugging
        self.internal_error: Exception | None = None
        self._clear_state()
        self._worker = threading.Thread(target=self._work, name="nux-golden-npu", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ Device protocol

    def __repr__(self) -> str:
        c = self.config
        return f"GoldenDevice(dim={c.dim}, sp_rows={c.sp_rows}, acc_rows={c.acc_rows}, dram={self.dram_size:#x})"

    def read32(self, addr: int) -> int:
        check_mmio(addr)
        with self._cond:
            return self._read(addr) & _MASK32

    def write32(self, addr: int, value: int) -> None:
        check_mmio(addr)
        if not 0 <= value <= _MASK32:
            raise DeviceError(f"MMIO value {value!r} at 0x{addr:x} is not a 32-bit unsigned integer")
        with self._cond:
            self._write(addr, value)

    def write(self, dev_addr: int, data: bytes) -> None:
        check_dma(self, dev_addr, len(data))
        self.dram[dev_addr : dev_addr + len(data)] = np.frombuffer(data, dtype=np.uint8)

    def read(self, dev_addr: int, n: int) -> bytes:
        check_dma(self, dev_addr, n)
        return self.dram[dev_addr : dev_addr + n].tobytes()

    def wait_irq(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(self._irq_line, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cancel.set()
            self._cond.notify_all()
        self._worker.join(timeout=_RESET_TIMEOUT)

    def __enter__(self) -> GoldenDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ registers (called with the lock held)

    def _irq_line(self) -> bool:
        return bool(self._irq_status & self._irq_enable)

    def _status(self) -> int:
        in_flight = len(self._queue) + (self._running is not None)
        return STATUS.encode(
            BUSY=int(in_flight > 0), ERROR=int(self._error is not ErrorCode.NONE), CMDQ_OVERFLOW=int(self._overflow),
            ERROR_CODE=int(self._error), QUEUED=min(in_flight, _QUEUED_MAX),
        )

    def _read(self, addr: int) -> int:
        if addr in self._constants:
            return self._constants[addr]
        state = {
            STATUS.offset: self._status(),
            REG["FAULT_PC"]: self._fault_pc,
            REG["FAULT_TAG"]: self._fault_tag,
            IRQ_ENABLE.offset: self._irq_enable,
            IRQ_STATUS.offset: self._irq_status,
            REG["COMPLETED"]: self._completed,
            REG["CMDQ_FREE"]: self.config.cmdq_depth - len(self._queue),
            REG["LAST_TAG"]: self._last_tag,
        }
        if addr in state:
            return state[addr]
        if addr in _STAGING:
            return self._staging[_STAGING[addr]]
        if addr in _PERF_BY_LO:
            name = _PERF_BY_LO[addr]
            value = self.machine.counters[name]
            self._latches[name] = value >> 32
            return value
        if addr in _PERF_BY_HI:
            return self._latches[_PERF_BY_HI[addr]]
        return 0  # CTRL, DOORBELL (write-only) and undefined offsets

    def _write(self, addr: int, value: int) -> None:
        if addr == CTRL.offset:
            if value & Ctrl.RESET:
                self._reset()
            if value & Ctrl.PERF_CLEAR:
                self.machine.clear_counters()
                self._latches = dict.fromkeys(PERF, 0)
        elif addr == REG["DOORBELL"]:
            self._doorbell()
        elif addr == IRQ_ENABLE.offset:
            self._irq_enable = value & _IRQ_BITS
            self._cond.notify_all()
        elif addr == IRQ_STATUS.offset:
            self._irq_status &= ~value
        elif addr in _STAGING:
            self._staging[_STAGING[addr]] = value
        # writes to read-only and undefined offsets are ignored, as on the bus

    def _doorbell(self) -> None:
        if len(self._queue) >= self.config.cmdq_depth:
            self._overflow = True
            return
        self._queue.append(Task(**task_fields(self._staging)))
        self._cond.notify_all()

    def _clear_state(self) -> None:
        """What CTRL.RESET clears: STATUS, FAULT_*, IRQ_STATUS, COMPLETED, LAST_TAG (and the queue)."""
        self._queue.clear()
        self._overflow = False
        self._error = ErrorCode.NONE
        self._fault_pc = 0
        self._fault_tag = 0
        self._irq_status = 0
        self._completed = 0
        self._last_tag = 0

    def _reset(self) -> None:
        """Abort the running task and wait until the worker has let go of it: idle when the write returns."""
        self._queue.clear()
        if self._running is not None:
            self._cancel.set()
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._running is None, _RESET_TIMEOUT):
                raise DeviceError("golden device: the worker did not abandon the running task on CTRL.RESET")
        self._clear_state()
        self._cond.notify_all()

    # ------------------------------------------------------------------ the NPU

    def _next_task(self) -> Task | None:
        """Wait (lock held) until a task may start; None when the device closes."""
        self._cond.wait_for(lambda: self._closed or (self._queue and self._error is ErrorCode.NONE))
        if self._closed:
            return None
        self._cancel.clear()
        self._running = self._queue.popleft()
        return self._running

    def _work(self) -> None:
        while True:
            with self._cond:
                task = self._next_task()
            if task is None:
                return
            outcome: NpuFault | Cancelled | None = None
            try:
                if self.hang:
                    self._cancel.wait()
                    raise Cancelled("hung task aborted")
                self.machine.run_task(task.prog_base, task.prog_len, task.arena_base, task.arena_size, self._cancel)
            except (NpuFault, Cancelled) as exc:
                outcome = exc
            except Exception as exc:  # a golden-model bug must not kill the NPU silently: report INTERNAL
                self.internal_error = exc
                outcome = NpuFault(ErrorCode.INTERNAL, 0, repr(exc))
            with self._cond:
                self._finish(task, outcome)

    def _finish(self, task: Task, outcome: NpuFault | Cancelled | None) -> None:
        self._running = None
        if isinstance(outcome, NpuFault):
            self._error = outcome.code
            self._fault_pc = outcome.pc & _MASK32
            self._fault_tag = task.tag
            self._irq_status |= Irq.ERROR
        elif outcome is None:
            self._completed = (self._completed + 1) & _MASK32
            self._last_tag = task.tag
            self._irq_status |= Irq.DONE
        self._cond.notify_all()


def open_golden(arg: str | None, **options: object) -> Device:
    """Create a fresh golden device; the device string takes no argument (`golden`)."""
    if arg:
        raise DeviceError(f"the golden device takes no argument, got 'golden:{arg}'")
    return construct("golden", GoldenDevice, **options)


register_backend("golden", open_golden, help="NumPy golden model (options: config, dram_size, hang, isa_minor)")
