"""GoldenDevice at register level: only MMIO, DMA and wait_irq, as a driver sees it."""

from __future__ import annotations

import time

import numpy as np
import pytest
from nux.device import Device, DeviceError
from nux.driver.golden_backend import GoldenDevice
from nux.isa import (
    ISA_VERSION,
    NPU_ID,
    PERF,
    REG,
    STATUS,
    VERSION,
    Ctrl,
    ErrorCode,
    Instr,
    Irq,
    NpuConfig,
    Status,
    assemble,
)

QUEUED, ERROR_CODE = STATUS.field("QUEUED"), STATUS.field("ERROR_CODE")

CONFIG = NpuConfig(dim=4, sp_rows=64, acc_rows=32, cmdq_depth=3)
ARENA = 0x10000
ARENA_SIZE = 0x8000
TIMEOUT = 10.0


@pytest.fixture
def dev():
    with GoldenDevice(CONFIG, dram_size=1 << 20) as device:
        yield device


@pytest.fixture
def hung():
    with GoldenDevice(CONFIG, dram_size=1 << 20, hang=True) as device:
        yield device


def submit(dev: GoldenDevice, program: list[Instr], tag: int, slot: int = 0) -> None:
    """DMA the program into the arena and ring the doorbell (MMIO only)."""
    base = ARENA + slot * 0x400
    dev.write(base, assemble(program))
    for name, value in (("TASK_PROG_BASE_LO", base), ("TASK_PROG_BASE_HI", 0), ("TASK_PROG_LEN", len(program)),
                        ("TASK_ARENA_BASE_LO", ARENA), ("TASK_ARENA_BASE_HI", 0), ("TASK_ARENA_SIZE", ARENA_SIZE),
                        ("TASK_TAG", tag)):
        dev.write32(REG[name], value)
    dev.write32(REG["DOORBELL"], 1)


def wait_for(predicate, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.001)


def copy_program(src: int, dst: int) -> list[Instr]:
    """LOAD one SP row from arena offset src, STORE it to dst."""
    return [Instr("load", dram_offset=src, push_next=1), Instr("nop", queue=1, pop_prev=1, push_next=1),
            Instr("store", dram_offset=dst, pop_prev=1), Instr("end")]


def test_identity_and_config_registers(dev):
    assert isinstance(dev, Device)
    assert dev.read32(REG["ID"]) == NPU_ID
    assert VERSION.decode(dev.read32(REG["VERSION"])) == {"MAJOR": ISA_VERSION[0], "MINOR": ISA_VERSION[1]}
    values = [dev.read32(REG[n]) for n in ("CFG_DIM", "CFG_SP_ROWS", "CFG_ACC_ROWS", "CFG_AXI_DATA_BITS",
                                           "CFG_DRAM_ADDR_BITS", "CFG_CMDQ_DEPTH")]
    assert values == [4, 64, 32, 64, 32, 3]
    assert dev.read32(REG["STATUS"]) == 0 and dev.read32(REG["CMDQ_FREE"]) == 3
    dev.write32(REG["ID"], 5)  # read-only: ignored
    dev.write32(0xFFC, 5)  # undefined: ignored, reads 0
    assert dev.read32(REG["ID"]) == NPU_ID and dev.read32(0xFFC) == 0
    dev.write32(REG["TASK_TAG"], 0xDEADBEEF)
    assert dev.read32(REG["TASK_TAG"]) == 0xDEADBEEF
    with pytest.raises(DeviceError, match="aligned"):
        dev.read32(0x2)
    with pytest.raises(DeviceError, match="32-bit"):
        dev.write32(REG["TASK_TAG"], 1 << 32)
    with pytest.raises(DeviceError, match="outside device memory"):
        dev.write(dev.dram_size - 2, b"1234")


