"""A human-readable report of an ENF file (what `nux inspect` prints)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from nux.enf.format import read_enf
from nux.enf.layout import HEADER, SECTION, SectionKind
from nux.enf.model import Enf
from nux.isa import INSTR_BYTES, disassemble, format_program


def inspect_report(data: bytes, disasm: bool = False) -> str:
    """Everything an ENF holds, as text; raises EnfError (from read_enf) when the file is invalid."""
    enf = read_enf(data)
    view = memoryview(data)
    header = HEADER.unpack(view, 0, "header")
    out = [
        f"ENF format {header['version_major']}.{header['version_minor']}, ISA "
        f"{header['isa_version_major']}.{header['isa_version_minor']}, {len(data)} bytes, "
        f"checksum 0x{header['checksum']:08x}",
        "target: " + " ".join(f"{k}={v}" for k, v in enf.config.to_dict().items()),
        "",
        _sections(view, header),
        "",
        _memory_plan(enf),
        "",
        _programs(enf),
        "",
        _tensors(enf),
    ]
    if enf.host_graphs:
        out += ["", _host_graphs(enf)]
    out += ["", _steps(enf)]
    if enf.meta:
        out += ["", "meta:", json.dumps(enf.meta, indent=2, sort_keys=True, ensure_ascii=False)]
    if disasm:
        for i, program in enumerate(enf.programs):
            title = f"program {i}" + (f" ({program.name})" if program.name else "")
            out += ["", f"{title} disassembly:", format_program(disassemble(program.code), numbered=True).rstrip()]
    return "\n".join(out) + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """Left-aligned text columns."""
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _sections(view: memoryview, header: dict) -> str:
    rows = []
    for i in range(header["section_count"]):
        e = SECTION.unpack(view, header["section_table_offset"] + i * SECTION.size, f"section {i}")
        kind = SectionKind(e["kind"]).name if e["kind"] in SectionKind.__members__.values() else hex(e["kind"])
        rows.append((i, kind, e["offset"], e["size"]))
    return f"sections ({len(rows)}):\n" + table(("#", "kind", "offset", "size"), rows)


def _memory_plan(enf: Enf) -> str:
    used = sum(len(p.code) for p in enf.programs) + len(enf.consts)
    return (
        f"memory plan: arena {enf.arena_size} bytes; consts {len(enf.consts)} bytes at arena offset "
        f"{enf.const_offset}; code + consts {used} bytes"
    )


def _programs(enf: Enf) -> str:
    rows = [
        (i, p.name or "-", p.offset, len(p.code), len(p.code) // INSTR_BYTES) for i, p in enumerate(enf.programs)
    ]
    return f"programs ({len(rows)}):\n" + table(("#", "name", "offset", "bytes", "instructions"), rows)


def _tensors(enf: Enf) -> str:
    rows = [
        (
            t.name, t.role.name.lower(), t.dtype.name.lower(), t.layout.name.lower(),
            "x".join(map(str, t.shape)) or "scalar", t.offset, t.size, f"{t.scale:.9g}", t.zero_point,
        )
        for t in enf.tensors
    ]
    headers = ("name", "role", "dtype", "layout", "shape", "offset", "size", "scale", "zero_point")
    return f"tensors ({len(rows)}):\n" + table(headers, rows)


def _host_graphs(enf: Enf) -> str:
    rows = [(i, len(g.onnx), ", ".join(g.inputs) or "-", ", ".join(g.outputs)) for i, g in enumerate(enf.host_graphs)]
    return f"host graphs ({len(rows)}):\n" + table(("#", "onnx bytes", "inputs", "outputs"), rows)


def _steps(enf: Enf) -> str:
    order = " -> ".join(f"{s.kind.name.lower()} {s.index}" for s in enf.run_steps())
    source = "STEPS section" if enf.steps else "default: programs in order"
    return f"steps ({source}): {order or 'none'}"
