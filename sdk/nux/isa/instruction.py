"""Instructions as Python values, their binary encoding, and the text assembly form.

    Instr("gemm", preload=1, a_base=64, x_size=256, push_next=1)   # Python API
    gemm preload=1 a_base=64 x_size=256 push_next=1                # text form, one instruction per line

Enum fields take their names in text (dst=acc, vop=add); fields left out take their defaults. `disassemble`
followed by `assemble` gives back the same bytes, and the text round-trips the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from functools import cache

from nux.errors import NuxError
from nux.isa.encoding import (
    INSTR_BYTES,
    INSTR_WORDS,
    ISA_VERSION,
    OPCODE_MINOR,
    Field,
    Opcode,
    fields_of,
    instr_minor,
    reserved_masks,
)


class AsmError(NuxError):
    """Assembly text or an instruction value is malformed."""


class DecodeError(NuxError):
    """Bytes do not decode to a valid instruction (illegal opcode or reserved bits set)."""

    def __init__(self, message: str, index: int, reason: str):
        super().__init__(message)
        self.index = index
        self.reason = reason  # "opcode" or "reserved"


class Instr:
    """One instruction: an opcode and a value for each field of its format."""

    __slots__ = ("opcode", "values")

    def __init__(self, opcode: Opcode | str, **values: int | str):
        op = _opcode(opcode)
        fields, defaults = _table(op)
        unknown = values.keys() - fields.keys()
        if unknown:
            raise AsmError(f"{op.name.lower()} has no field(s) {sorted(unknown)}; it has {sorted(fields)}")
        resolved = dict(defaults)
        resolved.update(_checked(op, fields, values))
        object.__setattr__(self, "opcode", op)
        object.__setattr__(self, "values", resolved)

    def __getattr__(self, name: str) -> int:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"{self.opcode.name.lower()} has no field {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Instr is immutable; use replace()")

    def replace(self, **changes: int) -> Instr:
        fields = _table(self.opcode)[0]
        unknown = changes.keys() - fields.keys()
        if unknown:
            raise AsmError(f"{self.opcode.name.lower()} has no field(s) {sorted(unknown)}; it has {sorted(fields)}")
        new = object.__new__(Instr)
        object.__setattr__(new, "opcode", self.opcode)
        object.__setattr__(new, "values", {**self.values, **_checked(self.opcode, fields, changes)})
        return new

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Instr) and (self.opcode, self.values) == (other.opcode, other.values)

    def __hash__(self) -> int:
        return hash((self.opcode, tuple(sorted(self.values.items()))))

    def __repr__(self) -> str:
        return f"Instr({format_instr(self)!r})"

    def encode(self) -> bytes:
        bits = int(self.opcode)  # the opcode field is bits 0..3 of word 0
        values = self.values
        for name, mask, shift in _layout(self.opcode):
            bits |= (values[name] & mask) << shift
        return bits.to_bytes(INSTR_BYTES, "little")  # little-endian words, word 0 first


@cache
def _table(op: Opcode) -> tuple[dict[str, Field], dict[str, int]]:
    """The opcode's fields by name (without the opcode field) and their defaults: built once per opcode, since
    compilers build instructions by the million."""
    fields = {f.name: f for f in fields_of(op) if f.name != "opcode"}
    return fields, {name: f.default for name, f in fields.items()}


@cache
def _layout(op: Opcode) -> tuple[tuple[str, int, int], ...]:
    """(name, mask, bit offset in the whole instruction) of every field but the opcode, for encode."""
    return tuple((f.name, f.mask, f.bit_offset) for f in _table(op)[0].values())


@cache
def _bounds(op: Opcode) -> dict[str, tuple[int, int]]:
    """Smallest and largest value of each field."""
    return {name: (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.signed else (0, f.mask)
            for name, f in _table(op)[0].items()}


def _checked(op: Opcode, fields: dict[str, Field], values: dict[str, int | str]) -> dict[str, int]:
    """`values` as ints (enum names resolved, as in the text form), each checked against its field's width."""
    out, bounds = {}, _bounds(op)
    for name, raw in values.items():
        if type(raw) is int:  # the common case, skipping the conversions below
            value = raw
        elif isinstance(raw, str):
            value = _parse_value(fields[name], raw, op.name.lower())
        else:
            value = int(raw)
        lo, hi = bounds[name]
        if not lo <= value <= hi:
            raise AsmError(f"{op.name.lower()}: field {name}={value} does not fit in {fields[name].width} bits")
        out[name] = value
    return out


def _opcode(opcode: Opcode | str) -> Opcode:
    if isinstance(opcode, Opcode):
        return opcode
    try:
        return Opcode[str(opcode).upper()]
    except KeyError:
        raise AsmError(f"unknown instruction {opcode!r}; known: {[o.name.lower() for o in Opcode]}") from None


