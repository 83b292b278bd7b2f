"""The encoding table, the binary form and the text form agree with each other in both directions."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.isa import (
    INSTR_BYTES,
    AsmError,
    DecodeError,
    Instr,
    Opcode,
    assemble,
    decode,
    disassemble,
    fields_of,
    format_program,
    parse_program,
    reserved_masks,
)


@st.composite
def instructions(draw) -> Instr:
    op = draw(st.sampled_from(list(Opcode)))
    values = {}
    for field in fields_of(op):
        if field.name == "opcode":
            continue
        if field.enum is not None:  # a 1-bit field may name only the first members (REDUCE src: sp, acc)
            values[field.name] = draw(st.sampled_from([int(e) for e in field.enum if int(e) <= field.mask]))
        elif field.signed:
            values[field.name] = draw(st.integers(-(1 << (field.width - 1)), (1 << (field.width - 1)) - 1))
        else:
            values[field.name] = draw(st.integers(0, field.mask))
    return Instr(op, **values)


@settings(max_examples=500, deadline=None)
@given(st.lists(instructions(), min_size=1, max_size=8))
def test_binary_round_trip(program):
    code = assemble(program)
    assert len(code) == INSTR_BYTES * len(program)
    assert disassemble(code) == program
    assert assemble(disassemble(code)) == code


@settings(max_examples=500, deadline=None)
@given(st.lists(instructions(), min_size=1, max_size=8))
def test_text_round_trip(program):
    text = format_program(program)
    assert parse_program(text) == program
    assert format_program(parse_program(text)) == text


def test_field_values_land_where_the_table_says():
    instr = Instr("gemm", a_zp=0x81, w_zp=0x7F, acc_base=0x1234, x_size=300, push_next=1)
    words = struct.unpack("<8I", instr.encode())
    assert words[0] & 0xF == Opcode.GEMM
    assert (words[0] >> 7) & 1 == 1  # push_next
    assert (words[0] >> 16) & 0xFF == 0x81 and words[0] >> 24 == 0x7F
    assert words[1] >> 16 == 0x1234
    assert words[3] & 0xFFFF == 300


@pytest.mark.parametrize("op", list(Opcode))
def test_every_reserved_bit_is_rejected(op):
    base = bytearray(Instr(op).encode())
    masks = reserved_masks(op)
    for word, mask in enumerate(masks):
        for bit in range(32):
            if mask >> bit & 1 and not (word == 0 and bit < 4):
                bad = bytearray(base)
                bad[4 * word + bit // 8] |= 1 << (bit % 8)
                with pytest.raises(DecodeError) as info:
                    decode(bytes(bad), index=7)
                assert info.value.reason == "reserved" and info.value.index == 7


@pytest.mark.parametrize("opcode", [0, 13, 14, 15])
def test_illegal_opcodes(opcode):
    with pytest.raises(DecodeError) as info:
        decode(bytes([opcode]) + bytes(31), index=3)
    assert info.value.reason == "opcode" and "illegal opcode" in str(info.value)


def test_zeroed_memory_is_illegal():
    with pytest.raises(DecodeError):
        disassemble(bytes(64))


def test_text_errors_name_the_problem():
    with pytest.raises(AsmError, match="line 2.*no field 'bogus'"):
        parse_program("end\ngemm bogus=1\n")
    with pytest.raises(AsmError, match="unknown instruction"):
        parse_program("frobnicate\n")
    with pytest.raises(AsmError, match="does not fit"):
        parse_program("gemm x_size=70000")
    with pytest.raises(AsmError, match="not one of"):
        parse_program("load dst=dram")
    with pytest.raises(AsmError, match="given twice"):
        parse_program("gemm x_size=1 x_size=2")


def test_every_text_error_names_its_line():
    with pytest.raises(AsmError, match=r"^line 3: unknown instruction 'frobnicate'"):
        parse_program("end\n; comment\n  frobnicate x=1\n")
    with pytest.raises(AsmError, match=r"^line 1: unknown instruction"):
        parse_program("bogus")


OTHER_BREAKS = ["\f", "\v", "\r", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]  # splitlines() breaks


@settings(max_examples=200, deadline=None)
@given(st.lists(instructions(), min_size=1, max_size=6), st.data())
def test_fuzz_line_breaks_inside_lines(program, data):
    """Other break characters in place of spaces or at line ends change neither the program nor line numbers."""
    spaces = st.sampled_from([" ", *OTHER_BREAKS])
    lines = [
        line.replace(" ", data.draw(spaces)) + data.draw(st.sampled_from(["", *OTHER_BREAKS]))
        for line in format_program(program).split("\n")[:-1]
    ]
    assert parse_program("\n".join(lines)) == program
    bad = data.draw(st.integers(0, len(lines)))
    lines.insert(bad, data.draw(spaces) + "frobnicate" + data.draw(spaces))
    with pytest.raises(AsmError, match=rf"^line {bad + 1}: unknown instruction 'frobnicate'"):
        parse_program("\n".join(lines))


@pytest.mark.parametrize("brk", OTHER_BREAKS)
def test_only_newline_ends_a_line(brk):
    """str.splitlines() also breaks at these; a line number must count '\n' only (docs/isa.md, Text form)."""
    with pytest.raises(AsmError, match=r"^line 3: gemm has no field 'bogus'"):
        parse_program(f"nop{brk}\nend {brk}\ngemm bogus=1{brk}\n")
    with pytest.raises(AsmError, match=r"^line 2: unknown instruction"):
        parse_program(f"nop\n{brk}frobnicate\n")
    # Inside a line they separate words like any whitespace, and CRLF files read as usual.
    assert parse_program(f"gemm{brk}x_size=3{brk}\r\nend\r\n") == [Instr("gemm", x_size=3), Instr("end")]


def test_text_form_reads_like_assembly():
    text = "load dst=acc row_elems=4 dram_offset=0x100 push_next ; bias\n# comment\n\nend\n"
    load, end = parse_program(text)
    assert load.dst == 1 and load.dram_offset == 256 and load.push_next == 1
    assert end.opcode == Opcode.END
    assert format_program([load]) == "load push_next dst=acc row_elems=4 dram_offset=256\n"


def test_code_length_must_be_whole_instructions():
    with pytest.raises(DecodeError, match="multiple of 32"):
        disassemble(bytes(33))
