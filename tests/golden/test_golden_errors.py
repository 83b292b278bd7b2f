"""Every ErrorCode the golden model raises, with the right pc, priority, and nothing after the fault executed."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from golden_rig import Rig
from nux.golden.errors import Cancelled, MachineError, NpuFault
from nux.golden.machine import Machine
from nux.isa import MAX_TOKENS, ErrorCode, Instr, NpuConfig, Queue, assemble

END = Instr("end")
MARK = Instr("store", dram_offset=0x900)  # writes SP row 0 (set to 7s) to 0x900: shows whether it ran


def expect_fault(rig: Rig, program, code: ErrorCode, pc: int, **run_args) -> NpuFault:
    rig.machine.sp[0] = 7
    with pytest.raises(NpuFault) as info:
        rig.run(program, **run_args)
    assert (info.value.code, info.value.pc) == (code, pc), str(info.value)
    return info.value


def test_arena_violation_at_pc5_stops_before_it(rig):
    arena_base, arena_size = 0x4000, 0x1000
    program = [Instr("nop")] * 2 + [
        Instr("store", dram_offset=0x800),  # inside: runs
        Instr("nop"),
        Instr("load", dram_offset=0x800),
        Instr("load", dram_offset=arena_size - 2),  # 4 bytes from 2 before the end
        Instr("store", dram_offset=0x900),
        END,
    ]
    expect_fault(rig, program, ErrorCode.ARENA_VIOLATION, 5, prog_base=arena_base, arena_base=arena_base,
                 arena_size=arena_size)
    assert rig.get(arena_base + 0x800, 4).tolist() == [7, 7, 7, 7]
    assert rig.get(arena_base + 0x900, 4).tolist() == [0, 0, 0, 0]
    assert rig.machine.counters["INSTRET"] == 5


def test_store_whose_last_row_crosses_arena_size(rig):
    size = 0x1000
    last_row_fits = Instr("store", dram_offset=size - 4 - 3 * 16, x_size=4, x_stride=16)
    rig.run([last_row_fits, END], arena_size=size)
    expect_fault(rig, [last_row_fits.replace(dram_offset=size - 3 - 3 * 16), END], ErrorCode.ARENA_VIOLATION, 0,
                 arena_size=size)
    acc_row = Instr("store", src=1, dram_offset=size - 16, z_size=2, z_stride=1)  # 16 bytes per ACC row
    expect_fault(rig, [Instr("nop"), acc_row, END], ErrorCode.ARENA_VIOLATION, 1, arena_size=size)


@pytest.mark.parametrize(
    "bad",
    [
        Instr("gemm", preload=1, pop_prev=1),  # no L->C token pushed before
        Instr("load", pop_prev=1),  # the load queue has no previous queue
        Instr("load", push_prev=1),
        Instr("store", pop_next=1),  # the store queue has no next queue
        Instr("nop", queue=Queue.STORE, push_next=1),
        Instr("gemm"),  # preload=0 with no tile loaded in this task
    ],
)
def test_bad_dep(rig, bad):
    expect_fault(rig, [Instr("nop"), bad, MARK, END], ErrorCode.BAD_DEP, 1)
    assert rig.get(0x900, 4).tolist() == [0, 0, 0, 0]


def test_token_counts_are_per_task_and_bounded(rig):
    rig.run([Instr("load", push_next=1), END])  # leaves a token behind...
    expect_fault(rig, [Instr("gemm", preload=1, pop_prev=1), END], ErrorCode.BAD_DEP, 0)  # ...not inherited
    pushes = [Instr("nop", queue=Queue.LOAD, push_next=1)] * (MAX_TOKENS + 1)
    expect_fault(rig, [*pushes, END], ErrorCode.BAD_DEP, MAX_TOKENS)
    rig.run([Instr("gemm", preload=1), END])
    expect_fault(rig, [Instr("gemm"), END], ErrorCode.BAD_DEP, 0)  # the tile of an earlier task does not count


@pytest.mark.parametrize(
    "bad",
    [
        Instr("load", dst_row=63, x_size=2),
        Instr("load", dst=1, dst_row=30, x_pad_before=1, x_pad_after=1),
        Instr("load", dst=2, dst_row=63, y_pad_after=1),
        Instr("store", src=1, src_row=31, z_size=2),
        Instr("gemm", preload=1, w_row=61),
        Instr("gemm", preload=1, a_base=1, x_size=2, a_xstride=62, y_size=2, a_ystride=1),  # 1 + 62 + 1
        Instr("gemm", preload=1, acc_base=31, x_size=2),
        Instr("requant", param_row=31),
        Instr("vector", param_row=27),  # ADD needs 6 parameter rows
        Instr("vector", vop=2, b_base=60, b_xstride=2, x_size=3),
        Instr("pool", win_y=2, win_ystride=64),
    ],
)
def test_spad_oob(rig, bad):
    expect_fault(rig, [bad, END], ErrorCode.SPAD_OOB, 0)


@pytest.mark.parametrize(
    "bad",
    [
        Instr("load", x_size=0),
        Instr("store", z_size=0),
        Instr("requant", n_rows=0),
        Instr("pool", win_x=0),
        Instr("load", row_elems=5),  # > dim
        Instr("store", src=2),  # STORE from the LUT
        Instr("store", src=3),  # ... or the wide LUT
        Instr("vector", vop=9),
        Instr("pool", pop=2),
        Instr("nop", queue=3),
    ],
)
def test_bad_field(rig, bad):
    expect_fault(rig, [Instr("nop"), Instr("nop"), bad, END], ErrorCode.BAD_FIELD, 2)


def test_reserved_bits_and_illegal_opcodes(rig):
    code = bytearray(assemble([Instr("nop"), END, END, END, END]))
    code[32] |= 0x10  # pop_prev on END: reserved
    code[64 + 1] |= 0x10  # END word 0 bit 12
    code[96] = 0  # opcode 0 (zeroed memory)
    code[128] = 0x0F  # opcode 15
    for index, error in ((1, ErrorCode.BAD_FIELD), (2, ErrorCode.BAD_FIELD), (3, ErrorCode.ILLEGAL_OPCODE),
                         (4, ErrorCode.ILLEGAL_OPCODE)):
        program = bytes(code[:32]) + bytes(code[32 * index : 32 * index + 32])
        rig.put(0, np.frombuffer(program, dtype=np.uint8))
        with pytest.raises(NpuFault) as info:
            rig.machine.run_task(0, 2, 0, rig.dram.size)
        assert (info.value.code, info.value.pc) == (error, 1)


def test_load_reserved_bit(rig):
    code = bytearray(Instr("load").encode())
    code[1] |= 0x10  # word 0 bit 12: between dst and pad_value
    rig.put(0, np.frombuffer(bytes(code), dtype=np.uint8))
    with pytest.raises(NpuFault) as info:
        rig.machine.run_task(0, 1, 0, rig.dram.size)
    assert info.value.code == ErrorCode.BAD_FIELD


def test_priority_order(rig):
    # BAD_FIELD before BAD_DEP before SPAD_OOB before ARENA_VIOLATION, all at the same instruction.
    expect_fault(rig, [Instr("load", pop_prev=1, x_size=0, dst_row=63)], ErrorCode.BAD_FIELD, 0)
    expect_fault(rig, [Instr("load", pop_prev=1, dst_row=63, x_size=2)], ErrorCode.BAD_DEP, 0)
    expect_fault(rig, [Instr("load", dst_row=63, x_size=2, dram_offset=0xFFFF)], ErrorCode.SPAD_OOB, 0)


def test_program_overrun(rig):
    fault = expect_fault(rig, [Instr("nop"), MARK, Instr("sync")], ErrorCode.PROGRAM_OVERRUN, 3)
    assert "END" in str(fault)
    assert rig.get(0x900, 4).tolist() == [7, 7, 7, 7]


@pytest.mark.parametrize(
    ("prog_base", "prog_len", "arena_base", "arena_size"),
    [
        (0x110, 2, 0, 0x1000),  # misaligned program
        (0x100, 0, 0, 0x1000),  # empty program
        (0x100, 2, 0x200, 0x1000),  # program before the arena
        (0xFE0, 2, 0, 0x1000),  # program runs past the arena
        (0x100, 2, 0x100, 0xFFFF),  # arena past the 16-bit address space
    ],
)
def test_bad_task(prog_base, prog_len, arena_base, arena_size):
    rig = Rig(NpuConfig(dim=4, sp_rows=64, acc_rows=32, dram_addr_bits=16))
    rig.put(prog_base & ~31, np.frombuffer(assemble([END, END]), dtype=np.uint8))
    with pytest.raises(NpuFault) as info:
        rig.machine.run_task(prog_base, prog_len, arena_base, arena_size)
    assert (info.value.code, info.value.pc) == (ErrorCode.BAD_TASK, 0)
    assert rig.machine.counters["INSTRET"] == 0


def test_bus_error_past_physical_dram():
    rig = Rig(NpuConfig(dim=4, sp_rows=64, acc_rows=32), dram_size=0x2000)  # 32-bit space, 8 KiB of DRAM
    rig.put(0, np.frombuffer(assemble([Instr("load", dram_offset=0x1FFE), END]), dtype=np.uint8))
    with pytest.raises(NpuFault) as info:
        rig.machine.run_task(0, 2, 0, 0x10000)
    assert (info.value.code, info.value.pc) == (ErrorCode.BUS_ERROR, 0)


def test_cancel_and_bad_arguments(rig):
    cancel = threading.Event()
    cancel.set()
    rig.put(0, np.frombuffer(assemble([END]), dtype=np.uint8))
    with pytest.raises(Cancelled):
        rig.machine.run_task(0, 1, 0, 0x1000, cancel=cancel)
    with pytest.raises(MachineError, match="prog_len"):
        rig.machine.run_task(0, -1, 0, 0x1000)
    with pytest.raises(MachineError, match="uint8"):
        Machine(NpuConfig(), np.zeros(16, dtype=np.int32))