def test_task_through_mmio_and_dma(dev):
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.int8)
    w = (2 * np.eye(4, dtype=np.int8))[:, ::-1].copy()  # reverses and doubles the lanes
    dev.write(ARENA + 0x1000, a.tobytes() + w.tobytes())
    program = [
        Instr("load", dram_offset=0x1000, x_size=6, x_stride=4, push_next=1),
        Instr("gemm", preload=1, a_signed=1, w_signed=1, w_row=2, x_size=2, a_xstride=1, pop_prev=1, push_next=1),
        Instr("store", src=1, dram_offset=0x2000, x_size=2, x_stride=16, pop_prev=1),
        Instr("end"),
    ]
    dev.write32(REG["IRQ_ENABLE"], Irq.DONE)
    submit(dev, program, tag=77)
    assert dev.wait_irq(TIMEOUT)
    result = np.frombuffer(dev.read(ARENA + 0x2000, 32), dtype="<i4").reshape(2, 4)
    assert result.tolist() == [[8, 6, 4, 2], [16, 14, 12, 10]]
    assert (dev.read32(REG["COMPLETED"]), dev.read32(REG["LAST_TAG"])) == (1, 77)
    assert dev.read32(REG["STATUS"]) == 0
    assert dev.read32(PERF["MACS"]) == 2 * 16 and dev.read32(PERF["INSTRET"]) == 4
    assert (dev.read32(PERF["DMA_RD_BYTES"]), dev.read32(PERF["DMA_WR_BYTES"])) == (24, 32)
    assert dev.read32(PERF["CYCLES"]) == 0


def test_async_queue_runs_tasks_in_order(dev):
    dev.write(ARENA + 0x3000, bytes(range(16)))
    for k in range(3):  # each task copies row k to the same place: the last one wins
        submit(dev, copy_program(0x3000 + 4 * k, 0x3100), tag=100 + k, slot=k)
    wait_for(lambda: dev.read32(REG["COMPLETED"]) == 3)
    assert dev.read(ARENA + 0x3100, 4) == bytes([8, 9, 10, 11])
    assert dev.read32(REG["LAST_TAG"]) == 102
    assert dev.read32(REG["IRQ_STATUS"]) == Irq.DONE


def test_irq_enable_and_w1c(dev):
    submit(dev, [Instr("end")], tag=1)
    wait_for(lambda: dev.read32(REG["COMPLETED"]) == 1)
    assert dev.read32(REG["IRQ_STATUS"]) == Irq.DONE
    assert not dev.wait_irq(0.01)  # pending but not enabled: the line is low
    dev.write32(REG["IRQ_ENABLE"], Irq.DONE | Irq.ERROR)
    assert dev.wait_irq(0.01)
    dev.write32(REG["IRQ_STATUS"], Irq.ERROR)  # writing 1 to another bit leaves DONE alone
    assert dev.read32(REG["IRQ_STATUS"]) == Irq.DONE
    dev.write32(REG["IRQ_STATUS"], Irq.DONE)
    assert dev.read32(REG["IRQ_STATUS"]) == 0 and not dev.wait_irq(0.01)


def test_queue_accounting_and_overflow(hung):
    submit(hung, [Instr("end")], tag=1)
    wait_for(lambda: hung.read32(REG["CMDQ_FREE"]) == 3)  # the worker took it: running, not queued
    for k in range(3):
        submit(hung, [Instr("end")], tag=2 + k)
    status = hung.read32(REG["STATUS"])
    assert status & Status.BUSY and QUEUED.get(status) == 4 and not status & Status.CMDQ_OVERFLOW
    assert hung.read32(REG["CMDQ_FREE"]) == 0
    submit(hung, [Instr("end")], tag=9)  # queue full: dropped
    status = hung.read32(REG["STATUS"])
    assert status & Status.CMDQ_OVERFLOW and QUEUED.get(status) == 4


def test_hang_hook_then_reset(hung):
    hung.write32(REG["IRQ_ENABLE"], Irq.DONE | Irq.ERROR)
    submit(hung, [Instr("end")], tag=5)
    submit(hung, [Instr("end")], tag=6)
    assert not hung.wait_irq(0.05)
    assert hung.read32(REG["STATUS"]) & Status.BUSY
    hung.write32(REG["CTRL"], Ctrl.RESET)
    assert hung.read32(REG["STATUS"]) == 0  # idle one access later, queue dropped
    assert (hung.read32(REG["COMPLETED"]), hung.read32(REG["CMDQ_FREE"])) == (0, 3)
    assert hung.read32(REG["IRQ_ENABLE"]) == Irq.DONE | Irq.ERROR  # configuration survives CTRL.RESET
    hung.hang = False  # the hook can be switched off: the device works again
    submit(hung, [Instr("end")], tag=7)
    assert hung.wait_irq(TIMEOUT) and hung.read32(REG["LAST_TAG"]) == 7


