"""The vectorised decode screen (validate.check_code) accepts exactly what nux.isa.disassemble accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.enf import EnfError
from nux.enf.validate import check_code
from nux.isa import DecodeError, Instr, Opcode, assemble, disassemble, fields_of


def _word(op: int, extra_bits: list[tuple[int, int]]) -> bytes:
    """An instruction with opcode `op` and some other bits set (which may or may not be reserved)."""
    words = [op] + [0] * 7
    for word, bit in extra_bits:
        words[word] |= 1 << bit
    return b"".join(w.to_bytes(4, "little") for w in words)


instructions = st.builds(
    _word,
    st.integers(0, 15),
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 31)), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(instructions, min_size=1, max_size=6))
def test_screen_agrees_with_disassemble(words):
    code = b"".join(words)
    try:
        disassemble(code)
    except DecodeError as exc:
        with pytest.raises(EnfError) as info:
            check_code(code, "p")
        assert str(exc) in str(info.value)
    else:
        check_code(code, "p")


def test_every_legal_instruction_with_all_fields_set_passes():
    """Fields at their all-ones value use every non-reserved bit: the screen must not flag any of them."""
    program = [Instr(op, **{f.name: (-1 if f.signed else f.mask) for f in fields_of(op) if f.name != "opcode"})
               for op in Opcode]
    check_code(assemble(program), "p")
