"""libnux next to the Python session: the C sync example gives the session's raw outputs bit for bit on `sim` for a
compiled conv net, and `nux bench` adds the C rows (or says why it cannot: golden, host fallbacks)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import nux.compiler
import nux.session
import pytest
from nux.cli import main
from nux.driver.tensors import decode, encode
from nux.enf import save_enf
from nux.isa import TEST_CONFIGS

CONFIG = TEST_CONFIGS[0]  # dim 4, the libnux tests' configuration: the fastest simulation
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conv_enf_file(npu_qdq, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("conv") / "conv.enf"
    save_enf(nux.compiler.compile(npu_qdq, CONFIG, isa_minor=0), path)  # the RTL implements ISA 1.0
    return path


@pytest.fixture(scope="module")
def sim_env() -> dict[str, str]:
    from nux.sim.build import build

    return {**os.environ, "NUX_DEVICE": "sim", "NUX_SIM_LIBRARY": str(build(CONFIG, progress=False).library)}


@pytest.mark.rtl
def test_c_sync_example_equals_the_python_session_bit_for_bit(conv_enf_file, sim_env, tmp_path):
    from nux.clib import compile_program

    x = np.random.default_rng(3).integers(-128, 128, (1, 2, 8, 8)).astype(np.int8)
    with nux.session.create(conv_enf_file, device="sim", progress=False) as sess:
        (expected,) = sess.run([x], raw=True)
        info_in, info_out = sess.inputs()[0].info, sess.outputs()[0].info
    assert expected.dtype == np.int8 and len(np.unique(expected)) > 8  # not a constant: the comparison means something
    (tmp_path / "x.bin").write_bytes(encode(info_in, x, CONFIG.dim))
    exe = compile_program([ROOT / "examples/c/sync_model.c"], tmp_path / "sync_model")
    result = subprocess.run([str(exe), "-o", str(tmp_path / "y"), str(conv_enf_file), str(tmp_path / "x.bin")],
                            capture_output=True, text=True, env=sim_env, timeout=600)
    assert result.returncode == 0, result.stderr
    stored = (tmp_path / "y0.bin").read_bytes()
    assert stored == encode(info_out, expected, CONFIG.dim)
    np.testing.assert_array_equal(decode(info_out, stored, CONFIG.dim), expected)


@pytest.mark.rtl
def test_bench_on_sim_prints_and_writes_the_c_rows(conv_enf_file, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", str(conv_enf_file), "-d", "sim", "-n", "3", "--workers", "2", "--runtime", "python",
                 "--runtime", "c", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "python" in text and "\n  c " in text
    rows = json.loads(out.read_text())["rows"]
    assert [(r["runtime"], r["mode"], r["in_flight"], r["n"]) for r in rows] == [
        ("python", "sync", 1, 3), ("python", "async", 2, 3), ("c", "sync", 1, 3), ("c", "async", 2, 3)]
    for r in rows:
        assert 0 < r["min_us"] <= r["p50_us"] <= r["p95_us"] <= r["p99_us"] and r["inferences_per_s"] > 0


def test_c_rows_are_skipped_on_golden_with_the_reason(npu_enf, tmp_path, capsys):
    save_enf(npu_enf, tmp_path / "m.enf")
    assert main(["bench", str(tmp_path / "m.enf"), "-d", "golden", "-n", "2", "--runtime", "c", "--json",
                 str(tmp_path / "b.json")]) == 0
    assert "runtime c: skipped: libnux has no 'golden' device" in capsys.readouterr().err
    assert json.loads((tmp_path / "b.json").read_text())["rows"] == []


def test_c_rows_are_skipped_for_host_fallbacks_with_the_reason(fallback_enf, tmp_path, capsys):
    save_enf(fallback_enf, tmp_path / "m.enf")
    assert main(["bench", str(tmp_path / "m.enf"), "-d", "sim", "-n", "2", "--runtime", "c"]) == 0
    assert "runtime c: skipped: the ENF has 1 host-fallback step(s), which libnux refuses" in capsys.readouterr().err


def test_a_model_that_is_not_an_enf_is_compiled_for_the_device_config_first(npu_qdq, tmp_path):
    import onnx
    from nux.cli.bench_c import _enf_for
    from nux.enf import write_enf
    from nux.isa import NpuConfig

    onnx.save(npu_qdq, tmp_path / "m.onnx")
    enf = _enf_for(tmp_path / "m.onnx", "golden")  # the golden device's default NpuConfig, as Npu("golden") has
    assert write_enf(enf) == write_enf(nux.compiler.compile(npu_qdq, NpuConfig()))


def test_a_libnux_failure_is_a_one_line_error_naming_the_cause(npu_enf, tmp_path, capsys):
    save_enf(npu_enf, tmp_path / "m.enf")
    assert main(["bench", str(tmp_path / "m.enf"), "-d", "nope", "-n", "2", "--runtime", "c"]) == 1
    err = capsys.readouterr().err
    assert "the C bench failed on m.enf (exit 1)" in err and "unknown device 'nope'" in err
