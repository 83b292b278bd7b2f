"""Errors the driver raises about tasks and device memory (device-access errors are DeviceError, in device.py)."""

from __future__ import annotations

from nux.errors import NuxError
from nux.isa import ERROR_DOCS, ErrorCode


class NpuError(NuxError):
    """Something went wrong running work on the NPU."""


class NpuExecutionError(NpuError):
    """The NPU stopped with STATUS.ERROR. The driver has reset the device, so it is usable again."""

    def __init__(self, code: ErrorCode | int, pc: int, tag: int, where: str = ""):
        try:
            self.code: ErrorCode | int = ErrorCode(code)
            name, doc = self.code.name, ERROR_DOCS[self.code]
        except ValueError:  # a code this driver does not know: report it, don't crash on it
            self.code, name, doc = code, f"error code {code}", "unknown error code"
        self.pc = pc
        self.tag = tag
        suffix = f" [{where}]" if where else ""
        super().__init__(f"NPU stopped with {name} at instruction {pc} of task tag {tag}{suffix}: {doc}")


class NpuTimeout(NpuError):
    """A task did not finish in time. The driver has reset the device (aborting every queued task)."""


class TaskAborted(NpuError):
    """A task never ran to completion because the device was reset (after another task's error or timeout)."""


class OutOfDeviceMemory(NpuError):
    """Device memory cannot satisfy an allocation."""


class TensorError(NpuError):
    """An input or output does not match the tensor table (unknown name, wrong dtype or shape)."""


class UnsupportedError(NpuError):
    """A valid request this driver does not implement yet (a tensor layout, a host step)."""
