"""Exceptions of the golden model: an architectural fault (what STATUS reports), a cancelled task, bad setup."""

from __future__ import annotations

from nux.errors import NuxError
from nux.isa import ErrorCode


class NpuFault(NuxError):
    """The NPU stopped on an error: `code` goes to STATUS[15:8], `pc` to FAULT_PC (docs/isa.md section 5)."""

    def __init__(self, code: ErrorCode, pc: int, detail: str = ""):
        self.code = ErrorCode(code)
        self.pc = pc
        self.detail = detail
        super().__init__(f"NPU fault {self.code.name} at pc {pc}" + (f": {detail}" if detail else ""))


class Cancelled(NuxError):
    """A running task was aborted through its cancel event (CTRL.RESET); its effects so far are not undone."""


class MachineError(NuxError):
    """The golden machine was set up with unusable arguments (wrong DRAM array, bad task arguments)."""
