"""The pci backend against ordinary files and memfds standing in for sysfs resource0 / resource4(_wc)."""

from __future__ import annotations

import os

import pytest
from nux.driver import Device, DeviceError, open_device
from nux.driver.pci import normalize_bdf
from nux.isa import MMIO_SIZE, REG

BDF = "0000:00:1d.0"
BAR4 = 1 << 20


def make_sysfs(root, bar0_size=MMIO_SIZE, bar4_size=BAR4, wc=False):
    folder = root / BDF
    folder.mkdir(parents=True)
    (folder / "resource0").write_bytes(bytes(bar0_size))
    (folder / "resource4").write_bytes(bytes(bar4_size))
    if wc:
        (folder / "resource4_wc").write_bytes(bytes(bar4_size))
    return folder


def test_registers_and_data_land_at_their_offsets(tmp_path):
    folder = make_sysfs(tmp_path)
    dev = open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    try:
        assert isinstance(dev, Device)
        assert dev.dram_size == BAR4  # default: the whole BAR4 window
        dev.write32(REG["TASK_ARENA_SIZE"], 0x12345678)
        dev.write32(REG["DOORBELL"], 0x1_0000_0001)
        payload = os.urandom(777)
        dev.write(0x3000, payload)
        assert dev.read32(REG["TASK_ARENA_SIZE"]) == 0x12345678
        assert dev.read(0x3000, 777) == payload
    finally:
        dev.close()
    bar0 = bytearray(MMIO_SIZE)
    bar0[REG["TASK_ARENA_SIZE"] : REG["TASK_ARENA_SIZE"] + 4] = (0x12345678).to_bytes(4, "little")
    bar0[REG["DOORBELL"] : REG["DOORBELL"] + 4] = (1).to_bytes(4, "little")
    assert (folder / "resource0").read_bytes() == bar0
    bar4 = (folder / "resource4").read_bytes()
    assert bar4[0x3000 : 0x3000 + 777] == payload and bar4.count(0) == BAR4 - 777 + payload.count(0)


def test_write_combining_bar_is_preferred(tmp_path):
    folder = make_sysfs(tmp_path, wc=True)
    dev = open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    try:
        dev.write(0, b"wc!")
    finally:
        dev.close()
    assert (folder / "resource4_wc").read_bytes()[:3] == b"wc!"
    assert (folder / "resource4").read_bytes()[:3] == bytes(3)


def memfd(size: int) -> tuple[int, str]:
    fd = os.memfd_create("nux-bar")
    os.ftruncate(fd, size)
    return fd, f"/proc/self/fd/{fd}"


def test_memfd_bars_with_offsets(tmp_path):
    fd0, bar0 = memfd(2 * 4096)
    fd4, bar4 = memfd(BAR4)
    try:
        dev = open_device("pci", bar0=bar0, bar4=bar4, mmio_offset=4096, dram_base=0x8000, dram_size=0x1000)
        try:
            dev.write32(REG["TASK_TAG"], 7)
            dev.write(0xFF0, bytes(range(16)))
            with pytest.raises(DeviceError, match="outside device memory"):
                dev.write(0xFF1, bytes(16))
        finally:
            dev.close()
        assert os.pread(fd0, 4, 4096 + REG["TASK_TAG"]) == (7).to_bytes(4, "little")
        assert os.pread(fd0, 4, REG["TASK_TAG"]) == bytes(4)
        assert os.pread(fd4, 16, 0x8FF0) == bytes(range(16))
    finally:
        os.close(fd0)
        os.close(fd4)


def test_register_access_is_one_aligned_32_bit_word(tmp_path):
    make_sysfs(tmp_path)
    dev = open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    try:
        assert dev._regs.format == "I" and dev._regs.itemsize == 4  # loads/stores of whole uint32 items
        with pytest.raises(DeviceError, match="4-byte aligned"):
            dev.read32(REG["STATUS"] + 1)
    finally:
        dev.close()


def test_missing_bars_and_bad_addresses(tmp_path):
    with pytest.raises(DeviceError, match=r"resource0 not found; is the FPGA image loaded"):
        open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    with pytest.raises(DeviceError, match="is not a PCI address"):
        open_device("pci:nonsense", sysfs_root=str(tmp_path))
    with pytest.raises(DeviceError, match="name the device as pci:<BDF>"):
        open_device("pci")


def test_too_small_bars_are_refused(tmp_path):
    make_sysfs(tmp_path, bar0_size=1024)
    with pytest.raises(DeviceError, match="too small to map"):
        open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    fd0, bar0 = memfd(4096)
    fd4, bar4 = memfd(4096)
    try:
        with pytest.raises(DeviceError, match="does not fit BAR4"):
            open_device("pci", bar0=bar0, bar4=bar4, dram_size=8192)
    finally:
        os.close(fd0)
        os.close(fd4)


def test_bdf_normalisation():
    assert normalize_bdf("00:1D.0") == "0000:00:1d.0"
    assert normalize_bdf("0001:02:03.4") == "0001:02:03.4"


def test_wait_irq_polls(tmp_path):
    make_sysfs(tmp_path)
    dev = open_device(f"pci:{BDF}", sysfs_root=str(tmp_path))
    try:
        assert dev.wait_irq(0.005) is False
        dev.write32(REG["IRQ_ENABLE"], 2)
        dev.write32(REG["IRQ_STATUS"], 2)
        assert dev.wait_irq(0.005) is True
    finally:
        dev.close()
