"""The CLI's last-resort handling: usage errors exit 2 with Typer's message, bugs exit 70 with one line and a
hint, NuxErrors exit 1 with one line; never a traceback unless NUX_TRACEBACK asks for it."""

from __future__ import annotations

import pytest
from nux.cli import EXIT_BUG, EXIT_ERROR, EXIT_USAGE, TRACEBACK_VARIABLE, enf_tools, main


@pytest.mark.parametrize("argv", [["nosuch"], ["inspect", "--bogus", "x.enf"], ["disasm"]])
def test_usage_errors_exit_2_without_traceback(capsys, argv):
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Error:" in err and "Traceback" not in err


@pytest.mark.parametrize("error", [ZeroDivisionError("division by zero"), MemoryError(), KeyError("x"),
                                   ValueError("raw\nsecond line")])
def test_unexpected_errors_are_one_line_and_a_hint(monkeypatch, capsys, tmp_path, error):
    def broken(data, disasm=False):
        raise error

    monkeypatch.setattr(enf_tools, "inspect_report", broken)
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    (tmp_path / "a.enf").write_bytes(b"x")
    assert main(["inspect", str(tmp_path / "a.enf")]) == EXIT_BUG
    first, hint = capsys.readouterr().err.splitlines()
    assert first.startswith(f"nux: internal error: {type(error).__name__}")
    assert "second line" not in first
    assert hint.startswith("nux: hint: this is a bug in nux") and TRACEBACK_VARIABLE in hint


def test_traceback_on_request(monkeypatch, tmp_path):
    def broken(data, disasm=False):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(enf_tools, "inspect_report", broken)
    monkeypatch.setenv(TRACEBACK_VARIABLE, "1")
    (tmp_path / "a.enf").write_bytes(b"x")
    with pytest.raises(ZeroDivisionError, match="boom"):
        main(["inspect", str(tmp_path / "a.enf")])


def test_nux_errors_are_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    (tmp_path / "a.enf").write_bytes(b"x")
    assert main(["inspect", str(tmp_path / "a.enf")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("nux: error:") and "bad magic" in err and err.count("\n") == 1
