"""`nux asm` and `nux disasm`: the text assembly form <-> code images (nux.isa is the only encoder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nux.isa import AsmError, assemble, disassemble, format_program, parse_program

OutputOption = Annotated[Optional[Path], typer.Option("-o", "--output", help="file to write")]  # noqa: UP045


def asm(
    source: Annotated[Path, typer.Argument(help="assembly text, one instruction per line (';' or '#' comments)")],
    output: OutputOption = None,
) -> None:
    """Assemble a program into a code image (32 bytes per instruction; default output: SOURCE with .bin)."""
    try:
        code = assemble(parse_program(_read_source(source)))
    except AsmError as exc:
        raise AsmError(f"{source}: {exc}") from None
    target = output or source.with_suffix(".bin")
    target.write_bytes(code)
    typer.echo(f"{target}: {len(code) // 32} instructions, {len(code)} bytes")


def _read_source(source: Path) -> str:
    """The file as UTF-8 text, line ends untranslated: only '\n' ends a line (docs/isa.md, "Text form")."""
    data = source.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AsmError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def disasm(
    image: Annotated[Path, typer.Argument(help="code image (a multiple of 32 bytes)")],
    output: OutputOption = None,
    numbered: Annotated[bool, typer.Option("-n", "--numbered", help="prefix each line with its index")] = False,
) -> None:
    """Disassemble a code image into assembly text that `nux asm` turns back into the same bytes."""
    text = format_program(disassemble(image.read_bytes()), numbered=numbered)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


def register(app: typer.Typer) -> None:
    app.command("asm")(asm)
    app.command("disasm")(disasm)
