"""`nux config --cflags / --libs`: the flags to build C code against libnux (pkg-config style).

libnux is compiled on first use (nux.clib), so asking for the flags also builds it when the cache has no entry.
"""

from __future__ import annotations

from typing import Annotated

import typer


def config_command(
    cflags: Annotated[bool, typer.Option("--cflags", help="print the compiler flags (-I...)")] = False,
    libs: Annotated[bool, typer.Option("--libs", help="print the linker flags (-L... -lnux)")] = False,
    sanitize: Annotated[bool, typer.Option("--sanitize", help="the AddressSanitizer+UBSan build")] = False,
) -> None:
    """Print build flags for C programs that use libnux (`cc app.c $(nux config --cflags --libs)`)."""
    from nux.clib import build

    clib = build(sanitize)
    flags = (clib.cflags if cflags or not libs else []) + (clib.libs if libs else [])
    typer.echo(" ".join(dict.fromkeys(flags)))


def register(app: typer.Typer) -> None:
    app.command("config")(config_command)
