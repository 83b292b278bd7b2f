"""Instruction encodings: the one table every other artefact (docs, C header, Verilog constants) is made from.

Every instruction is 256 bits: eight little-endian 32-bit words. Word 0 holds the opcode and the four dependency
flags of VTA-style token queues; the rest are opcode-specific fields. Bits not covered by a field are reserved
and must be zero (a decoder that sees one set raises BAD_FIELD), which keeps room for later versions.

Minor versions only add: every ISA 1.1 field (`Field.minor == 1`) sits in bits that are reserved in 1.0 and every
1.1 opcode is illegal in 1.0, so `reserved_masks(op, isa_minor=0)` and `opcodes(0)` describe a 1.0 NPU exactly.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

INSTR_BYTES = 32
INSTR_WORDS = 8
ISA_VERSION = (1, 1)


class Opcode(enum.IntEnum):
    """Word 0 bits [3:0]. Zero is illegal so that running into zeroed memory stops at once."""

    LOAD = 1
    STORE = 2
    GEMM = 3
    REQUANT = 4
    VECTOR = 5
    POOL = 6
    SYNC = 7
    END = 8
    NOP = 9
    REDUCE = 10
    LUTW = 11
    GATHER = 12


class Queue(enum.IntEnum):
    """The three decoupled execution queues (access/execute decoupling as in VTA)."""

    LOAD = 0
    COMPUTE = 1
    STORE = 2


class Mem(enum.IntEnum):
    """On-chip memory selected by LOAD.dst / STORE.src (LUTW: the 256-entry int32 table of ISA 1.1)."""

    SP = 0
    ACC = 1
    LUT = 2
    LUTW = 3


class VectorOp(enum.IntEnum):
    """VECTOR.vop: elementwise operations on scratchpad rows."""

    ADD = 0
    MUL = 1
    MAX = 2
    MIN = 3
    LUT = 4


class PoolOp(enum.IntEnum):
    """POOL.pop: windowed reductions over scratchpad rows."""

    MAX = 0
    SUM = 1


class ReduceOp(enum.IntEnum):
    """REDUCE.rop: what a group of lanes and rows reduces to (ISA 1.1)."""

    MAX = 0
    SUM = 1
    SUMSQ = 2


class ReducePost(enum.IntEnum):
    """REDUCE.post: turn the reduction r into an MBQM multiplier (m, s) of 1/r or 1/sqrt(r) (ISA 1.1)."""

    NONE = 0
    RECIP = 1
    RSQRT = 2


class ErrorCode(enum.IntEnum):
    """STATUS.error_code. Checks run at dispatch, in program order, in this priority order (lowest first)."""

    NONE = 0
    ILLEGAL_OPCODE = 1
    BAD_FIELD = 2
    BAD_DEP = 3
    SPAD_OOB = 4
    ARENA_VIOLATION = 5
    PROGRAM_OVERRUN = 6
    BAD_TASK = 7
    BUS_ERROR = 8
    INTERNAL = 9


ERROR_DOCS: dict[ErrorCode, str] = {
    ErrorCode.NONE: "no error",
    ErrorCode.ILLEGAL_OPCODE: "opcode is not one of Opcode",
    ErrorCode.BAD_FIELD: "a reserved bit is set, or a field value is out of its range (size 0, row_elems > dim, "
    "enum value undefined, dependency flag on SYNC/END)",
    ErrorCode.BAD_DEP: "a dependency flag names a channel the queue does not have, a pop finds no token pushed "
    "earlier in program order, a channel holds more than MAX_TOKENS, or GEMM preload=0 before any preload",
    ErrorCode.SPAD_OOB: "a scratchpad, accumulator or LUT row index is out of range",
    ErrorCode.ARENA_VIOLATION: "a DRAM access falls outside [0, arena_size) of the task's arena",
    ErrorCode.PROGRAM_OVERRUN: "the program ran past prog_len instructions without END",
    ErrorCode.BAD_TASK: "task descriptor invalid: program base not 32-byte aligned, prog_len 0, or the program or "
    "arena outside device memory, or the program not inside the arena",
    ErrorCode.BUS_ERROR: "the DRAM bus answered SLVERR or DECERR",
    ErrorCode.INTERNAL: "a per-access bounds check fired that dispatch checks should have caught (a hardware bug)",
}

#: Largest number of tokens a dependency channel may hold, counted at dispatch in program order.
MAX_TOKENS = 255


@dataclass(frozen=True)
class Field:
    """A bit field of an instruction: `width` bits at word `word`, starting at bit `lsb`."""

    name: str
    word: int
    lsb: int
    width: int
    doc: str
    default: int = 0
    signed: bool = False
    enum: type[enum.IntEnum] | None = None
    minor: int = 0  # the ISA 1.x that added the field; its bits are reserved before that


    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def bit_offset(self) -> int:
        """Offset of the field's lsb within the whole 256-bit instruction."""
        return 32 * self.word + self.lsb

    def check(self, value: int) -> None:
        lo, hi = (-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1) if self.signed else (0, self.mask)
        if not lo <= value <= hi:
            raise ValueError(f"field {self.name}={value} does not fit in {self.width} bits")


