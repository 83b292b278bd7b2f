"""Every ISA 1.1 dispatch check of the golden machine (dim 4, 64 SP rows, 32 ACC rows, 8 LUT rows), and a machine
of isa_minor=0 behaving exactly like a 1.0 NPU."""

from __future__ import annotations

import numpy as np
import pytest
from golden_rig import Rig
from nux.golden.errors import MachineError, NpuFault
from nux.golden.machine import Machine
from nux.isa import ErrorCode, Instr, Mem, NpuConfig, assemble

END = Instr("end")
MARK = Instr("store", dram_offset=0x900)  # shows whether anything after the fault ran


def expect_fault(rig: Rig, bad: Instr, code: ErrorCode, **run_args) -> NpuFault:
    rig.machine.sp[0] = 7
    with pytest.raises(NpuFault) as info:
        rig.run([Instr("nop"), bad, MARK, END], **run_args)
    assert (info.value.code, info.value.pc) == (code, 1), str(info.value)
    assert rig.get(0x900, 4).tolist() == [0, 0, 0, 0]
    return info.value


@pytest.mark.parametrize("bad", [
    Instr("gather", dst=Mem.LUT),
    Instr("gather", dst=Mem.LUTW),
    Instr("gather", row_elems=5),
    Instr("gather", z_size=0),
    Instr("gather", dst=Mem.ACC, lane_stride=4, dram_offset=2),  # lane-strided ACC: all multiples of 4
    Instr("gather", dst=Mem.ACC, lane_stride=6),
    Instr("gather", dst=Mem.ACC, lane_stride=8, y_stride=2),
    Instr("store", src=Mem.ACC, lane_stride=4, x_stride=1),
    Instr("store", src=Mem.ACC, lane_stride=4, z_stride=6),
    Instr("store", src=Mem.LUTW),
    Instr("gemm", wzp_en=1),  # needs preload
    Instr("gemm", wzp_en=1, preload=1, w_zp=1),
    Instr("gemm", wzp_row=1, preload=1),  # wzp_row without wzp_en
    Instr("gemm", bias_en=1, accumulate=1, preload=1),
    Instr("gemm", bias_row=1, preload=1),
    Instr("requant", rowp_base=1),
    Instr("requant", group_rows=1),
    Instr("requant", row_scale=1),  # group_rows 0
    Instr("reduce", rop=3),
    Instr("reduce", post=3, rop="sum"),
    Instr("reduce", last_lanes=5),
    Instr("reduce", group_rows=0),
    Instr("reduce", n_groups=0),
    Instr("reduce", src="acc", a_signed=1),
    Instr("reduce", src="acc", a_zp=1),
    Instr("reduce", src="acc", rop="sumsq"),
    Instr("reduce", rop="sum", post="recip", dst_sp=1),
    Instr("reduce", rop="sum", post_shift=1),
    Instr("lutw", x_size=0),
    Instr("lutw", y_size=0),
    Instr("lutw", b_signed=1),
    Instr("lutw", b_base=1),
    Instr("lutw", b_xstride=1),
    Instr("lutw", b_ystride=1),
])
def test_bad_field(rig, bad):
    expect_fault(rig, bad, ErrorCode.BAD_FIELD)


@pytest.mark.parametrize("good", [
    Instr("gather", dst=Mem.ACC, lane_stride=4, dram_offset=8, x_stride=12),
    Instr("gather", dram_offset=1, lane_stride=3, x_stride=1),  # SP: bytes, no alignment rule
    Instr("gather", dst=Mem.ACC, dram_offset=2),  # lane_stride 0: a plain contiguous row
    Instr("store", src=Mem.ACC, dram_offset=0x100, lane_stride=4),
    Instr("gemm", wzp_en=1, preload=1, wzp_row=63, bias_en=1, bias_row=31),
    Instr("requant", row_scale=1, group_rows=3, rowp_base=31, n_rows=3),
    Instr("reduce", rop="sumsq", post="rsqrt", post_shift=-128, last_lanes=4),
    Instr("lutw", diff=1, b_signed=1, b_base=63),
])
def test_boundary_cases_pass(rig, good):
    rig.run([good, END])


