"""libnux builds from the installed sources with the system compiler, is cached by content, and `nux config`
prints flags that build and link a program against it with nothing else on the command line."""

from __future__ import annotations

import shutil
import subprocess

from clib_rig import PROGRAMS
from nux import clib
from nux.cli import main


def test_build_is_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("NUX_CLIB_CACHE", str(tmp_path / "cache"))
    first = clib.build()
    assert first.library.is_file() and (first.include / "nux.h").is_file()
    assert not list(first.include.glob("nux_isa.h"))  # generated headers stay private to the build
    stamp = first.library.stat().st_mtime_ns
    assert clib.build() == first and first.library.stat().st_mtime_ns == stamp  # cached, not rebuilt
    assert clib.build(sanitize=True).root != first.root


def test_decode_header_carries_every_opcode_mask():
    from nux.isa import Opcode, reserved_masks

    header = clib.decode_header()
    for op in Opcode:
        assert "{" + ", ".join(f"0x{m:08X}u" for m in reserved_masks(op)) + "}" in header


def test_nux_config_flags_build_an_example(tmp_path, capsys):
    assert main(["config", "--cflags", "--libs"]) == 0
    flags = capsys.readouterr().out.split()
    assert any(f.startswith("-I") for f in flags) and "-lnux" in flags
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path / "sync_model"
    result = subprocess.run([cc, "-std=c11", str(PROGRAMS["sync_model"]), "-o", str(exe), *flags],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    usage = subprocess.run([str(exe)], capture_output=True, text=True)  # runs: the rpath finds libnux.so
    assert usage.returncode == 2 and "usage:" in usage.stderr