def test_error_stops_queue_until_reset(dev):
    dev.write32(REG["IRQ_ENABLE"], Irq.ERROR)
    bad = [Instr("nop"), Instr("load", dram_offset=ARENA_SIZE), Instr("end")]
    submit(dev, bad, tag=41)
    submit(dev, copy_program(0x3000, 0x3100), tag=42, slot=1)
    assert dev.wait_irq(TIMEOUT)
    status = dev.read32(REG["STATUS"])
    assert status & Status.ERROR and ERROR_CODE.get(status) == ErrorCode.ARENA_VIOLATION
    assert QUEUED.get(status) == 1  # the second task waits
    assert (dev.read32(REG["FAULT_PC"]), dev.read32(REG["FAULT_TAG"])) == (1, 41)
    assert dev.read32(REG["IRQ_STATUS"]) == Irq.ERROR and dev.read32(REG["COMPLETED"]) == 0
    dev.write32(REG["CTRL"], Ctrl.RESET)
    assert [dev.read32(REG[n]) for n in ("STATUS", "FAULT_PC", "FAULT_TAG", "IRQ_STATUS", "LAST_TAG")] == [0] * 5
    submit(dev, copy_program(0x3000, 0x3100), tag=43, slot=1)
    wait_for(lambda: dev.read32(REG["COMPLETED"]) == 1)
    assert dev.read32(REG["LAST_TAG"]) == 43


def test_bad_task_descriptor_reports_pc0(dev):
    submit(dev, [Instr("end")], tag=3)
    dev.write32(REG["TASK_PROG_BASE_LO"], ARENA + 4)
    dev.write32(REG["DOORBELL"], 0)
    wait_for(lambda: dev.read32(REG["STATUS"]) & Status.ERROR)
    assert ERROR_CODE.get(dev.read32(REG["STATUS"])) == ErrorCode.BAD_TASK
    assert dev.read32(REG["FAULT_PC"]) == 0 and dev.read32(REG["COMPLETED"]) == 1


def test_perf_counters_latch_high_word_and_clear(dev):
    dev.machine.counters["MACS"] = 5 << 32 | 7  # white box: counters this large take minutes to reach
    assert dev.read32(PERF["MACS"]) == 7
    dev.machine.counters["MACS"] = 9 << 32 | 1
    assert dev.read32(PERF["MACS"] + 4) == 5  # the high word latched by the LO read
    assert dev.read32(PERF["MACS"]) == 1 and dev.read32(PERF["MACS"] + 4) == 9
    dev.write32(REG["CTRL"], Ctrl.RESET)
    assert dev.read32(PERF["MACS"]) == 1  # reset keeps the counters
    dev.write32(REG["CTRL"], Ctrl.PERF_CLEAR)
    assert dev.read32(PERF["MACS"]) == 0 and dev.read32(PERF["MACS"] + 4) == 0


def test_reset_cancels_a_running_task():
    config = NpuConfig(dim=4, sp_rows=16384, acc_rows=16384)
    with GoldenDevice(config, dram_size=1 << 20) as dev:
        gemms = [Instr("gemm", preload=1, x_size=16384, a_xstride=0)] * 1000  # ~1 s of work
        submit(dev, [*gemms, Instr("end")], tag=1)
        wait_for(lambda: dev.read32(PERF["INSTRET"]) > 0)
        start = time.monotonic()
        dev.write32(REG["CTRL"], Ctrl.RESET)
        assert time.monotonic() - start < 1.0
        assert dev.read32(REG["STATUS"]) == 0 and dev.read32(REG["COMPLETED"]) == 0
        stopped_at = dev.read32(PERF["INSTRET"])
        assert stopped_at < len(gemms)
        time.sleep(0.05)
        assert dev.read32(PERF["INSTRET"]) == stopped_at  # nothing runs after the reset


def test_a_golden_model_bug_reports_internal(dev, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("simulated golden-model bug")

    monkeypatch.setattr(dev.machine, "run_task", broken)
    submit(dev, [Instr("end")], tag=8)
    wait_for(lambda: dev.read32(REG["STATUS"]) & Status.ERROR)
    assert ERROR_CODE.get(dev.read32(REG["STATUS"])) == ErrorCode.INTERNAL
    assert isinstance(dev.internal_error, ValueError)
