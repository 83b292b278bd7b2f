"""The whole Npu flow through the real xdma and pci backend code, with a GoldenDevice behind the "hardware".

xdma: the device nodes are ordinary files, and the module's pread/pwrite are routed by file descriptor to a
GoldenDevice (user BAR -> read32/write32 at the file offset; h2c/c2h -> its DRAM at the card address), so every
register access and DMA chunk the backend issues is checked by a working NPU.
pci: the BAR mappings are swapped for a register proxy and a memoryview of the golden DRAM, which is exactly what
the backend indexes (uint32 items for MMIO, bytes for data).
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest
from npu_programs import DEFAULT_CONFIG, copy_enf
from nux.driver import Npu, NpuExecutionError
from nux.driver import xdma as xdma_module
from nux.driver.golden_backend import GoldenDevice
from nux.driver.pci import PciDevice
from nux.isa import MMIO_SIZE, TEST_CONFIGS, ErrorCode, Instr
from tiled_gemm import random_case, tiled_gemm_enf

DRAM = 8 << 20


@pytest.fixture
def golden():
    dev = GoldenDevice(DEFAULT_CONFIG, dram_size=DRAM)
    yield dev
    dev.close()


@pytest.fixture
def xdma_over_golden(tmp_path, golden, monkeypatch):
    paths = {}
    for name in ("user", "h2c", "c2h"):
        path = tmp_path / f"xdma0_{name}"
        path.write_bytes(b"")
        paths[name] = str(path)
    dev = xdma_module.XdmaDevice(0, **paths, dram_size=DRAM, dram_base=0x10000, chunk=1024)
    user, h2c, c2h = dev._user, dev._h2c, dev._c2h
    chunks: list[int] = []

    def pread(fd, n, offset):
        if fd == user:
            assert n == 4 and offset % 4 == 0
            return golden.read32(offset).to_bytes(4, "little")
        assert fd == c2h and n <= dev.chunk
        chunks.append(n)
        return golden.read(offset - 0x10000, n)

    def pwrite(fd, data, offset):
        data = bytes(data)
        if fd == user:
            assert len(data) == 4 and offset % 4 == 0
            golden.write32(offset, int.from_bytes(data, "little"))
            return 4
        assert fd == h2c and len(data) <= dev.chunk
        chunks.append(len(data))
        golden.write(offset - 0x10000, data)
        return len(data)

    monkeypatch.setattr(xdma_module, "os", types.SimpleNamespace(pread=pread, pwrite=pwrite, O_RDWR=os.O_RDWR,
                                                                 O_WRONLY=os.O_WRONLY, O_RDONLY=os.O_RDONLY))
    dev.chunks = chunks
    yield dev
    dev.close()


class _Registers:
    """Stands in for the uint32 memoryview of BAR0: item i is the register at byte offset 4*i."""

    def __init__(self, device: GoldenDevice):
        self.device = device

    def __getitem__(self, index: int) -> int:
        return self.device.read32(4 * index)

    def __setitem__(self, index: int, value: int) -> None:
        self.device.write32(4 * index, value)

    def release(self) -> None:
        pass


@pytest.fixture
def pci_over_golden(tmp_path, golden):
    (tmp_path / "bar0").write_bytes(bytes(MMIO_SIZE))
    (tmp_path / "bar4").write_bytes(bytes(4096))
    dev = PciDevice(bar0=str(tmp_path / "bar0"), bar4=str(tmp_path / "bar4"))
    dev.close()  # drop the file mappings; the golden device takes their place
    dev._regs = _Registers(golden)
    dev._data = memoryview(golden.dram)
    dev.dram_size = golden.dram_size
    return dev


@pytest.fixture(params=["xdma", "pci"])
def hw_device(request):
    return request.getfixturevalue(f"{request.param}_over_golden")


def test_models_run_through_the_backend(hw_device):
    npu = Npu(hw_device)
    assert npu.config == DEFAULT_CONFIG
    d = npu.config.dim
    model = npu.load(copy_enf(npu.config, (300, d), name="big"))  # several 1 KiB DMA chunks on xdma
    x = np.random.default_rng(0).integers(-128, 128, size=(300, d), dtype=np.int8)
    model.set_input("x", x)
    model.run()
    np.testing.assert_array_equal(model.get_output("y"), x)
    with pytest.raises(NpuExecutionError) as info:
        npu.run_program([Instr("sync"), Instr("store", dram_offset=4096)], 4096)
    assert (info.value.code, info.value.pc) == (ErrorCode.ARENA_VIOLATION, 1)
    model.run()  # usable after the error
    if hasattr(hw_device, "chunks"):
        assert max(hw_device.chunks) == 1024 and len(hw_device.chunks) > 10  # transfers went in chunks


def test_acceptance_gemm_through_the_backend(hw_device):
    config = DEFAULT_CONFIG
    assert config in TEST_CONFIGS
    case = random_case(np.random.default_rng(11), config.sp_rows + 5, 4 * config.dim, 2 * config.dim)
    npu = Npu(hw_device)
    model = npu.load(tiled_gemm_enf(config, case))
    model.set_input("A", case.a)
    model.run()
    np.testing.assert_array_equal(model.get_output("C"), case.reference())
