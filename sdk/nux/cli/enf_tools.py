"""`nux inspect FILE.enf [--disasm]`: what an ENF executable holds, or one line saying why it is invalid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nux.enf import EnfError, read_enf
from nux.enf.report import inspect_report


def inspect_command(
    path: Annotated[Path, typer.Argument(help="ENF executable", metavar="FILE.enf")],
    disasm: Annotated[bool, typer.Option("--disasm", help="also print each program's numbered disassembly")] = False,
) -> None:
    """Print an ENF's format version, target config, sections, memory plan, programs, tensors, host graphs,
    steps and meta."""
    data = path.read_bytes()
    try:
        report = inspect_report(data, disasm=disasm)
    except EnfError as exc:
        raise EnfError(f"{path}: {exc}") from None
    typer.echo(report, nl=False)
    layers = read_enf(data).meta.get("report")
    if isinstance(layers, dict) and "layers" in layers:  # written by nux compile
        from nux.compiler import format_table

        typer.echo("\nlayers (compile report)\n" + format_table(layers))


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)