def decode(word_bytes: bytes, index: int = 0, isa_minor: int = ISA_VERSION[1]) -> Instr:
    """Decode one 32-byte instruction as a device of ISA 1.`isa_minor` does; raise DecodeError for an illegal
    opcode (including one a later minor added) or a set reserved bit (including a later minor's field)."""
    if len(word_bytes) != INSTR_BYTES:
        raise DecodeError(
            f"instruction {index}: need {INSTR_BYTES} bytes, got {len(word_bytes)}", index, "length"
        )
    words = struct.unpack(f"<{INSTR_WORDS}I", word_bytes)
    try:
        op = Opcode(words[0] & 0xF)
    except ValueError:
        raise DecodeError(f"instruction {index}: illegal opcode {words[0] & 0xF}", index, "opcode") from None
    if OPCODE_MINOR.get(op, 0) > isa_minor:
        raise DecodeError(f"instruction {index}: illegal opcode {int(op)} ({op.name.lower()} is ISA "
                          f"1.{OPCODE_MINOR[op]}, the device implements 1.{isa_minor})", index, "opcode")
    for w, (word, reserved) in enumerate(zip(words, reserved_masks(op, isa_minor), strict=True)):
        if word & reserved:
            raise DecodeError(
                f"instruction {index} ({op.name.lower()}): reserved bits 0x{word & reserved:08x} set in word {w}",
                index,
                "reserved",
            )
    values = {}
    for field in fields_of(op):
        if field.name == "opcode":
            continue
        raw = (words[field.word] >> field.lsb) & field.mask
        if field.signed and raw >> (field.width - 1):
            raw -= 1 << field.width
        values[field.name] = raw
    return Instr(op, **values)


def required_minor(program: Iterable[Instr]) -> int:
    """The ISA minor a program needs: 1 if any instruction uses a 1.1 addition (new opcode, LOAD dst=lutw, a
    1.1 field such as STORE lane_stride, GEMM wzp_en/bias_en, REQUANT row_scale set nonzero), else 0."""
    return max((instr_minor(i.opcode, i.values) for i in program), default=0)


def assemble(program: Iterable[Instr]) -> bytes:
    """Encode a sequence of instructions into a code image."""
    return b"".join(instr.encode() for instr in program)


def disassemble(code: bytes) -> list[Instr]:
    """Decode a whole code image (its length must be a multiple of 32 bytes)."""
    if len(code) % INSTR_BYTES:
        raise DecodeError(
            f"code length {len(code)} is not a multiple of {INSTR_BYTES}", len(code) // 32, "length"
        )
    return [decode(code[i : i + INSTR_BYTES], i // INSTR_BYTES) for i in range(0, len(code), INSTR_BYTES)]


# ---------------------------------------------------------------------------------------------- text form


def _field_text(field: Field, value: int) -> str:
    if field.enum is not None:
        try:
            return f"{field.name}={field.enum(value).name.lower()}"
        except ValueError:
            return f"{field.name}={value}"
    if field.width == 1 and field.name.startswith(("pop_", "push_")):
        return field.name
    return f"{field.name}={value}"


def format_instr(instr: Instr) -> str:
    """Text form of one instruction; fields at their default value are left out."""
    parts = [instr.opcode.name.lower()]
    for field in fields_of(instr.opcode):
        if field.name == "opcode":
            continue
        value = instr.values[field.name]
        if value != field.default:
            parts.append(_field_text(field, value))
    return " ".join(parts)


def format_program(program: Iterable[Instr], numbered: bool = False) -> str:
    lines = (format_instr(i) for i in program)
    if numbered:
        lines = (f"{n:6d}: {line}" for n, line in enumerate(lines))
    return "\n".join(lines) + "\n"


def _parse_value(field: Field, text: str, where: str) -> int:
    if field.enum is not None and not text.lstrip("-").isdigit():
        try:
            return int(field.enum[text.upper()])
        except KeyError:
            names = [e.name.lower() for e in field.enum]
            raise AsmError(f"{where}: {field.name}={text!r} is not one of {names}") from None
    try:
        return int(text, 0)
    except ValueError:
        raise AsmError(f"{where}: {field.name}={text!r} is not an integer") from None


def parse_line(line: str, where: str = "line") -> Instr | None:
    """Parse one line of assembly (comments start with ';' or '#'); None for a blank line."""
    text = line.split(";", 1)[0].split("#", 1)[0].strip()
    if not text:
        return None
    mnemonic, *args = text.split()
    try:
        op = _opcode(mnemonic)
    except AsmError as exc:
        raise AsmError(f"{where}: {exc}") from None
    fields = {f.name: f for f in fields_of(op)}
    values: dict[str, int] = {}
    for arg in args:
        name, eq, value_text = arg.partition("=")
        field = fields.get(name)
        if field is None or name == "opcode":
            raise AsmError(f"{where}: {mnemonic} has no field {name!r}")
        if name in values:
            raise AsmError(f"{where}: field {name!r} given twice")
        values[name] = _parse_value(field, value_text, where) if eq else 1
    try:
        return Instr(op, **values)
    except AsmError as exc:
        raise AsmError(f"{where}: {exc}") from None


def parse_program(text: str) -> list[Instr]:
    """Parse assembly text, one instruction per line.

    A line ends at '\n' and nowhere else (docs/isa.md, "Text form"): form feeds, '\r', '\v', U+2028 and the
    other characters `str.splitlines` also breaks at are whitespace inside a line, so error line numbers agree
    with what editors and `grep -n` count.
    """
    return [
        i for n, line in enumerate(text.split("\n"), 1) if (i := parse_line(line, f"line {n}")) is not None
    ]


def iter_code(code: bytes) -> Iterator[tuple[int, bytes]]:
    """(index, 32 bytes) for each instruction slot of a code image."""
    for i in range(0, len(code) - len(code) % INSTR_BYTES, INSTR_BYTES):
        yield i // INSTR_BYTES, code[i : i + INSTR_BYTES]
