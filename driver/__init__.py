"""nux.driver: talk to an NPU through any backend with one API.

`open_device("golden" | "sim" | "xdma[:N]" | "pci:<BDF>", **options)` gives a `Device` (32-bit MMIO, DMA, IRQ
wait); `Npu(device_or_string)` identifies it, manages its memory, loads ENFs and runs them. New backends call
`register_backend(name, factory)`; `nux.sim` registers "sim" that way when it is imported.
"""

from nux.device import Device, DeviceError
from nux.driver.errors import (
    NpuError,
    NpuExecutionError,
    NpuTimeout,
    OutOfDeviceMemory,
    TaskAborted,
    TensorError,
    UnsupportedError,
)
from nux.driver.model import LoadedModel, Run
from nux.driver.npu import Npu
from nux.driver.registry import backend_available, known_backends, open_device, register_backend
from nux.driver.tasks import Task, TaskDescriptor
from nux.errors import IsaVersionError

__all__ = [
    "Device", "DeviceError", "NpuError", "NpuExecutionError", "NpuTimeout", "OutOfDeviceMemory", "TaskAborted",
    "TensorError", "UnsupportedError", "LoadedModel", "Run", "Npu", "backend_available", "known_backends",
    "open_device", "register_backend", "Task", "TaskDescriptor", "IsaVersionError",
]
