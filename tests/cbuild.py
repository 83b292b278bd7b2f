"""Compiling a small C test program against generated headers (nux_isa.h, nux_enf.h): the proof that a header is
enough for C code. A C compiler is part of the toolchain anyway (Verilator needs one)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def compile_c(source: Path, headers: dict[str, str], build: Path) -> Path:
    """Write `headers` (file name -> text) into `build` and compile `source` there, every warning an error."""
    for name, text in headers.items():
        (build / name).write_text(text)
    exe = build / source.stem
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler on PATH (Verilator needs one too)"
    result = subprocess.run(
        [cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{build}", str(source), "-o", str(exe)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return exe
