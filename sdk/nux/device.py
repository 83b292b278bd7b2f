"""The one interface every backend implements: 32-bit MMIO, DMA at device addresses, and waiting for the IRQ.

Backends (golden model, Verilator simulation, F1 XDMA, F2/F1 PCI BARs) never leak into callers: `Npu` and
everything above speak only this protocol.

Why here, on the ground floor, and not in nux.driver or nux.isa: the protocol is the contract *between* the
driver and its backends, and backends live in several layers (nux.sim, the AWS wrappers, third-party code), so
they must be able to implement it and share its checks without importing the driver. It needs only the register
map (nux.isa) and NuxError. It is not part of nux.isa because nux.isa describes the hardware as data and pure
functions (the RTL generator imports it); this module is host software (a Protocol, blocking polls, errors).
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from nux.errors import NuxError
from nux.isa.registers import IRQ_ENABLE, IRQ_STATUS, MMIO_SIZE


class DeviceError(NuxError):
    """A device cannot be opened, or an access is invalid (unaligned MMIO, DMA outside device memory)."""


@runtime_checkable
class Device(Protocol):
    """A memory-mapped NPU: registers at MMIO offsets, DRAM at device addresses."""

    #: bytes of device DRAM reachable by DMA, starting at device address 0
    dram_size: int

    def read32(self, addr: int) -> int:
        """Read the 32-bit register at MMIO byte offset `addr` (4-byte aligned)."""
        ...

    def write32(self, addr: int, value: int) -> None:
        """Write the 32-bit register at MMIO byte offset `addr` (4-byte aligned)."""
        ...

    def write(self, dev_addr: int, data: bytes) -> None:
        """DMA host -> device: copy `data` to device DRAM at `dev_addr`."""
        ...

    def read(self, dev_addr: int, n: int) -> bytes:
        """DMA device -> host: copy `n` bytes of device DRAM at `dev_addr`."""
        ...

    def wait_irq(self, timeout: float) -> bool:
        """Block until the interrupt line is high or `timeout` seconds pass; True if it is high.

        Backends without an interrupt poll STATUS; simulators advance simulated time while waiting.
        """
        ...

    def close(self) -> None:
        """Release the device (files, mappings, simulator)."""
        ...


def check_dma(device: Device, dev_addr: int, n: int) -> None:
    """Refuse a DMA that falls outside device DRAM, with a clear message (shared by every backend)."""
    if dev_addr < 0 or n < 0 or dev_addr + n > device.dram_size:
        raise DeviceError(
            f"DMA of {n} bytes at 0x{dev_addr:x} is outside device memory [0, 0x{device.dram_size:x})"
        )


def check_mmio(addr: int) -> None:
    """Refuse an unaligned or out-of-window register access."""
    if addr % 4 or not 0 <= addr < MMIO_SIZE:
        raise DeviceError(f"MMIO offset 0x{addr:x} is not a 4-byte aligned offset below 0x{MMIO_SIZE:x}")


def irq_pending(device: Device) -> bool:
    """The interrupt line as the register file defines it: IRQ_STATUS & IRQ_ENABLE != 0 (docs/isa.md §6)."""
    return bool(device.read32(IRQ_STATUS.offset) & device.read32(IRQ_ENABLE.offset))


def poll_irq(device: Device, timeout: float, interval: float = 20e-6, max_interval: float = 1e-3) -> bool:
    """`wait_irq` for backends without an interrupt: read the IRQ registers with a growing back-off.

    The back-off starts short because most tasks finish in microseconds to milliseconds, and caps at 1 ms so a
    long wait does not flood the bus with MMIO reads.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        if irq_pending(device):
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        time.sleep(min(interval, deadline - now))
        interval = min(interval * 2, max_interval)
