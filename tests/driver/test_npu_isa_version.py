"""ISA minor versions on the driver (issue 10): a device reports its minor, GoldenDevice(isa_minor=0) is a 1.0
NPU, and Npu.load / run_program refuse code that needs a newer minor, before anything runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from npu_programs import DEFAULT_CONFIG, copy_enf
from nux.driver import DeviceError, IsaVersionError, Npu, NpuExecutionError, TaskDescriptor
from nux.driver.golden_backend import GoldenDevice
from nux.enf import DType, Program, read_enf, write_enf
from nux.errors import NuxError
from nux.golden.programs import copy_program
from nux.isa import REG, VERSION, ErrorCode, Instr, assemble

SENTENCE = r"^program needs ISA 1\.1; the device implements ISA 1\.0 \(rebuild the NPU or compile with isa_minor=0\)$"


def _reduce_enf():
    """copy_enf with a REDUCE before its END (an ISA 1.1 program that still copies)."""
    enf = copy_enf(DEFAULT_CONFIG, (8,), DType.INT8)
    code = enf.programs[0].code[:-32] + assemble([Instr("reduce", out_row=100), Instr("end")])
    return dataclasses.replace(enf, programs=[Program(code, 0, "copy+reduce")])


@pytest.mark.parametrize("minor", [0, 1])
def test_golden_device_reports_its_minor(minor):
    with GoldenDevice(DEFAULT_CONFIG, dram_size=1 << 20, isa_minor=minor) as dev:
        assert VERSION.decode(dev.read32(REG["VERSION"])) == {"MAJOR": 1, "MINOR": minor}
        with Npu(dev) as npu:
            assert npu.version == (1, minor)


def test_isa_minor_is_checked():
    with pytest.raises(DeviceError, match="isa_minor"):
        GoldenDevice(DEFAULT_CONFIG, isa_minor=2)


def test_load_refuses_a_11_executable_on_a_10_device():
    enf = _reduce_enf()
    with Npu(GoldenDevice(DEFAULT_CONFIG, dram_size=1 << 20, isa_minor=0)) as npu:
        with pytest.raises(IsaVersionError, match=SENTENCE) as info:
            npu.load(write_enf(enf))
        assert isinstance(info.value, NuxError) and (info.value.needed, info.value.device) == ((1, 1), (1, 0))
        assert npu.models == [] and npu.status()["completed"] == 0
        npu.load(copy_enf(DEFAULT_CONFIG, (8,), DType.INT8))  # a 1.0 executable loads


def test_a_11_device_runs_the_same_executable():
    x = np.arange(-4, 4, dtype=np.int8)
    with Npu(GoldenDevice(DEFAULT_CONFIG, dram_size=1 << 20)) as npu:
        model = npu.load(read_enf(write_enf(_reduce_enf())))
        model.set_input("x", x)
        model.run()
        assert np.array_equal(model.get_output("y"), x)


def test_run_program_refuses_11_code_on_a_10_device():
    code = assemble(copy_program(DEFAULT_CONFIG, 1024, 2048, 1, extra=[Instr("store", lane_stride=2)]))
    with Npu(GoldenDevice(DEFAULT_CONFIG, dram_size=1 << 20, isa_minor=0)) as npu:
        with pytest.raises(IsaVersionError, match=SENTENCE):
            npu.run_program(code, 4096)
        assert npu.status()["completed"] == 0


def test_a_10_device_faults_on_11_code_that_gets_past_the_driver():
    """What the hardware does if a 1.1 instruction reaches it anyway: ILLEGAL_OPCODE (via the raw task path)."""
    code = assemble([Instr("nop"), Instr("lutw"), Instr("end")])
    with Npu(GoldenDevice(DEFAULT_CONFIG, dram_size=1 << 20, isa_minor=0)) as npu:
        base = npu.alloc(4096)
        npu.device.write(base, code)
        with pytest.raises(NpuExecutionError, match="ILLEGAL_OPCODE at instruction 1") as info:
            npu.wait(npu.submit_task(TaskDescriptor(base, 3, base, 4096, "raw", code)))
        assert info.value.code == ErrorCode.ILLEGAL_OPCODE
