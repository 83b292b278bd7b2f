"""The xdma backend against ordinary files standing in for /dev/xdmaN_* nodes: registers land at their offsets,
DMA at its card addresses, large transfers are chunked, short transfers continued, missing nodes explained."""

from __future__ import annotations

import os

import pytest
from nux.driver import Device, DeviceError, open_device
from nux.driver import nodes as nodes_module
from nux.driver import xdma as xdma_module
from nux.isa import MMIO_SIZE, NPU_ID, REG

CARD = 1 << 20  # bytes of fake card memory


@pytest.fixture
def nodes(tmp_path):
    """A fake user BAR and one file that both DMA channels address (so writes can be read back)."""
    user = tmp_path / "xdma0_user"
    user.write_bytes(bytes(MMIO_SIZE))
    card = tmp_path / "xdma0_card"
    card.write_bytes(bytes(CARD))
    return {"user": str(user), "h2c": str(card), "c2h": str(card)}


def open_fake(nodes, **options):
    return open_device("xdma:0", **nodes, **{"dram_size": CARD, **options})


def test_mmio_lands_at_register_offsets(nodes):
    dev = open_fake(nodes)
    try:
        assert isinstance(dev, Device)
        dev.write32(REG["TASK_TAG"], 0xDEADBEEF)
        dev.write32(REG["DOORBELL"], 0x1_0000_0005)  # only 32 bits reach the bus
        expected = bytearray(MMIO_SIZE)
        expected[REG["TASK_TAG"] : REG["TASK_TAG"] + 4] = (0xDEADBEEF).to_bytes(4, "little")
        expected[REG["DOORBELL"] : REG["DOORBELL"] + 4] = (5).to_bytes(4, "little")
        assert open(nodes["user"], "rb").read() == expected
        assert dev.read32(REG["TASK_TAG"]) == 0xDEADBEEF
    finally:
        dev.close()


@pytest.mark.parametrize("addr", [2, MMIO_SIZE, -4])
def test_bad_mmio_offsets_are_refused(nodes, addr):
    dev = open_fake(nodes)
    try:
        with pytest.raises(DeviceError, match="4-byte aligned"):
            dev.read32(addr)
        with pytest.raises(DeviceError, match="4-byte aligned"):
            dev.write32(addr, 0)
    finally:
        dev.close()


def test_dma_goes_to_card_address_plus_base(nodes):
    dev = open_fake(nodes, dram_base=0x1000, dram_size=CARD - 0x1000)
    try:
        payload = os.urandom(3000)
        dev.write(0x200, payload)
        raw = open(nodes["h2c"], "rb").read()
        assert raw[0x1200 : 0x1200 + 3000] == payload
        assert raw[:0x1200].count(0) == 0x1200
        assert dev.read(0x200, 3000) == payload
    finally:
        dev.close()


def test_dma_outside_device_memory_is_refused(nodes):
    dev = open_fake(nodes)
    try:
        with pytest.raises(DeviceError, match="outside device memory"):
            dev.write(CARD - 4, bytes(8))
        with pytest.raises(DeviceError, match="outside device memory"):
            dev.read(-1, 4)
    finally:
        dev.close()


def test_large_transfers_are_chunked(nodes, monkeypatch):
    calls = []
    real_pwrite, real_pread = os.pwrite, os.pread

    def pwrite(fd, data, offset):
        calls.append(("w", len(data), offset))
        return real_pwrite(fd, data, offset)

    def pread(fd, n, offset):
        calls.append(("r", n, offset))
        return real_pread(fd, n, offset)

    dev = open_fake(nodes, chunk=4096)
    try:
        monkeypatch.setattr(xdma_module.os, "pwrite", pwrite)
        monkeypatch.setattr(xdma_module.os, "pread", pread)
        payload = os.urandom(10000)
        dev.write(64, payload)
        assert [c for c in calls if c[0] == "w"] == [("w", 4096, 64), ("w", 4096, 4160), ("w", 1808, 8256)]
        calls.clear()
        assert dev.read(64, 10000) == payload
        assert [c for c in calls if c[0] == "r"] == [("r", 4096, 64), ("r", 4096, 4160), ("r", 1808, 8256)]
    finally:
        dev.close()


