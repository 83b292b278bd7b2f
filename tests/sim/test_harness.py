"""The C++ harness through its Python binding, on the stub top: MMIO, DRAM model, stepping, run-until, traces.

The stub's doorbell copies TASK_PROG_LEN bus beats from TASK_PROG_BASE to TASK_ARENA_BASE in one AXI4 burst
each way, which exercises the DRAM model's read and write channels, latency, bandwidth and DECERR.
"""

from __future__ import annotations

import numpy as np
import pytest
from nux.device import DeviceError
from nux.isa import NPU_ID, REG, STATUS, ErrorCode, Irq, NpuConfig, Status
from nux.sim.library import SimError, Stop, Until
from simrig import STUB_CONFIG, stub_device_kwargs


def start_copy(dev, src: int, dst: int, beats: int, tag: int = 1) -> None:
    dev.write32(REG["IRQ_ENABLE"], int(Irq.DONE | Irq.ERROR))
    dev.write32(REG["TASK_PROG_BASE_LO"], src)
    dev.write32(REG["TASK_PROG_LEN"], beats)
    dev.write32(REG["TASK_ARENA_BASE_LO"], dst)
    dev.write32(REG["TASK_TAG"], tag)
    dev.write32(REG["DOORBELL"], 1)


def copy_cycles(dev, beats: int = 64) -> int:
    """Cycles from doorbell to IRQ for a copy of `beats` bus beats, with the result checked byte for byte."""
    nbytes = beats * dev.config.axi_data_bits // 8
    data = np.random.default_rng(beats).integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    dev.write(0x1000, data)
    start_copy(dev, 0x1000, 0x4000, beats)
    before = dev.cycles
    assert dev.sim.run(1_000_000, Until.IRQ) == Stop.IRQ
    assert dev.read(0x4000, nbytes) == data
    return dev.cycles - before


def test_registers_report_the_config(make_stub) -> None:
    dev = make_stub()
    assert dev.read32(REG["ID"]) == NPU_ID
    assert dev.read32(REG["CFG_DIM"]) == STUB_CONFIG.dim
    assert dev.read32(REG["CFG_CMDQ_DEPTH"]) == STUB_CONFIG.cmdq_depth
    dev.write32(REG["TASK_TAG"], 0xDEADBEEF)
    assert dev.read32(REG["TASK_TAG"]) == 0xDEADBEEF
    assert dev.read32(0xFFC) == 0  # undefined offsets read 0


def test_mmio_and_dma_bounds_are_refused(make_stub) -> None:
    dev = make_stub()
    with pytest.raises(DeviceError, match="4-byte aligned"):
        dev.read32(0x2)
    with pytest.raises(DeviceError, match="outside device memory"):
        dev.write(dev.dram_size - 2, b"abcd")
    with pytest.raises(SimError, match="4-byte aligned"):  # the C++ side checks too
        dev.sim.mmio_write(0x1000, 0)
    with pytest.raises(SimError, match="outside DRAM"):
        dev.sim.dram_read(dev.dram_size, 1)


def test_backdoor_dram_round_trip(make_stub) -> None:
    dev = make_stub()
    data = bytes(range(256)) * 16
    dev.write(123, data)
    assert dev.read(123, len(data)) == data
    assert dev.read(0, 123) == bytes(123)  # untouched DRAM is zero
    assert dev.read(dev.dram_size - 1, 1) == b"\0"


@pytest.mark.parametrize("beats", [1, 7, 256])
def test_copy_burst_through_the_dram_model(make_stub, beats: int) -> None:
    dev = make_stub()
    copy_cycles(dev, beats)
    assert dev.read32(REG["COMPLETED"]) == 1
    assert dev.read32(REG["IRQ_STATUS"]) == Irq.DONE
    assert dev.sim.protocol_errors == (0, "")


def test_wide_bus_config() -> None:
    """A 128-bit AXI bus is a VlWide port in Verilator: the width-generic helpers must move every byte."""
    from nux.sim.device import SimDevice

    config = NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=128)
    with SimDevice(**stub_device_kwargs(config), dram_size=1 << 20) as dev:
        copy_cycles(dev, 33)


def test_latency_and_bandwidth_slow_the_copy_down(make_stub) -> None:
    fast = copy_cycles(make_stub(latency=0, bandwidth=1.0))
    slow_latency = copy_cycles(make_stub(latency=100, bandwidth=1.0))
    half_bandwidth = copy_cycles(make_stub(latency=0, bandwidth=0.5))
    assert slow_latency >= fast + 2 * 100  # one read and one write response wait the latency
    assert half_bandwidth >= fast + 64  # 64 beats each way at half rate: at least 64 extra cycles per channel


