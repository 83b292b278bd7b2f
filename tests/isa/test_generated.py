"""Artefacts generated from the encoding and register tables stay in sync with them: docs/isa.md is fresh, and the
C header compiles and says exactly what nux.isa says (a C program built on it prints every fact it holds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cbuild import compile_c
from nux.isa import (
    CONFIG_FIELDS,
    MMIO_ADDR_BITS,
    MMIO_SIZE,
    NPU_ID,
    PERF_COUNTERS,
    REG,
    REGISTERS,
    STATUS,
    TASK_FIELDS,
    VERSION,
    ErrorCode,
    Opcode,
)
from nux.isa.headers import c_header, verilog_header

HERE = Path(__file__).parent


def test_isa_doc_tables_are_fresh():
    result = subprocess.run(
        [sys.executable, "-m", "nux.isa.docgen", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("flag, generator", [("--c-header", c_header), ("--verilog-header", verilog_header)])
def test_docgen_prints_the_headers(flag, generator):
    result = subprocess.run([sys.executable, "-m", "nux.isa.docgen", flag], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == generator()


def test_c_header_has_every_register_opcode_and_error():
    header = c_header()
    for name, offset in REG.items():
        assert f"#define NUX_REG_{name} 0x{offset:03X}u" in header
    for op in Opcode:
        assert f"#define NUX_OP_{op.name} {int(op)}" in header
    for code in ErrorCode:
        assert f"#define NUX_ERR_{code.name} {int(code)}" in header
    assert f"0x{NPU_ID:08X}u" in header


@pytest.fixture(scope="module")
def isa_dump(tmp_path_factory) -> Path:
    """isa_dump.c built against the freshly generated header."""
    return compile_c(HERE / "isa_dump.c", {"nux_isa.h": c_header()}, tmp_path_factory.mktemp("isa_dump"))


def expected_dump(status: int) -> list[str]:
    """What isa_dump prints, computed from the Python declarations."""
    lines = [f"id {NPU_ID} version {VERSION.value} mmio {MMIO_SIZE} {MMIO_ADDR_BITS} perf_count {len(PERF_COUNTERS)}"]
    lines += [f"reg {r.name} {r.offset}" for r in REGISTERS]
    lines += [f"field {r.name} {f.name} {f.lsb} {f.width} {f.mask}" for r in REGISTERS for f in r.fields]
    lines += [f"cfg {field} {r.offset}" for field, r in CONFIG_FIELDS.items()]
    lines += [f"task {name} {r.task[1]} {r.offset}" for name, regs in TASK_FIELDS.items() for r in regs]
    lines += [f"perf {c.name} {c.offset} {int(c.deterministic)}" for c in PERF_COUNTERS]
    lines.append("status " + " ".join(str(v) for v in STATUS.decode(status).values()))
    queued = STATUS.field("QUEUED")
    put = STATUS.encode(ERROR_CODE=ErrorCode.BUS_ERROR, ERROR=1) | (300 << queued.lsb) & queued.mask  # PUT masks
    return lines + [f"put {put}"]


@pytest.mark.parametrize("status", [0, 0x00030803, 0xFFFFFFFF])
def test_c_header_says_what_nux_isa_says(isa_dump, status):
    out = subprocess.run([str(isa_dump), hex(status)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == expected_dump(status)
