"""ISA 1.1 (issue 10): the new opcodes and fields sit exactly where the contract puts them, a 1.0 decoder rejects
every one of them, and `required_minor` tells which programs need a 1.1 device."""

from __future__ import annotations

import struct

import pytest
from nux.isa import (
    ISA_VERSION,
    REGISTER,
    TEST_CONFIGS,
    VERSION,
    DecodeError,
    Instr,
    Mem,
    Opcode,
    ReduceOp,
    ReducePost,
    constant_registers,
    decode,
    format_instr,
    opcodes,
    parse_program,
    required_minor,
    reserved_masks,
)

#: (opcode, field, value, word, lsb): the bit positions of docs/isa.md section "ISA 1.1", typed once here.
POSITIONS = [
    ("store", "lane_stride", 0xDEADBEEF, 7, 0),
    ("gemm", "wzp_en", 1, 0, 12), ("gemm", "bias_en", 1, 0, 13),
    ("gemm", "wzp_row", 0x1234, 5, 0), ("gemm", "bias_row", 0x4321, 5, 16),
    ("requant", "row_scale", 1, 0, 9), ("requant", "rowp_base", 0x0ABC, 5, 0), ("requant", "group_rows", 7, 5, 16),
    ("gather", "dst", 1, 0, 8), ("gather", "pad_value", 0x80, 0, 16), ("gather", "row_elems", 5, 0, 24),
    ("gather", "dram_offset", 0x12345678, 1, 0), ("gather", "dst_row", 9, 2, 0), ("gather", "x_size", 3, 2, 16),
    ("gather", "x_stride", 64, 3, 0), ("gather", "y_size", 4, 4, 0), ("gather", "z_size", 5, 4, 16),
    ("gather", "y_stride", 128, 5, 0), ("gather", "z_stride", 256, 6, 0), ("gather", "lane_stride", 12, 7, 0),
    ("reduce", "rop", 2, 0, 8), ("reduce", "src", 1, 0, 10), ("reduce", "dst_sp", 1, 0, 11),
    ("reduce", "a_signed", 1, 0, 12), ("reduce", "post", 2, 0, 13), ("reduce", "a_zp", 0x85, 0, 16),
    ("reduce", "last_lanes", 7, 0, 24), ("reduce", "a_base", 0x111, 1, 0), ("reduce", "out_row", 0x222, 1, 16),
    ("reduce", "group_rows", 3, 2, 0), ("reduce", "n_groups", 4, 2, 16), ("reduce", "a_rstride", 5, 3, 0),
    ("reduce", "a_gstride", 6, 3, 16),
    ("lutw", "a_signed", 1, 0, 8), ("lutw", "b_signed", 1, 0, 9), ("lutw", "diff", 1, 0, 10),
    ("lutw", "a_base", 0x31, 1, 0), ("lutw", "b_base", 0x32, 1, 16), ("lutw", "out_base", 0x33, 2, 0),
    ("lutw", "x_size", 0x34, 2, 16), ("lutw", "y_size", 0x35, 3, 0), ("lutw", "a_xstride", 0x36, 4, 0),
    ("lutw", "a_ystride", 0x37, 4, 16), ("lutw", "b_xstride", 0x38, 5, 0), ("lutw", "b_ystride", 0x39, 5, 16),
]


def test_new_enum_values():
    assert (Opcode.REDUCE, Opcode.LUTW, Opcode.GATHER) == (10, 11, 12)
    assert Mem.LUTW == 3
    assert [int(e) for e in ReduceOp] == [0, 1, 2] and [e.name for e in ReduceOp] == ["MAX", "SUM", "SUMSQ"]
    assert [int(e) for e in ReducePost] == [0, 1, 2] and [e.name for e in ReducePost] == ["NONE", "RECIP", "RSQRT"]
    assert ISA_VERSION == (1, 1)


@pytest.mark.parametrize("op, name, value, word, lsb", POSITIONS)
def test_field_positions(op, name, value, word, lsb):
    """Each field alone: exactly its value at its bits, every other bit (but the opcode) zero."""
    base = Instr(op)
    base = base.replace(**{k: 0 for k in base.values})
    words = struct.unpack("<8I", base.replace(**{name: value}).encode())
    expected = [Opcode[op.upper()] if w == 0 else 0 for w in range(8)]
    expected[word] |= value << lsb
    assert list(words) == expected