def _f(name: str, word: int, lsb: int, width: int, doc: str, **kw) -> Field:
    return Field(name, word, lsb, width, doc, **kw)


DEP_FIELDS = (
    _f("pop_prev", 0, 4, 1, "wait for (and consume) a token from the previous queue before executing"),
    _f("pop_next", 0, 5, 1, "wait for (and consume) a token from the next queue before executing"),
    _f("push_prev", 0, 6, 1, "send a token to the previous queue after completing"),
    _f("push_next", 0, 7, 1, "send a token to the next queue after completing"),
)
OPCODE_FIELD = _f("opcode", 0, 0, 4, "Opcode", enum=Opcode)

# Fields shared by several formats, defined once so that their positions stay identical.
_ROW_ELEMS = _f(
    "row_elems", 0, 24, 7, "lanes per row moved to/from DRAM (1..dim; 0 means dim); other lanes get pad_value"
)
_DRAM_OFFSET = _f("dram_offset", 1, 0, 32, "byte offset of the first row inside the task's arena")
_X_SIZE_HI = _f("x_size", 2, 16, 16, "rows in the innermost dimension (>= 1)", default=1)
_X_STRIDE = _f("x_stride", 3, 0, 32, "DRAM bytes between consecutive x rows")
_Y_SIZE_LO = _f("y_size", 4, 0, 16, "rows in the middle dimension (>= 1)", default=1)
_Z_SIZE = _f("z_size", 4, 16, 16, "rows in the outer dimension (>= 1)", default=1)
_Y_STRIDE = _f("y_stride", 5, 0, 32, "DRAM bytes between consecutive y rows")
_Z_STRIDE = _f("z_stride", 6, 0, 32, "DRAM bytes between consecutive z rows")
_A_SIGNED = _f("a_signed", 0, 12, 1, "operand A is int8 (1) or uint8 (0)")
_OUT_SIGNED = _f("out_signed", 0, 14, 1, "output is int8 (1) or uint8 (0)")
_A_ZP = _f("a_zp", 1, 0, 8, "zero point of A (int8 or uint8 per a_signed), subtracted on entry")
_OUT_ZP = _f("out_zp", 1, 16, 8, "output zero point (int8 or uint8 per out_signed)")
_CLAMP_LO = _f("clamp_lo", 1, 24, 8, "lowest output value (int8 or uint8 per out_signed)")
_CLAMP_HI = _f("clamp_hi", 2, 0, 8, "highest output value (int8 or uint8 per out_signed)", default=0x7F)
_PARAM_ROW = _f("param_row", 2, 16, 16, "ACC row of per-lane multipliers; the next row holds per-lane shifts")
_XY_ITER = (
    _f("x_size", 4, 0, 16, "inner iteration count (>= 1)", default=1),
    _f("y_size", 4, 16, 16, "outer iteration count (>= 1)", default=1),
    _f("a_xstride", 5, 0, 16, "SP rows between consecutive x positions of A"),
    _f("a_ystride", 5, 16, 16, "SP rows between consecutive y positions of A"),
)

_LANE_STRIDE = _f("lane_stride", 7, 0, 32, "DRAM bytes between consecutive lanes of a row (0: esize, contiguous)",
                  minor=1)
#: LOAD words 0..6, shared with GATHER (which replaces LOAD's padding word by `lane_stride`).
_LOAD_WORDS = (
    _f("dst", 0, 8, 2, "destination memory (lutw: ISA 1.1)", enum=Mem),
    _f("pad_value", 0, 16, 8, "byte written to padding rows and unused lanes (sign-extended for ACC)"),
    _ROW_ELEMS,
    _DRAM_OFFSET,
    _f("dst_row", 2, 0, 16, "first destination row; rows are written consecutively"),
    _X_SIZE_HI,
    _X_STRIDE,
    _Y_SIZE_LO,
    _Z_SIZE,
    _Y_STRIDE,
    _Z_STRIDE,
)

