"""The generated C header is enough to read an ENF: a small C program (enf_dump.c) built on nux_enf.h prints what
it finds, and the lines must equal what the Python reader says. Also: docs/enf.md tables are fresh."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from cbuild import compile_c
from enf_samples import sample_enf
from nux.enf import Enf, save_enf
from nux.enf.docgen import c_header

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def enf_dump(tmp_path_factory) -> Path:
    """Build enf_dump.c against the freshly generated header."""
    return compile_c(HERE / "enf_dump.c", {"nux_enf.h": c_header()}, tmp_path_factory.mktemp("cdump"))


def expected_lines(enf: Enf) -> list[str]:
    """What enf_dump prints for `enf`, computed from the Python model, in the writer's section order."""
    c = enf.config
    names = {t.name: i for i, t in enumerate(enf.tensors)}
    lines = [f"config {c.dim} {c.sp_rows} {c.acc_rows} {c.axi_data_bits} {c.dram_addr_bits} {c.cmdq_depth}",
             f"memplan {enf.arena_size} {enf.const_offset} {len(enf.consts)}"]
    for t in enf.tensors:
        dims = "".join(f" {d}" for d in t.shape)
        lines.append(f"tensor {t.name} {int(t.role)} {int(t.dtype)} {int(t.layout)} {t.scale!r} "
                     f"{t.zero_point} {t.offset} {t.size}{dims}")
    if enf.consts:
        lines.append(f"const {len(enf.consts)} |{zlib.crc32(enf.consts)}")
    lines += [f"code {p.offset} {len(p.code)} {p.name}|{zlib.crc32(p.code)}" for p in enf.programs]
    for g in enf.host_graphs:
        edges = "".join(f" {names[n]}" for n in (*g.inputs, *g.outputs))
        lines.append(f"host {len(g.inputs)} {len(g.outputs)} {len(g.onnx)}{edges} |{zlib.crc32(g.onnx)}")
    lines += [f"step {int(s.kind)} {s.index}" for s in enf.steps]
    if enf.meta:
        lines.append("meta " + json.dumps(enf.meta, sort_keys=True, ensure_ascii=False, separators=(",", ":")))
    return lines


def test_c_reader_sees_what_python_wrote(enf_dump, tmp_path):
    enf = sample_enf()
    path = tmp_path / "sample.enf"
    save_enf(enf, path)
    result = subprocess.run([str(enf_dump), str(path)], capture_output=True, check=True)
    got = result.stdout.decode("utf-8").splitlines()
    # %.17g and repr can spell the same double differently; compare scales numerically
    for g, e in zip(got, expected_lines(enf), strict=True):
        if g.startswith("tensor "):
            gs, es = g.split(), e.split()
            assert float(gs[5]) == float(es[5]) and gs[:5] + gs[6:] == es[:5] + es[6:]
        else:
            assert g == e


def test_c_reader_rejects_a_corrupted_file(enf_dump, tmp_path):
    path = tmp_path / "bad.enf"
    save_enf(sample_enf(), path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))
    result = subprocess.run([str(enf_dump), str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == "error checksum\n"


def test_enf_doc_tables_are_fresh():
    result = subprocess.run([sys.executable, "-m", "nux.enf.docgen", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