def test_out_of_range_burst_answers_decerr(make_stub) -> None:
    dev = make_stub()
    start_copy(dev, dev.dram_size - 8, 0x4000, 4, tag=9)  # the burst runs off the end of DRAM
    assert dev.sim.run(100_000, Until.IRQ) == Stop.IRQ
    status = dev.read32(REG["STATUS"])
    assert status & Status.ERROR
    assert STATUS.field("ERROR_CODE").get(status) == ErrorCode.BUS_ERROR
    assert dev.read32(REG["FAULT_TAG"]) == 9
    assert dev.read(0x4000, 32) == bytes(32)  # nothing was written


def test_step_is_exact_and_run_stops_on_limit(make_stub) -> None:
    dev = make_stub()
    before = dev.cycles
    dev.sim.step(12345)
    assert dev.cycles == before + 12345
    assert dev.sim.run(500, Until.IRQ) == Stop.LIMIT  # nothing running: irq stays low
    assert dev.cycles == before + 12345 + 500


def test_run_until_idle(make_stub) -> None:
    dev = make_stub()
    assert dev.sim.run(10, Until.IDLE) == Stop.IDLE  # already idle: returns after one STATUS read
    start_copy(dev, 0x1000, 0x4000, 64)
    assert dev.read32(REG["STATUS"]) & Status.BUSY
    dev.sim.set_poll_interval(16)
    assert dev.sim.run(1_000_000, Until.IDLE) == Stop.IDLE
    assert dev.read32(REG["COMPLETED"]) == 1


def test_hung_task_times_out_and_ctrl_reset_recovers(make_stub) -> None:
    dev = make_stub()
    start_copy(dev, 0x1000, 0x4000, 0)  # the stub never finishes a task of length 0
    assert dev.wait_irq(0.2) is False
    assert dev.cycles > 10_000  # simulated time did pass while waiting
    dev.write32(REG["CTRL"], 1)
    assert not dev.read32(REG["STATUS"]) & Status.BUSY
    copy_cycles(dev, 8)
    assert dev.read32(REG["COMPLETED"]) == 1


def test_rst_pin_resets_the_design_but_keeps_dram(make_stub) -> None:
    dev = make_stub()
    copy_cycles(dev, 4)
    dev.sim.reset(3)
    assert dev.read32(REG["COMPLETED"]) == 0
    assert dev.read32(REG["IRQ_ENABLE"]) == 0
    assert dev.read(0x4000, 8) == dev.read(0x1000, 8) != bytes(8)


def test_fst_trace_is_written(make_stub, tmp_path) -> None:
    path = tmp_path / "run.fst"
    dev = make_stub(trace=path)
    copy_cycles(dev, 16)
    cycles = dev.cycles
    dev.close()
    data = path.read_bytes()
    # FST header block: type 0, big-endian length 329, then start and end time (two time steps per cycle)
    assert data[0] == 0 and int.from_bytes(data[1:9], "big") == 329
    assert int.from_bytes(data[17:25], "big") == 2 * cycles + 1
    assert len(data) > 329


def test_trace_env_var_names_files_per_device(make_stub, tmp_path, monkeypatch) -> None:
    import nux.sim.device as device_module

    monkeypatch.setenv("NUX_SIM_TRACE", str(tmp_path / "wave.fst"))
    monkeypatch.setattr(device_module, "_trace_counter", iter(range(10)))
    first, second = make_stub(), make_stub()
    assert (first.trace_path.name, second.trace_path.name) == ("wave.fst", "wave-1.fst")
    first.close()
    second.close()
    assert (tmp_path / "wave.fst").stat().st_size > 0 and (tmp_path / "wave-1.fst").stat().st_size > 0


def test_unwritable_trace_is_a_clear_error(make_stub, tmp_path) -> None:
    with pytest.raises(SimError, match="cannot open trace file"):
        make_stub(trace=tmp_path / "missing-dir" / "x.fst")


def test_wrong_design_is_refused(make_stub) -> None:
    """A library whose design reports another config than the one it was built for is a broken build."""
    dev = make_stub()
    dev.config = NpuConfig(dim=8, sp_rows=256, acc_rows=128)  # what the build was (wrongly) asked for
    with pytest.raises(SimError, match="reports .*'dim': 4"):
        dev._check_identity()


def test_closed_simulator_refuses_calls(make_stub) -> None:
    dev = make_stub()
    dev.close()
    dev.close()  # idempotent
    with pytest.raises(SimError, match="closed"):
        dev.read32(REG["ID"])