FORMATS: dict[Opcode, tuple[Field, ...]] = {
    Opcode.LOAD: (
        *_LOAD_WORDS,
        _f("x_pad_before", 7, 0, 8, "padding rows before each x run"),
        _f("x_pad_after", 7, 8, 8, "padding rows after each x run"),
        _f("y_pad_before", 7, 16, 8, "padding x-runs before each y run"),
        _f("y_pad_after", 7, 24, 8, "padding x-runs after each y run"),
    ),
    Opcode.STORE: (
        _f("src", 0, 8, 2, "source memory (SP or ACC)", enum=Mem),
        _ROW_ELEMS,
        _DRAM_OFFSET,
        _f("src_row", 2, 0, 16, "first source row; rows are read consecutively"),
        _X_SIZE_HI,
        _X_STRIDE,
        _Y_SIZE_LO,
        _Z_SIZE,
        _Y_STRIDE,
        _Z_STRIDE,
        _LANE_STRIDE,
    ),
    Opcode.GEMM: (
        _f("accumulate", 0, 8, 1, "add to ACC (1) or overwrite it (0)"),
        _f(
            "preload",
            0,
            9,
            1,
            "load a new weight tile from SP rows w_row..w_row+dim-1 (1) or keep the current one",
        ),
        _f("a_signed", 0, 10, 1, "A (streamed rows) is int8 (1) or uint8 (0)"),
        _f("w_signed", 0, 11, 1, "W (weight tile) is int8 (1) or uint8 (0)"),
        _f("a_zp", 0, 16, 8, "zero point of A, subtracted on entry to the array"),
        _f("w_zp", 0, 24, 8, "zero point of W, subtracted when the tile is preloaded"),
        _f("w_row", 1, 0, 16, "first SP row of the weight tile (row k holds the weights of input lane k)"),
        _f("acc_base", 1, 16, 16, "first ACC row written; row i of the stream goes to acc_base + i"),
        _f("a_base", 2, 0, 16, "SP row of the first streamed row"),
        _f("x_size", 3, 0, 16, "streamed rows per y step (>= 1)", default=1),
        _f("y_size", 3, 16, 16, "y steps (>= 1); rows streamed = x_size * y_size", default=1),
        _f("a_xstride", 4, 0, 16, "SP rows between consecutive x rows of A"),
        _f("a_ystride", 4, 16, 16, "SP rows between consecutive y steps of A"),
        _f("wzp_en", 0, 12, 1, "preload subtracts the per-column weight zero point row sp(wzp_row) (needs preload=1, "
           "w_zp=0)", minor=1),
        _f("bias_en", 0, 13, 1, "initialise ACC with the bias row ACC[bias_row] (needs accumulate=0)", minor=1),
        _f("wzp_row", 5, 0, 16, "SP row of per-column weight zero points (0 unless wzp_en)", minor=1),
        _f("bias_row", 5, 16, 16, "ACC row of per-column biases, read once before any write (0 unless bias_en)",
           minor=1),
    ),
    Opcode.REQUANT: (
        _f("out_signed", 0, 8, 1, "output is int8 (1) or uint8 (0)"),
        _OUT_ZP,
        _CLAMP_LO,
        _CLAMP_HI,
        _PARAM_ROW,
        _f("acc_base", 3, 0, 16, "first ACC row read"),
        _f("sp_base", 3, 16, 16, "first SP row written"),
        _f("n_rows", 4, 0, 16, "rows converted (>= 1)", default=1),
        _f("row_scale", 0, 9, 1, "first rescale each row by its group's (multiplier, shift) from ACC[rowp_base + g]",
           minor=1),
        _f("rowp_base", 5, 0, 16, "ACC row of group 0's (multiplier, shift) in lanes 0, 1 (0 unless row_scale)",
           minor=1),
        _f("group_rows", 5, 16, 16, "rows per row_scale group (>= 1 with row_scale, else 0)", minor=1),
    ),
    Opcode.VECTOR: (
        _f("vop", 0, 8, 4, "operation", enum=VectorOp),
        _A_SIGNED,
        _f("b_signed", 0, 13, 1, "operand B is int8 (1) or uint8 (0)"),
        _OUT_SIGNED,
        _f(
            "add_shift",
            0,
            16,
            5,
            "ADD: left shift applied to both operands before rescaling (TFLite uses 20)",
        ),
        _A_ZP,
        _f("b_zp", 1, 8, 8, "zero point of B (int8 or uint8 per b_signed)"),
        _OUT_ZP,
        _CLAMP_LO,
        _CLAMP_HI,
        _PARAM_ROW,
        _f("a_base", 3, 0, 16, "SP row of A at x = y = 0"),
        _f("b_base", 3, 16, 16, "SP row of B at x = y = 0"),
        *_XY_ITER,
        _f("b_xstride", 6, 0, 16, "SP rows between consecutive x positions of B (0 broadcasts)"),
        _f("b_ystride", 6, 16, 16, "SP rows between consecutive y positions of B (0 broadcasts)"),
        _f("out_base", 7, 0, 16, "first SP row written; output (x, y) goes to out_base + y*x_size + x"),
    ),
    Opcode.POOL: (
        _f("pop", 0, 8, 4, "reduction", enum=PoolOp),
        _A_SIGNED,
        _OUT_SIGNED,
        _A_ZP,
        _OUT_ZP,
        _CLAMP_LO,
        _CLAMP_HI,
        _PARAM_ROW,
        _f("a_base", 3, 0, 16, "SP row of the window origin at x = y = 0"),
        _f("out_base", 3, 16, 16, "first SP row written; output (x, y) goes to out_base + y*x_size + x"),
        *_XY_ITER,
        _f("win_x", 6, 0, 8, "window width in taps (>= 1)", default=1),
        _f("win_y", 6, 8, 8, "window height in taps (>= 1)", default=1),
        _f("win_xstride", 6, 16, 8, "SP rows between horizontally adjacent taps"),
        _f("win_ystride", 7, 0, 16, "SP rows between vertically adjacent taps"),
    ),
    Opcode.GATHER: (*_LOAD_WORDS, _LANE_STRIDE),
    Opcode.REDUCE: (
        _f("rop", 0, 8, 2, "reduction", enum=ReduceOp),
        _f("src", 0, 10, 1, "source memory: sp (0) or acc (1)", enum=Mem),
        _f("dst_sp", 0, 11, 1, "write the result to SP (1, mod 256, broadcast) or ACC (0)"),
        _A_SIGNED,
        _f("post", 0, 13, 2, "post-processing of r into (multiplier, shift) lanes 0, 1 of an ACC row",
           enum=ReducePost),
        _f("a_zp", 0, 16, 8, "zero point of SP input (int8 or uint8 per a_signed), subtracted on entry"),
        _f("last_lanes", 0, 24, 7, "lanes used in the last row of a group (1..dim; 0 means dim)"),
        _f("a_base", 1, 0, 16, "first row of group 0"),
        _f("out_row", 1, 16, 16, "row written for group 0; group g writes out_row + g"),
        _f("group_rows", 2, 0, 16, "rows per group (>= 1)", default=1),
        _f("n_groups", 2, 16, 16, "groups (>= 1)", default=1),
        _f("a_rstride", 3, 0, 16, "rows between consecutive rows of a group"),
        _f("a_gstride", 3, 16, 16, "rows between the first rows of consecutive groups"),
        _f("post_shift", 4, 0, 8, "extra left shift P of the RECIP/RSQRT multiplier (0 unless post)", signed=True),
    ),
    Opcode.LUTW: (
        _f("a_signed", 0, 8, 1, "operand A is int8 (1) or uint8 (0)"),
        _f("b_signed", 0, 9, 1, "operand B is int8 (1) or uint8 (0) (0 unless diff)"),
        _f("diff", 0, 10, 1, "index by clamp(B - A, 0, 255) (1) or by A's raw byte (0)"),
        _f("a_base", 1, 0, 16, "SP row of A at x = y = 0"),
        _f("b_base", 1, 16, 16, "SP row of B at x = y = 0 (0 unless diff)"),
        _f("out_base", 2, 0, 16, "first ACC row written; output (x, y) goes to out_base + y*x_size + x"),
        _f("x_size", 2, 16, 16, "inner iteration count (>= 1)", default=1),
        _f("y_size", 3, 0, 16, "outer iteration count (>= 1)", default=1),
        _f("a_xstride", 4, 0, 16, "SP rows between consecutive x positions of A"),
        _f("a_ystride", 4, 16, 16, "SP rows between consecutive y positions of A"),
        _f("b_xstride", 5, 0, 16, "SP rows between consecutive x positions of B (0 unless diff)"),
        _f("b_ystride", 5, 16, 16, "SP rows between consecutive y positions of B (0 unless diff)"),
    ),
    Opcode.NOP: (
        _f("queue", 0, 8, 2, "queue that executes the NOP (carries its dependency flags)", enum=Queue),
    ),
    Opcode.SYNC: (),
    Opcode.END: (),
}

