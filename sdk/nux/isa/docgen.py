"""Generates the reference tables of docs/isa.md from the encoding and register tables.

`python -m nux.isa.docgen --check` fails when docs/isa.md is stale; `--write` refreshes it in place;
`--c-header` / `--verilog-header` print nux_isa.h / nux_isa.vh (nux.isa.headers).
"""

from __future__ import annotations

import sys
from pathlib import Path

from nux.generated_docs import docgen_main
from nux.isa.encoding import ERROR_DOCS, ISA_VERSION, OPCODE_MINOR, QUEUE_OF, ErrorCode, Opcode, fields_of
from nux.isa.headers import c_header, verilog_header
from nux.isa.registers import PERF_COUNTERS, REGISTERS, BitField

DOC = Path(__file__).resolve().parents[3] / "docs" / "isa.md"


def _bits(lsb: int, width: int) -> str:
    return f"[{lsb + width - 1}:{lsb}]" if width > 1 else f"[{lsb}]"


def _instruction_tables() -> list[str]:
    out = ["### Opcodes", "", "| opcode | value | queue | since |", "|---|---|---|---|"]
    for op in Opcode:
        queue = QUEUE_OF[op]
        out.append(f"| {op.name} | {int(op)} | {queue.name.lower() if queue is not None else 'see text'} | "
                   f"{ISA_VERSION[0]}.{OPCODE_MINOR.get(op, 0)} |")
    for op in Opcode:
        out += ["", f"### {op.name} fields", "", "| field | word | bits | default | meaning |", "|---|---|---|---|---|"]
        for f in fields_of(op):
            doc = f.doc
            if f.enum is not None:
                values = [e for e in f.enum if int(e) < 1 << f.width]
                doc += " (" + ", ".join(f"{e.name.lower()}={int(e)}" for e in values) + ")"
            if f.minor:
                doc += f" (ISA {ISA_VERSION[0]}.{f.minor})"
            out.append(f"| {f.name} | {f.word} | {_bits(f.lsb, f.width)} | {f.default} | {doc} |")
    out += ["", "### Error codes", "", "| code | value | meaning |", "|---|---|---|"]
    out += [f"| {e.name} | {int(e)} | {ERROR_DOCS[e]} |" for e in ErrorCode]
    return out


def _field_doc(f: BitField) -> str:
    return f.doc + (f" ({f.enum.__name__}, see Error codes)" if f.enum is not None else "")


def _register_tables() -> list[str]:
    out = ["", "### Registers", "", "| register | offset | access | meaning |", "|---|---|---|---|"]
    for r in REGISTERS:
        value = f" (reads 0x{r.value:08X})" if r.value is not None and r.fields else ""
        out.append(f"| {r.name} | 0x{r.offset:03X} | {r.access.value} | {r.doc}{value} |")
    out += ["", "### Register fields (bits not listed read 0)", "", "| register | field | bits | meaning |",
            "|---|---|---|---|"]
    out += [f"| {r.name} | {f.name} | {_bits(f.lsb, f.width)} | {_field_doc(f)} |" for r in REGISTERS for f in r.fields]
    out += ["", "### Performance counters (64-bit: LO at offset, HI at offset + 4)", ""]
    out += ["| counter | offset | deterministic | meaning |", "|---|---|---|---|"]
    out += [f"| {c.name} | 0x{c.offset:03X} | {'yes' if c.deterministic else 'no'} | {c.doc} |" for c in PERF_COUNTERS]
    return out


def markdown_tables() -> str:
    return "\n".join(_instruction_tables() + _register_tables()) + "\n"


def main(argv: list[str] | None = None) -> int:
    return docgen_main(argv, module="nux.isa.docgen", doc=DOC, tables=markdown_tables, c_header=c_header,
                       verilog_header=verilog_header)


if __name__ == "__main__":
    sys.exit(main())