def test_post_shift_is_twos_complement():
    words = struct.unpack("<8I", Instr("reduce", post="rsqrt", post_shift=-2).encode())
    assert words[4] == 0xFE and Instr("reduce").post_shift == 0
    assert decode(Instr("reduce", post_shift=-128).encode()).post_shift == -128


@pytest.mark.parametrize("op", [Opcode.REDUCE, Opcode.LUTW, Opcode.GATHER])
def test_new_opcodes_are_illegal_on_a_10_device(op):
    raw = Instr(op).encode()
    assert decode(raw).opcode is op
    with pytest.raises(DecodeError, match=r"illegal opcode .*ISA 1\.1.*implements 1\.0") as info:
        decode(raw, index=4, isa_minor=0)
    assert info.value.reason == "opcode" and info.value.index == 4
    assert op not in opcodes(0) and op in opcodes(1)


@pytest.mark.parametrize("op, name, value", [
    ("store", "lane_stride", 4), ("gemm", "wzp_en", 1), ("gemm", "bias_en", 1), ("gemm", "wzp_row", 1),
    ("gemm", "bias_row", 1), ("requant", "row_scale", 1), ("requant", "rowp_base", 1), ("requant", "group_rows", 1),
])
def test_new_fields_are_reserved_on_a_10_device(op, name, value):
    raw = Instr(op, **{name: value}).encode()
    assert decode(raw).values[name] == value
    with pytest.raises(DecodeError) as info:
        decode(raw, isa_minor=0)
    assert info.value.reason == "reserved"


def test_10_reserved_masks_are_the_11_masks_plus_the_new_fields():
    added = {Opcode.STORE: {7: 0xFFFFFFFF}, Opcode.GEMM: {0: 0x3000, 5: 0xFFFFFFFF},
             Opcode.REQUANT: {0: 0x200, 5: 0xFFFFFFFF}}
    for op in opcodes(0):
        old, new = reserved_masks(op, 0), reserved_masks(op, 1)
        assert [o & ~n for o, n in zip(old, new, strict=True)] == [added.get(op, {}).get(w, 0) for w in range(8)]
        assert all(n & ~o == 0 for o, n in zip(old, new, strict=True))


@pytest.mark.parametrize("program, minor", [
    ([Instr("load"), Instr("store"), Instr("gemm", preload=1), Instr("requant"), Instr("end")], 0),
    ([Instr("load", dst="lut"), Instr("store", src="acc")], 0),
    ([Instr("load", dst="lutw")], 1),
    ([Instr("store", lane_stride=4)], 1),
    ([Instr("gemm", preload=1, wzp_en=1)], 1),
    ([Instr("gemm", bias_en=1)], 1),
    ([Instr("requant", row_scale=1, group_rows=1)], 1),
    ([Instr("nop"), Instr("reduce")], 1),
    ([Instr("lutw")], 1),
    ([Instr("gather")], 1),
    ([], 0),
])
def test_required_minor(program, minor):
    assert required_minor(program) == minor


def test_version_register_reports_the_minor():
    config = TEST_CONFIGS[0]
    for minor in (0, 1):
        value = constant_registers(config, isa_minor=minor)[REGISTER["VERSION"]]
        assert VERSION.decode(value) == {"MAJOR": 1, "MINOR": minor}
    assert constant_registers(config) == constant_registers(config, isa_minor=ISA_VERSION[1])
    with pytest.raises(ValueError, match="isa_minor"):
        constant_registers(config, isa_minor=2)


def test_text_form_of_the_new_instructions():
    text = ("reduce rop=sumsq src=acc post=rsqrt out_row=3 n_groups=2 post_shift=-7\n"
            "lutw diff=1 a_base=1 b_base=2 x_size=4\n"
            "gather dst=acc row_elems=3 lane_stride=12\n"
            "load dst=lutw x_size=2\n")
    program = parse_program(text)
    assert program[0].rop == ReduceOp.SUMSQ and program[0].src == Mem.ACC and program[0].post == ReducePost.RSQRT
    assert program[0].post_shift == -7 and program[2].lane_stride == 12 and program[3].dst == Mem.LUTW
    assert "\n".join(format_instr(i) for i in program) + "\n" == text
