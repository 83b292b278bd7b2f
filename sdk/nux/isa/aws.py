"""The AWS custom-logic (CL) address map: where the host finds the NPU and its DRAM on an F1 or F2 slot.

One source for both sides: the CL generator (nux.aws) builds its BAR0 decoder, CL ID registers and DDR address
offset from these numbers, and the driver backends (`pci`, `xdma`) take their defaults from them. Nothing else
writes these numbers down.

BAR0 (AppPF, the shell's OCL AXI-Lite port; 64 MiB on F2, 32 MiB on F1) is split into 4 KiB windows:
window `NPU_BAR0_OFFSET` holds the NPU registers (docs/isa.md section 6), window `CL_REGS_OFFSET` the CL's own
identification registers (`CL_REGISTERS`); every other address answers DECERR with all-ones data. Device address
A of the NPU is DDR address `DRAM_BASE + A`, which is also the PCIS offset (F2 BAR4, F1 XDMA card address) the
host uses to reach it.
"""

from __future__ import annotations

import enum

from nux.isa.registers import MMIO_SIZE, Register

#: BAR0 offset of the NPU register window (page-aligned: the pci backend mmaps it).
NPU_BAR0_OFFSET = 0x0000
#: BAR0 offset of the CL identification window.
CL_REGS_OFFSET = 0x1000
#: DDR (and PCIS / XDMA card) address of NPU device address 0.
DRAM_BASE = 0x0
#: BAR0 window size; both windows are one NPU MMIO window long.
WINDOW_BYTES = MMIO_SIZE

CL_MAGIC = 0x4E58434C  # "NXCL"
CL_VERSION = (1 << 16) | 0  # major << 16 | minor of the CL wrapper (not of the ISA)
#: Which of the shell's 16 AppPF user interrupts the NPU's irq drives (XDMA: /dev/xdmaN_events_<this>).
IRQ_VECTOR = 0
#: PCIe IDs the AFI presents (cl_id_defines.vh): AWS vendor 0x1D0F allows device IDs 0xF000-0xF0FF.
PCI_VENDOR_ID = 0x1D0F
PCI_DEVICE_ID = 0xF0A7
PCI_SUBSYSTEM_VENDOR_ID = 0x1D0F
PCI_SUBSYSTEM_ID = 0x4E58  # "NX"


class Shell(enum.IntEnum):
    """The shell a CL was built for (CL_SHELL register)."""

    F1 = 1  # F1 XDMA shell (shell_v04261818): DDR C in the shell, XDMA engine, 16 GiB DIMM
    F2 = 2  # F2 small shell (shell_stable): sh_ddr in the CL, no DMA engine (host data through BAR4), 64 GiB


#: DDR bytes behind the interconnect, per shell (the DIMM the CL uses).
DDR_BYTES = {Shell.F1: 16 << 30, Shell.F2: 64 << 30}

#: The CL identification window (offsets relative to CL_REGS_OFFSET).
CL_REGISTERS: tuple[Register, ...] = (
    Register("CL_MAGIC", 0x00, "R", 'constant 0x4E58434C ("NXCL")'),
    Register("CL_VERSION", 0x04, "R", "CL wrapper version: (major << 16) + minor"),
    Register("CL_SHELL", 0x08, "R", "Shell: 1 = F1 (XDMA shell), 2 = F2 (small shell)"),
    Register("CL_NPU_OFFSET", 0x0C, "R", "BAR0 offset of the NPU register window"),
    Register("CL_DRAM_BASE_LO", 0x10, "R", "DDR address of NPU device address 0, low word"),
    Register("CL_DRAM_BASE_HI", 0x14, "R", "DDR address of NPU device address 0, high word"),
    Register("CL_DDR_SIZE_LO", 0x18, "R", "DDR bytes behind the interconnect, low word"),
    Register("CL_DDR_SIZE_HI", 0x1C, "R", "DDR bytes behind the interconnect, high word"),
    Register("CL_IRQ_VECTOR", 0x20, "R", "AppPF user interrupt the NPU's irq line drives"),
    Register("CL_IRQ_COUNT", 0x24, "R", "interrupt requests sent to the shell since reset (wraps)"),
    Register("CL_SCRATCH", 0x28, "RW", "free for the host: proves BAR0 writes reach the CL"),
)
CL_REG: dict[str, int] = {r.name: CL_REGS_OFFSET + r.offset for r in CL_REGISTERS}


def cl_register_values(shell: Shell) -> dict[str, int]:
    """The constant CL registers' values for a CL built for `shell` (the RTL and the tests read these)."""
    ddr = DDR_BYTES[shell]
    return {
        "CL_MAGIC": CL_MAGIC, "CL_VERSION": CL_VERSION, "CL_SHELL": int(shell), "CL_NPU_OFFSET": NPU_BAR0_OFFSET,
        "CL_DRAM_BASE_LO": DRAM_BASE & 0xFFFFFFFF, "CL_DRAM_BASE_HI": DRAM_BASE >> 32,
        "CL_DDR_SIZE_LO": ddr & 0xFFFFFFFF, "CL_DDR_SIZE_HI": ddr >> 32, "CL_IRQ_VECTOR": IRQ_VECTOR,
    }


def _check_map() -> None:
    windows = {NPU_BAR0_OFFSET, CL_REGS_OFFSET}
    if len(windows) != 2 or any(w % WINDOW_BYTES for w in windows):
        raise AssertionError("BAR0 windows overlap or are not window-aligned")
    if any(r.offset % 4 or r.offset >= WINDOW_BYTES for r in CL_REGISTERS):
        raise AssertionError("CL register misaligned or outside its window")


_check_map()
