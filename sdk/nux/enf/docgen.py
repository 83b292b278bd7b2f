"""Generates the record tables of docs/enf.md and the C header `nux_enf.h` from the layout tables (layout.py).

`python -m nux.enf.docgen --check` fails when docs/enf.md is stale; `--write` refreshes it in place;
`--c-header` prints the header (packed structs with static size asserts) for libnux.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path

from nux.enf import layout
from nux.enf.layout import C_TYPES, RECORDS, SECTION_COUNTS, SECTION_DOCS, Member, Record, SectionKind
from nux.enf.model import DType, Enf, Layout, Program, Step, StepKind, TensorInfo, TensorRole
from nux.generated_docs import docgen_main
from nux.isa import Instr, NpuConfig, assemble, decode, format_instr

DOC = Path(__file__).resolve().parents[3] / "docs" / "enf.md"
ENUMS: tuple[type[enum.IntEnum], ...] = (SectionKind, TensorRole, DType, Layout, StepKind)
LIMITS = ("ALIGN", "MAX_SECTIONS", "MAX_TENSORS", "MAX_STEPS", "MAX_HOST_EDGES", "MAX_NAME_BYTES", "MAX_RANK",
          "MAX_ARENA_SIZE", "OPTIONAL_KIND_BASE", "REQUIRED_FLAGS_MASK")


def _c_decl(member: Member) -> tuple[str, str]:
    """(C type, declarator) of a member: arrays for `8s`, `8I` and reserved `Nx`."""
    count = member.code[:-1]
    base = member.code[-1]
    if base in ("s", "x"):
        return "uint8_t", f"{member.name}[{count}]"
    return C_TYPES[base], f"{member.name}[{count}]" if count else member.name


def _record_table(record: Record) -> list[str]:
    out = [f"### {record.name} ({record.size} bytes)", "", record.doc[0].upper() + record.doc[1:] + ".", ""]
    out += ["| offset | size | field | C type | meaning |", "|---|---|---|---|---|"]
    for m in record.members:
        ctype, decl = _c_decl(m)
        out.append(f"| {record.offsets[m.name]} | {m.size} | {decl} | {ctype} | {m.doc} |")
    return out + [""]


def markdown_tables() -> str:
    out = ["### Section kinds", "", "| kind | value | count | contents |", "|---|---|---|---|"]
    for kind in SectionKind:
        low, high = SECTION_COUNTS[kind]
        count = f"{low}" if low == high else f"{low}..{'n' if high == layout.MAX_SECTIONS else high}"
        out.append(f"| {kind.name} | {int(kind)} | {count} | {SECTION_DOCS[kind]} |")
    out.append("")
    for record in RECORDS:
        out += _record_table(record)
    out += ["### Enumerations", "", "| enum | name | value |", "|---|---|---|"]
    for e in ENUMS:
        out += [f"| {e.__name__} | {m.name} | {int(m)} |" for m in e]
    out += ["", "### Limits", "", "| name | value |", "|---|---|"]
    out += [f"| {name} | {getattr(layout, name)} |" for name in LIMITS]
    return "\n".join(out + [""] + annotated_example()) + "\n"


def example_enf() -> Enf:
    """The small ENF dumped in docs/enf.md: one two-instruction program, one input, one output, a step, meta."""
    return Enf(
        config=NpuConfig(dim=4, sp_rows=256, acc_rows=128),
        programs=[Program(assemble([Instr("load", dram_offset=64, x_size=1), Instr("end")]), 0, "p")],
        tensors=[
            TensorInfo("x", TensorRole.INPUT, DType.INT8, (1, 4), 64, 4, 0.5, -1),
            TensorInfo("y", TensorRole.OUTPUT, DType.INT8, (1, 4), 68, 4, 0.25, 0),
        ],
        arena_size=128,
        steps=[Step(StepKind.NPU, 0)],
        meta={"note": "example"},
    )


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data) if len(data) <= 16 else " ".join(f"{b:02x}" for b in data[:16]) + " …"


def annotated_example() -> list[str]:
    """Every byte of example_enf()'s file, field by field, as a table."""
    from nux.enf.format import write_enf

    image = write_enf(example_enf())
    view = memoryview(image)
    rows: list[tuple[int, bytes, str, str]] = []

    def record(rec: Record, at: int, label: str) -> int:
        values = rec.unpack(view, at, label)
        for m in rec.members:
            start = at + rec.offsets[m.name]
            value = "" if m.reserved else repr(values[m.name])
            rows.append((start, image[start : start + m.size], f"{label}.{m.name}", value))
        return at + rec.size

    def raw(at: int, end: int, label: str, value: str = "") -> None:
        if end > at:
            rows.append((at, image[at:end], label, value))

    header = layout.HEADER.unpack(view, 0, "header")
    record(layout.HEADER, 0, "HEADER")
    entries = []
    for i in range(header["section_count"]):
        at = header["section_table_offset"] + i * layout.SECTION.size
        entries.append(layout.SECTION.unpack(view, at, "section"))
        record(layout.SECTION, at, f"SECTION[{i}]")
    cursor = header["section_table_offset"] + header["section_count"] * layout.SECTION.size
    for entry in entries:
        raw(cursor, entry["offset"], "padding")
        at, end, kind = entry["offset"], entry["offset"] + entry["size"], SectionKind(entry["kind"])
        if kind == SectionKind.MEMPLAN:
            at = record(layout.MEMPLAN, at, "MEMPLAN")
        elif kind == SectionKind.TENSORS:
            count = layout.TENSORS_HEADER.unpack(view, at, "tensors")["count"]
            at = record(layout.TENSORS_HEADER, at, "TENSORS_HEADER")
            for i in range(count):
                at = record(layout.TENSOR, at, f"TENSOR[{i}]")
            raw(at, end, "name pool", repr(image[at:end].decode()))
        elif kind == SectionKind.CODE:
            code = layout.CODE_HEADER.unpack(view, at, "code")
            at = record(layout.CODE_HEADER, at, "CODE_HEADER")
            raw(at, at + code["name_len"], "program name", repr(image[at : at + code["name_len"]].decode()))
            code_at = entry["offset"] + layout.align(layout.CODE_HEADER.size + code["name_len"])
            raw(at + code["name_len"], code_at, "padding")
            for i in range(code_at, end, 32):
                raw(i, i + 32, f"instruction {(i - code_at) // 32}", f"`{format_instr(decode(image[i : i + 32]))}`")
        elif kind == SectionKind.STEPS:
            count = layout.STEPS_HEADER.unpack(view, at, "steps")["count"]
            at = record(layout.STEPS_HEADER, at, "STEPS_HEADER")
            for i in range(count):
                at = record(layout.STEP, at, f"STEP[{i}]")
        elif kind == SectionKind.META:
            raw(at, end, "META", repr(image[at:end].decode()))
        cursor = end
    out = [f"### Annotated example ({len(image)} bytes)", "",
           "`nux.enf.docgen.example_enf()`: dim 4, one program `p` (load, end), tensors `x` and `y`, one step, meta.",
           "", "| offset | bytes | field | value |", "|---|---|---|---|"]
    out += [f"| {at} | `{_hex(data)}` | {label} | {value} |" for at, data, label, value in rows]
    return out


