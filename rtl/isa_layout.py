"""Amaranth views of the 256-bit instruction, generated from nux.isa's encoding table.

No bit offset is typed twice: `instr_layout(Opcode.GEMM)` is a FlexibleLayout whose fields sit exactly where
nux.isa.encoding puts them, so `View(instr_layout(Opcode.GEMM), bits).x_size` decodes a GEMM in RTL.
"""

from __future__ import annotations

import functools

from amaranth.hdl import signed, unsigned
from amaranth.lib import data
from nux.isa import INSTR_BYTES, Opcode, fields_of, reserved_masks

INSTR_BITS = 8 * INSTR_BYTES


@functools.cache
def instr_layout(opcode: Opcode) -> data.FlexibleLayout:
    """Layout of one opcode's fields over the 256-bit instruction (enum fields as plain unsigned)."""
    fields = {}
    for f in fields_of(opcode):
        shape = signed(f.width) if f.signed else unsigned(f.width)
        fields[f.name] = data.Field(shape, f.bit_offset)
    return data.FlexibleLayout(INSTR_BITS, fields)


#: The ISA minor the RTL implements (VERSION reads 1.RTL_ISA_MINOR): 1.1's units are not wired in yet.
RTL_ISA_MINOR = 0


def reserved_mask(opcode: Opcode, isa_minor: int = RTL_ISA_MINOR) -> int:
    """The 256-bit mask of reserved bits for `opcode` (an instruction with any of them set is BAD_FIELD)."""
    return sum(word << (32 * i) for i, word in enumerate(reserved_masks(opcode, isa_minor)))
