"""The SNR report and the `nux quantize` command."""

from __future__ import annotations

import baseline
import numpy as np
import nux.cli
import onnx
import pytest
import typer
from nux.quantizer import optimize, post_training_quantization, quantization_report
from nux.quantizer.params import activation_qparams, dequantize, quantize_activation
from onnx import helper
from qmodels import make_model, rng_array, snr_db


def mnist_inputs(count: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((count, 1, 28, 28)) * 255).astype(np.float32)


def test_report_snr_per_tensor(mnist_model):
    optimized = optimize(mnist_model)
    data = {"Input3": mnist_inputs(8)}
    quantized = post_training_quantization(mnist_model, ["Input3"], data)
    report = quantization_report(optimized, quantized, data)
    snr = report.snr()
    assert report.runs == 8
    assert "Input3" in snr and "Plus214_Output_0" in snr and "Pooling66_Output_0" in snr
    assert all(20.0 < v < 70.0 for v in snr.values()), snr
    text = str(report)
    assert "Plus214_Output_0" in text and "(graph output)" in text
    # generic QDQ reading: onnxruntime's quantize_static output is reported too
    ort_model = baseline.ort_quantize_static(mnist_model, "Input3", data["Input3"])
    assert quantization_report(onnx.version_converter.convert_version(mnist_model, 13), ort_model, data).runs == 8


def test_report_snr_matches_hand_computation():
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, {"x": [4, 16]}, {"y": None}, {})
    x = rng_array((4, 16), 3, -2.0, 3.0)
    quantized = post_training_quantization(model, ["x"], {"x": x})
    report = quantization_report(optimize(model), quantized, {"x": x})
    qx = activation_qparams(float(x.min()), float(x.max()))
    x_hat = dequantize(quantize_activation(x, qx), qx.scale, qx.zero_point)
    assert report.snr()["x"] == pytest.approx(snr_db(x, x_hat), abs=1e-9)
    qy = activation_qparams(0.0, float(x.max()))
    y_hat = dequantize(quantize_activation(np.maximum(x_hat, 0), qy), qy.scale, qy.zero_point)
    assert report.snr()["y"] == pytest.approx(snr_db(np.maximum(x, 0), y_hat), abs=1e-9)


@pytest.fixture
def cli(monkeypatch):
    """`nux.cli.main` on an app that is a command group even when `quantize` is its only command so far."""
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    app.callback()(lambda: None)
    monkeypatch.setattr(nux.cli, "app", app)
    return nux.cli.main


def test_cli_quantize_npz_and_folder_with_report(cli, test_data, tmp_path, capsys):
    model = str(test_data / "models" / "mnist-8.onnx")
    np.savez(tmp_path / "cal.npz", Input3=mnist_inputs(4))
    out = tmp_path / "q.onnx"
    assert cli(["quantize", model, "-o", str(out), "--calibration", str(tmp_path / "cal.npz"), "--report"]) == 0
    printed = capsys.readouterr().out
    assert "SNR dB" in printed and "Plus214_Output_0" in printed and "4 run(s)" in printed
    assert "QuantizeLinear" in [n.op_type for n in onnx.load(out).graph.node]
    folder = tmp_path / "samples"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", mnist_inputs(1, i))
    assert cli(["quantize", model, "-o", str(out), "--calibration", str(folder), "--method", "entropy"]) == 0
    assert cli(["quantize", model, "-o", str(out)]) == 0  # random calibration


def test_cli_errors_are_one_line(cli, test_data, tmp_path, capsys):
    model = str(test_data / "models" / "mnist-8.onnx")
    np.savez(tmp_path / "bad.npz", Input3=mnist_inputs(2).astype(np.float64))
    cases = [
        (["quantize", str(tmp_path / "none.onnx"), "-o", "x.onnx"], "not found"),
        (["quantize", model, "-o", str(tmp_path / "q.onnx"), "--calibration", str(tmp_path / "bad.npz")],
         "dtype float64"),
        (["quantize", model, "-o", str(tmp_path / "q.onnx"), "--input", "image"], "['image'] not in the graph"),
        (["quantize", model, "-o", str(tmp_path / "q.onnx"), "--method", "mse"], "unknown calibration method"),
    ]
    for argv, message in cases:
        assert cli(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("nux: error:") and message in err and "\n" not in err
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert cli(["quantize", str(tmp_path / "junk.onnx"), "-o", "x.onnx"]) == 1
    assert "not an ONNX model" in capsys.readouterr().err