def test_short_transfers_are_continued(nodes, monkeypatch):
    real_pwrite, real_pread = os.pwrite, os.pread
    monkeypatch.setattr(xdma_module.os, "pwrite", lambda fd, data, off: real_pwrite(fd, bytes(data)[:1000], off))
    monkeypatch.setattr(xdma_module.os, "pread", lambda fd, n, off: real_pread(fd, min(n, 700), off))
    dev = open_fake(nodes)
    try:
        payload = os.urandom(5555)
        dev.write(8, payload)
        assert dev.read(8, 5555) == payload
    finally:
        dev.close()


def test_stalled_dma_raises(nodes, monkeypatch):
    dev = open_fake(nodes)
    try:
        monkeypatch.setattr(xdma_module.os, "pwrite", lambda fd, data, off: 0)
        with pytest.raises(DeviceError, match="DMA write stalled at device address 0x10"):
            dev.write(0x10, b"abcd")
        monkeypatch.setattr(xdma_module.os, "pread", lambda fd, n, off: b"")
        with pytest.raises(DeviceError, match="DMA read ended at device address 0x20"):
            dev.read(0x20, 4)
    finally:
        dev.close()


def test_short_mmio_read_raises(nodes):
    with open(nodes["user"], "r+b") as f:
        f.truncate(REG["STATUS"] + 2)  # a register that reads back 2 bytes
    dev = open_fake(nodes)
    try:
        with pytest.raises(DeviceError, match="returned 2 bytes, not 4"):
            dev.read32(REG["STATUS"])
    finally:
        dev.close()


def test_missing_node_names_it_and_says_what_to_check(tmp_path, nodes):
    missing = str(tmp_path / "xdma7_h2c_0")
    with pytest.raises(DeviceError, match=r"xdma7_h2c_0 not found; is the XDMA driver loaded.*ls /dev/xdma\*"):
        open_device("xdma:7", user=nodes["user"], h2c=missing, c2h=nodes["c2h"], dram_size=CARD)


def test_default_node_names(tmp_path):
    with pytest.raises(DeviceError, match="/dev/xdma3_user not found"):
        open_device("xdma:3")


def test_forbidden_node_is_explained(nodes, monkeypatch):
    def refuse(path, flags, *args):  # what os.open does for a non-root user on a root-only node
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(nodes_module.os, "open", refuse)
    with pytest.raises(DeviceError, match="xdma0_user: permission denied; run as root"):
        open_fake(nodes)


def test_bad_device_strings_and_options(nodes):
    with pytest.raises(DeviceError, match="must be an integer"):
        open_device("xdma:zero", **nodes)
    with pytest.raises(DeviceError, match="unexpected keyword argument 'bogus'.*options are"):
        open_device("xdma:0", bogus=1, **nodes)
    with pytest.raises(DeviceError, match="chunk must be positive"):
        open_fake(nodes, chunk=0)


def test_dram_size_is_read_from_the_device(nodes):
    with open(nodes["user"], "r+b") as f:
        f.seek(REG["ID"])
        f.write(NPU_ID.to_bytes(4, "little"))
        f.seek(REG["CFG_DRAM_ADDR_BITS"])
        f.write((34).to_bytes(4, "little"))
    dev = open_device("xdma:0", **nodes)
    try:
        assert dev.dram_size == 1 << 34
    finally:
        dev.close()


def test_dram_size_from_a_non_nux_device_is_refused(nodes):
    with pytest.raises(DeviceError, match="does not answer like a nux NPU.*pass dram_size="):
        open_device("xdma:0", **nodes)


def test_irq_wait_polls_the_irq_registers(nodes, tmp_path):
    events = tmp_path / "xdma0_events_0"
    events.write_bytes((1).to_bytes(4, "little"))
    for opts in ({}, {"events": str(events)}):
        dev = open_fake(nodes, **opts)
        try:
            assert dev.wait_irq(0.01) is False  # IRQ_STATUS & IRQ_ENABLE == 0
            dev.write32(REG["IRQ_ENABLE"], 1)
            dev.write32(REG["IRQ_STATUS"], 1)  # a plain file: the "W1C" write just stores the bit
            assert dev.wait_irq(0.01) is True
            dev.write32(REG["IRQ_ENABLE"], 0)
        finally:
            dev.close()


def test_event_file_names_the_user_interrupt(nodes):
    with pytest.raises(DeviceError, match="XDMA event file /dev/xdma0_events_3 not found"):
        open_fake(nodes, events=3)
    with pytest.raises(DeviceError, match="/dev/xdma0_events_0 not found"):
        open_fake(nodes, events=True)
