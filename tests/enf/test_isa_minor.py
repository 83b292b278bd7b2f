"""The ENF header records the ISA minor its code needs (issue 10): computed from the programs by a vectorised
screen that agrees with nux.isa.required_minor, written by write_enf, and checked by read_enf."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from enf_samples import minimal_enf, program, set_header
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.enf import EnfError, Program, code_minor, read_enf, required_isa_minor, write_enf
from nux.enf.layout import HEADER
from nux.isa import Instr, Mem, Opcode, assemble, fields_of, opcodes, required_minor

ADDITIONS = [Instr("reduce"), Instr("lutw"), Instr("gather"), Instr("load", dst=Mem.LUTW),
             Instr("store", lane_stride=4), Instr("gemm", preload=1, wzp_en=1), Instr("gemm", bias_en=1),
             Instr("requant", row_scale=1, group_rows=1)]


def _minor_in_header(image: bytes) -> int:
    return struct.unpack_from("<H", image, HEADER.offsets["isa_version_minor"])[0]


def _with_code(enf, code: bytes):
    return dataclasses.replace(enf, programs=[Program(code, enf.programs[0].offset, "p")])


def test_a_10_executable_says_10():
    image = write_enf(minimal_enf())
    assert _minor_in_header(image) == 0 and required_isa_minor(read_enf(image)) == 0


@pytest.mark.parametrize("addition", ADDITIONS, ids=str)
def test_an_executable_using_an_addition_says_11(addition):
    enf = _with_code(minimal_enf(), program(addition))
    image = write_enf(enf)
    assert _minor_in_header(image) == 1
    assert read_enf(image).programs == enf.programs


def test_reader_refuses_a_header_that_understates_the_minor():
    image = write_enf(_with_code(minimal_enf(), program(Instr("reduce"))))
    with pytest.raises(EnfError, match=r"header says ISA 1\.0, but the code uses ISA 1\.1"):
        read_enf(set_header(image, "isa_version_minor", 0))
    assert read_enf(set_header(image, "isa_version_minor", 7))  # overstating is harmless


@st.composite
def instructions(draw) -> Instr:
    op = draw(st.sampled_from(list(Opcode)))
    values = {}
    for field in fields_of(op)[1:]:
        if draw(st.booleans()):  # most fields at their default, so that 1.0 programs are common
            continue
        if field.enum is not None:
            values[field.name] = draw(st.sampled_from([int(e) for e in field.enum if int(e) <= field.mask]))
        elif field.signed:
            values[field.name] = draw(st.integers(-(1 << (field.width - 1)), (1 << (field.width - 1)) - 1))
        else:
            values[field.name] = draw(st.sampled_from([0, 1, field.mask]))
    return Instr(op, **values)


@settings(max_examples=400, deadline=None)
@given(st.lists(instructions(), min_size=1, max_size=6))
def test_code_minor_equals_required_minor(program_):
    assert code_minor(assemble(program_)) == required_minor(program_)


def test_10_opcodes_alone_need_10():
    assert code_minor(assemble([Instr(op) for op in opcodes(0)])) == 0
