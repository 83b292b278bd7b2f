"""Artefacts generated from the encoding tables stay in sync with them."""

import subprocess
import sys

from nux.isa import NPU_ID, REG, ErrorCode, Opcode
from nux.isa.docgen import c_header


def test_isa_doc_tables_are_fresh():
    result = subprocess.run(
        [sys.executable, "-m", "nux.isa.docgen", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_c_header_has_every_register_opcode_and_error():
    header = c_header()
    for name, offset in REG.items():
        assert f"#define NUX_REG_{name} 0x{offset:03X}u" in header
    for op in Opcode:
        assert f"#define NUX_OP_{op.name} {int(op)}" in header
    for code in ErrorCode:
        assert f"#define NUX_ERR_{code.name} {int(code)}" in header
    assert f"0x{NPU_ID:08X}u" in header
