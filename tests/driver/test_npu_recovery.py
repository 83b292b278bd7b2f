"""Hangs and foreign devices: NpuTimeout resets the device so the next run works; non-nux devices, other ISA
majors and nonsense configurations are refused; 64-bit counters combine LO and HI."""

from __future__ import annotations

import time

import numpy as np
import pytest
from npu_programs import DEFAULT_CONFIG, copy_enf
from nux.driver import DeviceError, Npu, NpuTimeout, TaskAborted
from nux.isa import ISA_VERSION, PERF, REG, VERSION, NpuConfig, constant_registers


def test_timeout_resets_the_device_and_the_next_run_works():
    with Npu("golden", config=DEFAULT_CONFIG, hang=True, timeout=0.2) as npu:
        d = npu.config.dim
        model = npu.load(copy_enf(npu.config, (2, d)))
        x = np.arange(2 * d, dtype=np.int8).reshape(2, d)
        model.set_input(0, x)
        hung, queued = model.submit(), model.submit()
        start = time.monotonic()
        with pytest.raises(NpuTimeout, match=r"did not finish within 0.2 s.*the NPU was reset"):
            hung.wait()
        assert 0.2 <= time.monotonic() - start < 5
        with pytest.raises(TaskAborted, match="timed out"):
            queued.wait()
        status = npu.status()
        assert not status["busy"] and not status["error"] and status["queued"] == 0
        npu.device.hang = False  # the test hook: the hardware recovers
        model.run()
        np.testing.assert_array_equal(model.get_output(0), x)


def test_a_full_queue_that_never_drains_times_out():
    with Npu("golden", config=NpuConfig(dim=4, sp_rows=256, acc_rows=128, cmdq_depth=1), hang=True) as npu:
        model = npu.load(copy_enf(npu.config, (1, 4)))
        model.submit(timeout=0.1)
        with pytest.raises(NpuTimeout, match="while waiting for a free command-queue slot"):
            model.submit(timeout=0.1)
        assert npu.queue.pending == []


class RegisterFile:
    """A Device that is only a register file: for identity checks the golden model cannot fake."""

    dram_size = 1 << 20

    def __init__(self) -> None:
        self.regs = {r.offset: value for r, value in constant_registers(DEFAULT_CONFIG).items()}

    def read32(self, addr: int) -> int:
        return self.regs.get(addr, 0)

    def write32(self, addr: int, value: int) -> None:
        pass

    def write(self, dev_addr: int, data: bytes) -> None:
        raise AssertionError("no DMA expected")

    def read(self, dev_addr: int, n: int) -> bytes:
        raise AssertionError("no DMA expected")

    def wait_irq(self, timeout: float) -> bool:
        return False

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "regs, message",
    [
        ({REG["ID"]: 0x12345678}, r"is not a nux NPU: ID register reads 0x12345678, expected 0x4e555831"),
        ({REG["VERSION"]: VERSION.encode(MAJOR=ISA_VERSION[0] + 1)}, r"implements ISA v2\.0.*major versions differ"),
        ({REG["CFG_DIM"]: 6}, r"reports an invalid configuration.*dim must be"),
    ],
)
def test_foreign_devices_are_refused(regs, message):
    with pytest.raises(DeviceError, match=message):
        Npu(_with(regs))


def _with(regs: dict[int, int]) -> RegisterFile:
    dev = RegisterFile()
    dev.regs.update(regs)
    return dev


def test_newer_minor_version_is_accepted():
    npu = Npu(_with({REG["VERSION"]: VERSION.encode(MAJOR=ISA_VERSION[0], MINOR=ISA_VERSION[1] + 3)}))
    assert npu.version == (ISA_VERSION[0], ISA_VERSION[1] + 3)


def test_perf_counters_combine_lo_and_hi():
    regs = {PERF["MACS"]: 0x89ABCDEF, PERF["MACS"] + 4: 0x01234567, PERF["INSTRET"]: 5}
    perf = Npu(_with(regs)).perf()
    assert perf["MACS"] == 0x0123456789ABCDEF
    assert perf["INSTRET"] == 5 and perf["CYCLES"] == 0
    assert list(perf) == list(PERF)