#: Which queue executes each opcode (NOP: its `queue` field; SYNC and END: the dispatcher itself).
QUEUE_OF: dict[Opcode, Queue | None] = {
    Opcode.LOAD: Queue.LOAD,
    Opcode.STORE: Queue.STORE,
    Opcode.GEMM: Queue.COMPUTE,
    Opcode.REQUANT: Queue.COMPUTE,
    Opcode.VECTOR: Queue.COMPUTE,
    Opcode.POOL: Queue.COMPUTE,
    Opcode.REDUCE: Queue.COMPUTE,
    Opcode.LUTW: Queue.COMPUTE,
    Opcode.GATHER: Queue.LOAD,
    Opcode.NOP: None,
    Opcode.SYNC: None,
    Opcode.END: None,
}

#: Opcodes whose dependency flags are reserved (the dispatcher runs them, not a queue).
NO_DEPS = (Opcode.SYNC, Opcode.END)


def fields_of(opcode: Opcode) -> tuple[Field, ...]:
    """All fields of an opcode's format, word 0 header first."""
    header = (OPCODE_FIELD,) if opcode in NO_DEPS else (OPCODE_FIELD, *DEP_FIELDS)
    return header + FORMATS[opcode]


#: The ISA minor that added each opcode (absent: 1.0). A device of an older minor raises ILLEGAL_OPCODE.
OPCODE_MINOR: dict[Opcode, int] = {Opcode.REDUCE: 1, Opcode.LUTW: 1, Opcode.GATHER: 1}
#: Enum values of 1.0 fields that a later minor made legal: (opcode, field, value) -> minor.
VALUE_MINOR: dict[tuple[Opcode, str, int], int] = {(Opcode.LOAD, "dst", Mem.LUTW): 1}