@pytest.mark.parametrize("bad", [
    Instr("load", dst=Mem.LUTW, dst_row=63, x_size=2),  # 256 entries / dim 4 = 64 rows
    Instr("gather", dst_row=63, x_size=2),
    Instr("gather", dst=Mem.ACC, dst_row=31, z_size=2),
    Instr("gemm", preload=1, wzp_en=1, wzp_row=64),
    Instr("gemm", preload=1, bias_en=1, bias_row=32),
    Instr("requant", row_scale=1, group_rows=2, n_rows=3, rowp_base=31),  # groups 0, 1: rows 31, 32
    Instr("reduce", a_base=63, group_rows=2, a_rstride=1),
    Instr("reduce", n_groups=3, a_gstride=32),
    Instr("reduce", src="acc", a_base=30, n_groups=2, a_gstride=2),
    Instr("reduce", out_row=31, n_groups=2),
    Instr("reduce", dst_sp=1, out_row=63, n_groups=2),
    Instr("lutw", a_base=60, a_ystride=4, y_size=2),
    Instr("lutw", diff=1, b_base=60, b_xstride=2, x_size=3),
    Instr("lutw", out_base=30, x_size=3),
])
def test_spad_oob(rig, bad):
    expect_fault(rig, bad, ErrorCode.SPAD_OOB)


@pytest.mark.parametrize("access, end", [
    # last byte = dram_offset + (x-1)*x_stride + (row_elems'-1)*lane_stride' + esize
    (Instr("gather", dram_offset=0x100, lane_stride=0x100, x_size=2, x_stride=1), 0x100 + 1 + 3 * 0x100 + 1),
    (Instr("gather", dst=Mem.ACC, dram_offset=0x100, row_elems=2, lane_stride=0x40), 0x100 + 0x40 + 4),
    (Instr("store", dram_offset=0x100, lane_stride=0x80, y_size=2, y_stride=8), 0x100 + 8 + 3 * 0x80 + 1),
    (Instr("store", src=Mem.ACC, dram_offset=0x100, lane_stride=0x20), 0x100 + 3 * 0x20 + 4),
])
def test_arena_end_of_lane_strided_accesses(rig, access, end):
    rig.run([access, END], arena_size=end)
    expect_fault(rig, access, ErrorCode.ARENA_VIOLATION, arena_size=end - 1)


# ---------------------------------------------------------------------------------------------- ISA 1.0 mode


@pytest.mark.parametrize("bad, code", [
    (Instr("reduce"), ErrorCode.ILLEGAL_OPCODE),
    (Instr("lutw"), ErrorCode.ILLEGAL_OPCODE),
    (Instr("gather"), ErrorCode.ILLEGAL_OPCODE),
    (Instr("load", dst=Mem.LUTW), ErrorCode.BAD_FIELD),
    (Instr("store", lane_stride=1), ErrorCode.BAD_FIELD),
    (Instr("gemm", preload=1, wzp_en=1), ErrorCode.BAD_FIELD),
    (Instr("gemm", preload=1, bias_en=1), ErrorCode.BAD_FIELD),
    (Instr("requant", row_scale=1, group_rows=1), ErrorCode.BAD_FIELD),
])
def test_a_10_machine_rejects_every_addition(bad, code):
    rig = Rig(isa_minor=0)
    expect_fault(rig, bad, code)
    Rig().run([bad, END])  # ... which a 1.1 machine runs


def test_a_10_machine_runs_10_programs():
    rig = Rig(isa_minor=0)
    rig.put(0x100, np.arange(16, dtype=np.uint8))
    rig.run([Instr("load", dram_offset=0x100, x_size=4, x_stride=4), Instr("sync"),
             Instr("store", dram_offset=0x200, x_size=4, x_stride=4), END])
    assert rig.get(0x200, 16).tolist() == list(range(16))


def test_isa_minor_must_exist():
    with pytest.raises(MachineError, match="isa_minor"):
        Machine(NpuConfig(), np.zeros(64, np.uint8), isa_minor=2)


def test_reserved_bit_of_a_10_field_is_bad_field_not_illegal():
    rig = Rig(isa_minor=0)
    code = bytearray(assemble([Instr("nop"), Instr("gemm", preload=1, bias_en=1)]))
    rig.put(0, np.frombuffer(bytes(code), dtype=np.uint8))
    with pytest.raises(NpuFault, match="reserved bits") as info:
        rig.machine.run_task(0, 2, 0, rig.dram.size)
    assert (info.value.code, info.value.pc) == (ErrorCode.BAD_FIELD, 1)
