"""`nux compile` / `nux run` / `nux inspect` on a small model with one host fallback."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from compiler_rig import float_model, quantize
from nux.cli import main
from nux.enf import load_enf
from nux.executor import Executor
from nux.reference import run_onnx
from onnx import helper


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    model = float_model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                         helper.make_node("Relu", ["c"], ["r"], name="relu"),
                         helper.make_node("Softmax", ["r"], ["y"], axis=1, name="softmax")],
                        {"x": [1, 3, 6, 6]}, {"y": [1, 4, 6, 6]},
                        {"w": rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32)})
    path = tmp_path_factory.mktemp("cli") / "m.onnx"
    onnx.save(quantize(model), path)
    return path


def test_compile_prints_the_layer_table_and_writes_json(model_path, tmp_path, capsys):
    out, report = tmp_path / "m.enf", tmp_path / "r.json"
    assert main(["compile", str(model_path), "-o", str(out), "--json", str(report), "--dim", "4", "--sp-rows", "256",
                 "--acc-rows", "128", "--isa-minor", "0"]) == 0
    text = capsys.readouterr().out
    assert "needs ISA 1.1" in text and "npu" in text and "host" in text
    data = json.loads(report.read_text())
    assert {"layers", "npu_macs_fraction", "predicted_cycles", "arena_bytes"} <= set(data)
    assert [(r["op"], r["placement"]) for r in data["layers"]] == [("Conv", "npu"), ("Softmax", "host")]
    assert data["layers"][0]["macs"] == 4 * 27 * 36 and data["layers"][0]["predicted_cycles"] > 0
    assert load_enf(out).config.dim == 4

    assert main(["inspect", str(out)]) == 0
    assert "compile report" in capsys.readouterr().out


def test_no_fallback_is_an_error_naming_the_node(model_path, tmp_path, capsys):
    assert main(["compile", str(model_path), "-o", str(tmp_path / "m.enf"), "--no-fallback", "--isa-minor", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nux: error:") and "softmax (Softmax): needs ISA 1.1" in err and err.count("\n") == 1


def test_run_writes_outputs_by_name_and_prints_counters(model_path, tmp_path, capsys):
    enf = tmp_path / "m.enf"
    assert main(["compile", str(model_path), "-o", str(enf), "-q"]) == 0
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3, 6, 6)).astype(np.float32)  # 3 x the compiled batch
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(enf), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "o.npz")]) == 0
    printed = capsys.readouterr().out
    assert "macs=" in printed and "utilization=" in printed
    y = np.load(tmp_path / "o.npz")["y"]
    assert y.dtype == np.float32 and y.shape == (3, 4, 6, 6)
    ref = np.concatenate([run_onnx(onnx.load(model_path), {"x": x[i:i + 1]})["y"] for i in range(3)])
    with Executor(enf) as ex:
        step = ex.outputs()[0].scale
    assert np.mean(np.abs(y - ref) <= 1.001 * step) >= 0.99

    assert main(["run", str(enf), "--raw", "-o", str(tmp_path / "raw.npz")]) == 0  # random int8 inputs
    assert np.load(tmp_path / "raw.npz")["y"].dtype == np.int8


def test_run_rejects_a_wrong_input_shape(model_path, tmp_path, capsys):
    enf = tmp_path / "m.enf"
    assert main(["compile", str(model_path), "-o", str(enf), "-q"]) == 0
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 5, 5), np.float32))
    capsys.readouterr()
    assert main(["run", str(enf), "--input", f"x={tmp_path / 'bad.npy'}"]) == 1
    assert "expected shape (1, 3, 6, 6)" in capsys.readouterr().err
