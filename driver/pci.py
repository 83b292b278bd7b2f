"""`pci:<BDF>`: an NPU reached through the PCI BARs directly (AWS F2's small shell has no DMA engine; F1 without
the XDMA driver).

MMIO is an mmap of sysfs `resource0` (the OCL BAR) seen through a memoryview cast to uint32, so each register
access is one aligned 4-byte load or store, which is what an AXI-Lite slave behind PCIe needs (byte-wise copies
would become four 1-byte TLPs). Data goes through an mmap of `resource4` (the PCIS window onto the card's DDR),
preferring `resource4_wc` (write-combining: bulk writes become large TLPs) when the kernel offers it. There is no
interrupt without a kernel driver, so waiting polls IRQ_STATUS.

Options: `sysfs_root` (default /sys/bus/pci/devices), or explicit `bar0=` / `bar4=` paths (tests use ordinary
files or a memfd), `mmio_offset` (page-aligned offset of the NPU registers in BAR0), `dram_base` (offset of device
address 0 in BAR4), `dram_size` (default: BAR4 size - dram_base, cut to the NPU's
2**CFG_DRAM_ADDR_BITS when BAR0 answers like a nux NPU). The defaults of `mmio_offset` and `dram_base` are
the nux CL's address map (nux.isa.aws).
"""

from __future__ import annotations

import mmap
import os
import sys

from nux.device import DeviceError, check_dma, check_mmio, poll_irq
from nux.driver.nodes import close_fds, open_node
from nux.driver.registry import construct, register_backend
from nux.isa.aws import DRAM_BASE, NPU_BAR0_OFFSET

SYSFS_PCI = "/sys/bus/pci/devices"
_HINT = (
    "is the FPGA image loaded and the device present? (lspci -D -d 1d0f:, and `echo 1 > .../enable` if the BAR "
    "is disabled)"
)


def normalize_bdf(bdf: str) -> str:
    """'00:1d.0' -> '0000:00:1d.0' (sysfs names always carry the PCI domain)."""
    parts = bdf.strip().lower().split(":")
    if len(parts) == 2:
        parts.insert(0, "0000")
    if len(parts) != 3 or "." not in parts[2]:
        raise DeviceError(f"pci: {bdf!r} is not a PCI address like 0000:00:1d.0 (see lspci -D)")
    return ":".join(parts)


class PciDevice:
    """A nux NPU whose BARs are mapped into this process (see the module docstring)."""

    def __init__(
        self,
        bdf: str | None = None,
        *,
        sysfs_root: str = SYSFS_PCI,
        bar0: str | None = None,
        bar4: str | None = None,
        mmio_offset: int = NPU_BAR0_OFFSET,
        dram_base: int = DRAM_BASE,
        dram_size: int | None = None,
    ):
        if sys.byteorder != "little":
            raise DeviceError("pci: the BAR mapping assumes a little-endian host, like PCIe")
        if mmio_offset % mmap.PAGESIZE:
            raise DeviceError(f"pci: mmio_offset 0x{mmio_offset:x} must be a multiple of the page size")
        if bdf is None and (bar0 is None or bar4 is None):
            raise DeviceError("pci: name the device as pci:<BDF> (e.g. pci:0000:00:1d.0), or pass bar0= and bar4=")
        if bdf is not None:
            folder = os.path.join(sysfs_root, normalize_bdf(bdf))
            bar0 = bar0 or os.path.join(folder, "resource0")
            wc = os.path.join(folder, "resource4_wc")
            bar4 = bar4 or (wc if os.path.exists(wc) else os.path.join(folder, "resource4"))
        assert bar0 is not None and bar4 is not None
        self.paths = {"bar0": bar0, "bar4": bar4}
        self._fds: list[int] = []
        self._maps: list[mmap.mmap] = []
        try:
            self._regs = memoryview(self._map(bar0, "PCI BAR0 (OCL, MMIO)", mmio_offset, 4096)).cast("I")
            data_map = self._map(bar4, "PCI BAR4 (PCIS, device memory)", 0, None)
            self._data = memoryview(data_map)
        except BaseException:
            self.close()
            raise
        self.dram_base = dram_base
        bar_size = len(self._data)
        self.dram_size = self._npu_reach(bar_size - dram_base) if dram_size is None else dram_size
        if dram_base < 0 or not 0 < self.dram_size <= bar_size - dram_base:
            self.close()
            raise DeviceError(
                f"pci: device memory [0x{dram_base:x}, +0x{self.dram_size:x}) does not fit BAR4 of "
                f"0x{bar_size:x} bytes ({bar4})"
            )

    def _npu_reach(self, window: int) -> int:
        """The BAR4 window, cut to what a nux NPU behind BAR0 can address (F2's BAR4 is 128 GiB, the NPU's
        space 2**CFG_DRAM_ADDR_BITS); the whole window when BAR0 does not answer like a nux NPU."""
        from nux.isa import NPU_ID, REG

        bits = self._regs[REG["CFG_DRAM_ADDR_BITS"] >> 2]
        if self._regs[REG["ID"] >> 2] == NPU_ID and 16 <= bits <= 64:
            return min(window, 1 << bits)
        return window

    def _map(self, path: str, what: str, offset: int, length: int | None) -> mmap.mmap:
        fd = open_node(path, os.O_RDWR, what, _HINT)
        self._fds.append(fd)
        size = os.fstat(fd).st_size
        length = size - offset if length is None else length
        if length <= 0 or offset + length > size:
            raise DeviceError(f"{what} {path}: {size} bytes, too small to map 0x{length:x} bytes at 0x{offset:x}")
        try:
            mapped = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
        except OSError as exc:
            raise DeviceError(f"{what} {path}: mmap failed ({exc.strerror})") from None
        self._maps.append(mapped)
        return mapped

    # ------------------------------------------------------------------------------------------------ MMIO
    def read32(self, addr: int) -> int:
        check_mmio(addr)
        return self._regs[addr >> 2]

    def write32(self, addr: int, value: int) -> None:
        check_mmio(addr)
        self._regs[addr >> 2] = value & 0xFFFFFFFF

    # ------------------------------------------------------------------------------------------------- DMA
    def write(self, dev_addr: int, data: bytes) -> None:
        check_dma(self, dev_addr, len(data))
        start = self.dram_base + dev_addr
        self._data[start : start + len(data)] = memoryview(data).cast("B")

    def read(self, dev_addr: int, n: int) -> bytes:
        check_dma(self, dev_addr, n)
        start = self.dram_base + dev_addr
        return bytes(self._data[start : start + n])

    def wait_irq(self, timeout: float) -> bool:
        return poll_irq(self, timeout)

    def close(self) -> None:
        for view in ("_regs", "_data"):
            if hasattr(self, view):
                getattr(self, view).release()
        while self._maps:
            self._maps.pop().close()
        close_fds(self._fds)

    def __repr__(self) -> str:
        return f"PciDevice({self.paths['bar0']!r}, dram_size=0x{getattr(self, 'dram_size', 0):x})"


def open_pci(arg: str | None, **options: object) -> PciDevice:
    """`pci:<BDF>`; with `bar0=`/`bar4=` options the BDF may be left out (`pci`)."""
    return construct("pci", PciDevice, arg or None, **options)  # type: ignore[return-value]


register_backend("pci", open_pci, help="PCI BARs via sysfs mmap (F2, F1 without XDMA): pci:<BDF>")