def c_header() -> str:
    lines = [
        "/* Generated by nux.enf.docgen from nux/enf/layout.py; do not edit. Little-endian. */",
        "#ifndef NUX_ENF_H",
        "#define NUX_ENF_H",
        "#include <stdint.h>",
        "",
        'static const uint8_t NUX_ENF_MAGIC[8] = {' + ", ".join(f"0x{b:02X}" for b in layout.MAGIC) + "};",
        f"#define NUX_ENF_VERSION_MAJOR {layout.FORMAT_VERSION[0]}",
        f"#define NUX_ENF_VERSION_MINOR {layout.FORMAT_VERSION[1]}",
        f"#define NUX_ENF_CHECKSUM_OFFSET {layout.HEADER.offsets['checksum']}",
    ]
    lines += [f"#define NUX_ENF_{name} {getattr(layout, name)}u" for name in LIMITS]
    for e in ENUMS:
        prefix = "NUX_ENF_" + {"SectionKind": "SECTION", "TensorRole": "ROLE", "DType": "DTYPE",
                               "Layout": "LAYOUT", "StepKind": "STEP"}[e.__name__]
        lines += [f"#define {prefix}_{m.name} {int(m)}" for m in e]
    lines += ["", "#pragma pack(push, 1)"]
    for record in RECORDS:
        name = f"nux_enf_{record.name.lower()}_t"
        lines.append(f"typedef struct {{  /* {record.doc} */")
        for m in record.members:
            ctype, decl = _c_decl(m)
            lines.append(f"    {ctype} {decl};")
        lines.append(f"}} {name};")
        lines.append(f'_Static_assert(sizeof({name}) == {record.size}, "{name} size");')
    lines += ["#pragma pack(pop)", "#endif", ""]
    return "\n".join(lines)




def main(argv: list[str] | None = None) -> int:
    return docgen_main(argv, module="nux.enf.docgen", doc=DOC, tables=markdown_tables, c_header=c_header)


if __name__ == "__main__":
    sys.exit(main())
