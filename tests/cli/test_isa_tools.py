"""`nux asm` / `nux disasm` round trip; errors print one line and exit 1."""

from __future__ import annotations

import pytest
from nux.cli import main
from nux.isa import Instr, assemble

SOURCE = """\
; a small program
load dst=acc x_size=4 x_stride=32 push_next   # tokens too
gemm preload=1 a_signed w_signed x_size=8 pop_prev
requant out_signed clamp_lo=0 n_rows=8
store src=sp x_size=8 x_stride=8
end
"""


def test_asm_disasm_round_trip(tmp_path, capsys):
    src = tmp_path / "prog.s"
    src.write_text(SOURCE)
    assert main(["asm", str(src)]) == 0
    image = (tmp_path / "prog.bin").read_bytes()
    assert len(image) == 5 * 32
    assert "prog.bin: 5 instructions, 160 bytes" in capsys.readouterr().out
    assert image[:32] == Instr("load", dst=1, x_size=4, x_stride=32, push_next=1).encode()

    assert main(["disasm", str(tmp_path / "prog.bin"), "-o", str(tmp_path / "back.s")]) == 0
    assert main(["asm", str(tmp_path / "back.s"), "-o", str(tmp_path / "back.bin")]) == 0
    assert (tmp_path / "back.bin").read_bytes() == image
    capsys.readouterr()

    assert main(["disasm", "--numbered", str(tmp_path / "prog.bin")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "     0: load push_next dst=acc x_size=4 x_stride=32"
    assert lines[-1] == "     4: end"


@pytest.mark.parametrize(
    "args, content, message",
    [
        (["asm"], "bogus x=1\n", "prog: line 1: unknown instruction 'bogus'"),
        (["asm"], "nop\r\x0c\u2028\nend\rbogus\n", "prog: line 2: end has no field 'bogus'"),
        (["asm"], b"nop\n\xff\n", "prog: not UTF-8 text (byte 0xff at offset 4)"),
        (["asm"], "load nosuchfield=1\n", "line 1: load has no field 'nosuchfield'"),
        (["disasm"], b"\x01" * 33, "code length 33 is not a multiple of 32"),
        (["disasm"], bytes(32), "illegal opcode 0"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, args, content, message):
    path = tmp_path / "prog"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main([*args, str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nux: error: ") and message in err and err.count("\n") == 1


def test_disasm_of_assembled_bytes(tmp_path, capsys):
    path = tmp_path / "x.bin"
    path.write_bytes(assemble([Instr("sync"), Instr("end")]))
    assert main(["disasm", str(path)]) == 0
    assert capsys.readouterr().out == "sync\nend\n"
