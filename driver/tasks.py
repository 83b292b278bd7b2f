"""The command queue as the host sees it: submit task descriptors, track completion, recover from errors and hangs.

Completion is tracked with COMPLETED, not LAST_TAG: every task gets a sequence number (its position since the
last reset), and a task is done once COMPLETED, unwrapped from 32 bits, reaches it. Tags (TASK_TAG) are unique
per driver instance and are what the hardware reports in FAULT_TAG, so an error is attributed to the right task.
After an error or a timeout the queue resets the device: every other task still queued is marked aborted, and
the device is usable again at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nux.device import Device, DeviceError
from nux.driver.errors import NpuError, NpuExecutionError, NpuTimeout, TaskAborted
from nux.errors import NuxError
from nux.isa import INSTR_BYTES, REG, STATUS, Ctrl, Irq, Status, decode, format_instr, task_words

MASK32 = 0xFFFFFFFF
_IRQS = int(Irq.DONE | Irq.ERROR)
#: how long CTRL.RESET may take to leave the device idle (the spec says one register access; be generous)
RESET_TIMEOUT = 1.0


@dataclass(frozen=True)
class TaskDescriptor:
    """What the TASK_* registers take, plus what the host needs to explain a fault."""

    prog_base: int
    prog_len: int
    arena_base: int
    arena_size: int
    label: str = ""
    code: bytes = b""  # the program image, to show the faulting instruction in error messages


@dataclass(eq=False)
class Task:
    """A submitted task: pending until the queue sees it complete, fail, or get aborted by a reset."""

    desc: TaskDescriptor
    tag: int
    seq: int
    error: NpuError | None = None
    finished: bool = field(default=False)

    @property
    def done(self) -> bool:
        """True once the task completed or failed (`result()` then returns or raises at once)."""
        return self.finished or self.error is not None

    def result(self) -> None:
        """Raise the task's error, if it had one."""
        if self.error is not None:
            raise self.error
        if not self.finished:
            raise NpuError(f"task tag {self.tag} ({self.desc.label}) is still pending; wait for it first")


def describe_fault(desc: TaskDescriptor, pc: int) -> str:
    """The task's label plus the faulting instruction's text (when `pc` is inside the program image), e.g.
    "net program 0: `store dram_offset=4096`"."""
    where = desc.label
    start = pc * INSTR_BYTES
    if desc.code and 0 <= pc < desc.prog_len and start + INSTR_BYTES <= len(desc.code):
        try:
            text = format_instr(decode(desc.code[start : start + INSTR_BYTES], pc))
        except NuxError as exc:  # an illegal opcode or reserved bits: say so instead of the text
            text = f"undecodable: {exc}"
        where = f"{where}: `{text}`" if where else f"`{text}`"
    return where


