"""`nux inspect`: the report of a valid ENF, and one-line errors with exit code 1 for bad files."""

from __future__ import annotations

import pytest
from enf_samples import minimal_enf, sample_enf
from nux.cli import main
from nux.enf import save_enf, write_enf
from nux.isa import disassemble, format_program


@pytest.fixture
def sample_path(tmp_path):
    path = tmp_path / "sample.enf"
    save_enf(sample_enf(), path)
    return path


def test_inspect_reports_everything(sample_path, capsys):
    assert main(["inspect", str(sample_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"ENF format 1.0, ISA 1.0, {sample_path.stat().st_size} bytes")
    for expected in [
        "target: dim=8 sp_rows=512 acc_rows=256 axi_data_bits=64 dram_addr_bits=32 cmdq_depth=4",
        "sections (10):",
        "memory plan: arena 16384 bytes; consts 512 bytes at arena offset 512",
        "programs (3):",
        "tensors (6):",
        "host graphs (2):",
        "steps (STEPS section): npu 0 -> host 0 -> npu 1 -> host 1 -> npu 2 -> npu 0",
        '"compiler": "nux-test"',
    ]:
        assert expected in out, expected
    lines = out.splitlines()
    assert any(line.split()[:5] == ["0", "conv1", "0", "128", "4"] for line in lines)  # program row
    row = next(line.split() for line in lines if line.split()[:1] == ["input"])
    assert row == ["input", "input", "int8", "nhwc", "1x3x8x8", "4096", "192", "0.0078125", "-1"]
    assert "disassembly" not in out


def test_inspect_disasm_prints_every_program(sample_path, capsys):
    assert main(["inspect", "--disasm", str(sample_path)]) == 0
    out = capsys.readouterr().out
    for index, program in enumerate(sample_enf().programs):
        listing = format_program(disassemble(program.code), numbered=True)
        assert listing in out, index
    assert "program 0 (conv1) disassembly:" in out and "program 2 disassembly:" in out


def test_inspect_minimal_uses_default_steps(tmp_path, capsys):
    path = tmp_path / "min.enf"
    save_enf(minimal_enf(), path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "steps (default: programs in order): npu 0" in out
    assert "host graphs" not in out and "meta:" not in out


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum mismatch"),
        (lambda b: b[:100], "file truncated: header says"),
        (lambda b: b"hello", "not an ENF file: bad magic"),
    ],
)
def test_inspect_bad_file_is_one_line_error(tmp_path, capsys, damage, fragment):
    path = tmp_path / "bad.enf"
    path.write_bytes(damage(write_enf(sample_enf())))
    assert main(["inspect", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"nux: error: {path}: ") and fragment in err


def test_inspect_missing_file(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.enf")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nux: error:") and "nope.enf" in err