def opcodes(isa_minor: int = ISA_VERSION[1]) -> tuple[Opcode, ...]:
    """The opcodes a device implementing ISA 1.`isa_minor` accepts (the others are ILLEGAL_OPCODE there)."""
    return tuple(op for op in Opcode if OPCODE_MINOR.get(op, 0) <= isa_minor)


@functools.cache
def reserved_masks(opcode: Opcode, isa_minor: int = ISA_VERSION[1]) -> tuple[int, ...]:
    """Per word, the bits no field of ISA 1.`isa_minor` covers; hardware and golden model reject instructions
    with any of them set (so a 1.0 device sees every 1.1 field as reserved: BAD_FIELD)."""
    used = [0] * INSTR_WORDS
    for field in fields_of(opcode):
        if field.minor <= isa_minor:
            used[field.word] |= field.mask << field.lsb
    return tuple(~u & 0xFFFFFFFF for u in used)


def instr_minor(opcode: Opcode, values: dict[str, int]) -> int:
    """The ISA minor an instruction needs: its opcode's, a 1.1 field set nonzero, or a 1.1 enum value."""
    need = OPCODE_MINOR.get(opcode, 0)
    for field in FORMATS[opcode]:
        if field.minor > need and values.get(field.name, 0) != 0:
            need = field.minor
    for (op, name, value), minor in VALUE_MINOR.items():
        if op is opcode and values.get(name) == value:
            need = max(need, minor)
    return need


def _check_layout() -> None:
    """Fields must not overlap or cross a word boundary; checked once at import."""
    for opcode in Opcode:
        seen = [0] * INSTR_WORDS
        names = set()
        for field in fields_of(opcode):
            if field.lsb + field.width > 32:
                raise AssertionError(f"{opcode.name}.{field.name} crosses a word boundary")
            bits = field.mask << field.lsb
            if seen[field.word] & bits:
                raise AssertionError(f"{opcode.name}.{field.name} overlaps another field")
            if field.name in names:
                raise AssertionError(f"{opcode.name}.{field.name} defined twice")
            seen[field.word] |= bits
            names.add(field.name)


_check_layout()
