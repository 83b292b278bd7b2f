"""`xdma[:N]`: AWS F1 through the Xilinx XDMA driver.

MMIO is pread/pwrite of exactly 4 bytes at 4-byte aligned offsets on `/dev/xdmaN_user` (the OCL BAR the CL wires
to the NPU's AXI-Lite slave). DMA is pwrite on `/dev/xdmaN_h2c_K` and pread on `/dev/xdmaN_c2h_K`, where the file
offset is the card address. Transfers are split into chunks (8 MiB by default: the XDMA driver pins the user
pages of one request, so huge requests cost memory and latency) and short transfers are continued, never
silently truncated.

Options (all optional): `channel` (K, default 0), `user`, `h2c`, `c2h` (node paths, so tests can point them at
ordinary files), `dram_size` (bytes; default 2**CFG_DRAM_ADDR_BITS read from the device), `dram_base` (card
address of device address 0) and `mmio_offset` (offset of the NPU registers in the user BAR) -- both default to
the nux CL's address map (nux.isa.aws) -- `chunk` (bytes per DMA request), `events` (True, a
user-interrupt number K, or a path: block on `/dev/xdmaN_events_K` (K = 0 for True) instead of polling the IRQ
registers; the CL must wire the NPU's irq to that user interrupt).
"""

from __future__ import annotations

import os
import select
import time

from nux.device import DeviceError, check_dma, check_mmio, irq_pending, poll_irq
from nux.driver.nodes import close_fds, open_node
from nux.driver.registry import construct, register_backend
from nux.isa.aws import DRAM_BASE, NPU_BAR0_OFFSET

DEFAULT_CHUNK = 8 << 20
_HINT = "is the XDMA driver loaded and the AFI programmed? (lsmod | grep xdma; ls /dev/xdma*)"


class XdmaDevice:
    """A nux NPU behind the XDMA driver (see the module docstring for the node layout and options)."""

    def __init__(
        self,
        index: int = 0,
        *,
        channel: int = 0,
        user: str | None = None,
        h2c: str | None = None,
        c2h: str | None = None,
        dram_size: int | None = None,
        dram_base: int = DRAM_BASE,
        mmio_offset: int = NPU_BAR0_OFFSET,
        chunk: int = DEFAULT_CHUNK,
        events: str | int | bool | None = None,
    ):
        if chunk <= 0:
            raise DeviceError(f"xdma: chunk must be positive, got {chunk}")
        prefix = f"/dev/xdma{index}"
        self.paths = {
            "user": user or f"{prefix}_user",
            "h2c": h2c or f"{prefix}_h2c_{channel}",
            "c2h": c2h or f"{prefix}_c2h_{channel}",
        }
        if events is True or (isinstance(events, int) and not isinstance(events, bool)):
            events = f"{prefix}_events_{0 if events is True else events}"  # user interrupt K, not a DMA channel
        self._fds: list[int] = []
        try:
            self._user = self._open(self.paths["user"], os.O_RDWR, "XDMA user BAR (MMIO)")
            self._h2c = self._open(self.paths["h2c"], os.O_WRONLY, "XDMA host-to-card DMA channel")
            self._c2h = self._open(self.paths["c2h"], os.O_RDONLY, "XDMA card-to-host DMA channel")
            self._events = self._open(events, os.O_RDONLY, "XDMA event file") if events else None
            self.dram_base = dram_base
            self.mmio_offset = mmio_offset
            self.chunk = chunk
            self.dram_size = dram_size if dram_size is not None else self._reported_dram_size()
        except BaseException:
            close_fds(self._fds)
            raise

    def _open(self, path: str, flags: int, what: str) -> int:
        fd = open_node(path, flags, what, _HINT)
        self._fds.append(fd)
        return fd

    def _reported_dram_size(self) -> int:
        from nux.isa import NPU_ID, REG

        ident, bits = self.read32(REG["ID"]), self.read32(REG["CFG_DRAM_ADDR_BITS"])
        if ident != NPU_ID or not 16 <= bits <= 64:
            raise DeviceError(
                f"xdma: {self.paths['user']} does not answer like a nux NPU (ID 0x{ident:08x}, dram_addr_bits "
                f"{bits}); pass dram_size= to open it anyway"
            )
        return 1 << bits

    # ------------------------------------------------------------------------------------------------ MMIO
    def read32(self, addr: int) -> int:
        check_mmio(addr)
        data = os.pread(self._user, 4, self.mmio_offset + addr)
        if len(data) != 4:
            raise DeviceError(f"xdma: MMIO read at 0x{addr:x} returned {len(data)} bytes, not 4")
        return int.from_bytes(data, "little")

    def write32(self, addr: int, value: int) -> None:
        check_mmio(addr)
        written = os.pwrite(self._user, (value & 0xFFFFFFFF).to_bytes(4, "little"), self.mmio_offset + addr)
        if written != 4:
            raise DeviceError(f"xdma: MMIO write at 0x{addr:x} wrote {written} bytes, not 4")

    # ------------------------------------------------------------------------------------------------- DMA
    def write(self, dev_addr: int, data: bytes) -> None:
        check_dma(self, dev_addr, len(data))
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            piece = view[done : done + self.chunk]
            n = os.pwrite(self._h2c, piece, self.dram_base + dev_addr + done)
            if n <= 0:
                raise DeviceError(
                    f"xdma: DMA write stalled at device address 0x{dev_addr + done:x} ({done} of {len(view)} bytes)"
                )
            done += n

    def read(self, dev_addr: int, n: int) -> bytes:
        check_dma(self, dev_addr, n)
        out = bytearray(n)
        done = 0
        while done < n:
            piece = os.pread(self._c2h, min(self.chunk, n - done), self.dram_base + dev_addr + done)
            if not piece:
                raise DeviceError(f"xdma: DMA read ended at device address 0x{dev_addr + done:x} ({done} of {n} bytes)")
            out[done : done + len(piece)] = piece
            done += len(piece)
        return bytes(out)

    # ------------------------------------------------------------------------------------------------- IRQ
    def wait_irq(self, timeout: float) -> bool:
        if self._events is None:
            return poll_irq(self, timeout)
        deadline = time.monotonic() + max(timeout, 0.0)
        poller = select.poll()
        poller.register(self._events, select.POLLIN)
        while True:
            if irq_pending(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # An event read returns the count of interrupts since the last read; stale ones just loop once more.
            if not (poller.poll(remaining * 1000) and os.read(self._events, 4)):
                time.sleep(min(1e-3, max(remaining, 0.0)))  # a node that never blocks (a plain file): don't spin

    def close(self) -> None:
        close_fds(self._fds)

    def __repr__(self) -> str:
        return f"XdmaDevice({self.paths['user']!r}, dram_size=0x{self.dram_size:x})"


def open_xdma(arg: str | None, **options: object) -> XdmaDevice:
    """`xdma` or `xdma:N` (N = the XDMA device index, /dev/xdmaN_*)."""
    try:
        index = int(arg) if arg else 0
    except ValueError:
        raise DeviceError(f"xdma device index must be an integer, as in 'xdma:0'; got 'xdma:{arg}'") from None
    return construct("xdma", XdmaDevice, index, **options)  # type: ignore[return-value]


register_backend("xdma", open_xdma, help="AWS F1 with the XDMA driver: xdma[:N] (options: channel, user, ...)")