class CommandQueue:
    """Submission and completion tracking for one device (see the module docstring)."""

    def __init__(self, device: Device, depth: int):
        self.device = device
        self.depth = depth
        self._pending: list[Task] = []
        self._next_tag = 1
        self._staged: dict[int, int] = {}  # register offset -> value written
        # Sequence numbers count from the COMPLETED value seen now, so attaching without a reset works too.
        self._submitted = self._retired = 0
        self._last_completed = device.read32(REG["COMPLETED"])

    # ------------------------------------------------------------------------------------------- state
    @property
    def pending(self) -> list[Task]:
        """Tasks submitted and not yet resolved, oldest first."""
        return list(self._pending)

    def reset(self, reason: str = "the device was reset") -> None:
        """CTRL.RESET, wait until idle, and abort every pending task with `reason`."""
        self.device.write32(REG["CTRL"], int(Ctrl.RESET))
        deadline = time.monotonic() + RESET_TIMEOUT
        while (status := self.device.read32(REG["STATUS"])) & int(Status.BUSY | Status.ERROR):
            if time.monotonic() > deadline:
                raise DeviceError(f"the NPU is still busy 1 s after CTRL.RESET (STATUS 0x{status:08x})")
            time.sleep(1e-4)
        self._abort_pending(reason)
        self._submitted = 0
        self._retired = 0
        self._last_completed = 0
        self._staged.clear()  # cheap insurance: rewrite every staging register after a reset
        self.device.write32(REG["IRQ_ENABLE"], _IRQS)
        self.device.write32(REG["IRQ_STATUS"], _IRQS)

    def _abort_pending(self, reason: str) -> None:
        for task in self._pending:
            task.error = TaskAborted(f"task tag {task.tag} ({task.desc.label}) did not run to completion: {reason}")
        self._pending.clear()

    # ------------------------------------------------------------------------------------------- polling
    def poll(self) -> None:
        """Read STATUS and COMPLETED once and resolve the tasks they account for; on an error, reset."""
        status = self.device.read32(REG["STATUS"])
        completed = self.device.read32(REG["COMPLETED"])  # after STATUS, so it includes every task before an error
        self._retired += (completed - self._last_completed) & MASK32
        self._last_completed = completed
        while self._pending and self._pending[0].seq <= self._retired:
            self._pending.pop(0).finished = True
        if status & Status.ERROR:
            self._fail(status)
        elif status & Status.CMDQ_OVERFLOW:
            self.reset("the command queue overflowed (is another process submitting to this NPU?)")

    def _fail(self, status: int) -> None:
        code = STATUS.field("ERROR_CODE").get(status)
        pc = self.device.read32(REG["FAULT_PC"])
        tag = self.device.read32(REG["FAULT_TAG"])
        culprit = next((t for t in self._pending if t.tag == tag), self._pending[0] if self._pending else None)
        where = describe_fault(culprit.desc, pc) if culprit else "a task this driver did not submit"
        error = NpuExecutionError(code, pc, tag, where)
        if culprit is not None:
            self._pending.remove(culprit)
            culprit.error = error
        self.reset(f"task tag {tag} stopped the NPU with {getattr(error.code, 'name', error.code)}")
        if culprit is None:
            raise error

    # ------------------------------------------------------------------------------------------- submit / wait
    def submit(self, desc: TaskDescriptor, timeout: float, deadline: float | None = None) -> Task:
        """Queue a task, first waiting for a free slot in the hardware command queue until `deadline` (a
        time.monotonic() value; default: `timeout` seconds from now). `timeout` is what an NpuTimeout reports."""
        deadline = time.monotonic() + timeout if deadline is None else deadline
        while True:
            self._clear_irq()
            self.poll()
            if len(self._pending) < self.depth and self.device.read32(REG["CMDQ_FREE"]) > 0:
                break
            if not self._sleep_until(deadline):
                oldest = self._pending[0] if self._pending else None
                self._expire(oldest, timeout, "while waiting for a free command-queue slot")
        tag = self._next_tag
        self._next_tag = (self._next_tag + 1) & MASK32 or 1
        words = task_words(prog_base=desc.prog_base, prog_len=desc.prog_len, arena_base=desc.arena_base,
                           arena_size=desc.arena_size, tag=tag)
        for reg, value in words.items():
            self._stage(reg.offset, value)
        self.device.write32(REG["DOORBELL"], 1)
        self._submitted += 1
        task = Task(desc, tag, self._submitted)
        self._pending.append(task)
        return task

    def _stage(self, offset: int, value: int) -> None:
        if self._staged.get(offset) != value:
            self.device.write32(offset, value)
            self._staged[offset] = value

    def wait(self, tasks: Sequence[Task], timeout: float, deadline: float | None = None) -> None:
        """Block until every task is resolved, all within one `timeout` (or until `deadline`, as in `submit`);
        raise the first error in order, or NpuTimeout (after resetting the device) when time runs out."""
        deadline = time.monotonic() + timeout if deadline is None else deadline
        for task in tasks:
            while not task.done:
                self._clear_irq()  # clear before polling, so a completion after the poll still raises the line
                self.poll()
                if task.done:
                    break
                if not self._sleep_until(deadline):
                    self.poll()  # a last look: it may have finished while we slept
                    if not task.done:
                        self._expire(task, timeout, "")
            task.result()

    def _clear_irq(self) -> None:
        self.device.write32(REG["IRQ_STATUS"], _IRQS)

    def _sleep_until(self, deadline: float) -> bool:
        """Wait for the IRQ until `deadline`; False when the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.device.wait_irq(remaining)
        return True

    def _expire(self, task: Task | None, timeout: float, context: str) -> None:
        status = self.device.read32(REG["STATUS"])
        what = f"task tag {task.tag} ({task.desc.label})" if task else "the NPU"
        error = NpuTimeout(
            f"{what} did not finish within {timeout:g} s{' ' + context if context else ''} "
            f"(STATUS 0x{status:08x}); the NPU was reset and every queued task aborted"
        )
        if task is not None and task in self._pending:
            self._pending.remove(task)
            task.error = error
        self.reset(f"the NPU was reset after {what} timed out")
        raise error
