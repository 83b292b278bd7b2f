"""`nux quantize MODEL.onnx -o OUT.onnx [--calibration DIR|.npz] [--report]`: post-training int8 quantization."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import onnx
import typer

from nux.quantizer import (
    build_calibration_model,
    calibrate,
    calibrate_with_random_input,
    optimize,
    quantization_report,
    quantize,
)
from nux.quantizer.errors import QuantizationError
from nux.quantizer.files import load_calibration_data
from nux.quantizer.graph import runtime_inputs


def quantize_command(
    model_path: Annotated[Path, typer.Argument(help="float32 ONNX model", metavar="MODEL.onnx")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the int8 QDQ model")],
    calibration: Annotated[Path | None, typer.Option(
        "--calibration", help="a .npz of batched inputs or a folder of .npz/.npy samples; without it, random "
        "uniform [0, 1) inputs (fine for trying the flow, poor for accuracy)")] = None,
    report: Annotated[bool, typer.Option("--report", help="print per-tensor SNR (fp32 vs int8)")] = False,
    method: Annotated[str, typer.Option(help="calibration: minmax, percentile or entropy")] = "minmax",
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="input tensor name (repeat; default: all inputs)")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="progress bar on a terminal")] = True,
) -> None:
    """Quantize MODEL.onnx to int8 (TFLite specification) in QDQ form."""
    model = _load(model_path)
    names = list(inputs) if inputs else [vi.name for vi in runtime_inputs(model.graph)]
    optimized = optimize(model)
    calibration_model = build_calibration_model(optimized, names)
    options = {"method": method, "progress": None if progress else False}
    if calibration is None:
        data = None
        ranges = calibrate_with_random_input(calibration_model, **options)
    else:
        data = load_calibration_data(calibration, names)
        ranges = calibrate(calibration_model, data, **options)
    quantized = quantize(optimized, names, ranges)
    onnx.save(quantized, output)
    typer.echo(f"wrote {output} ({len(ranges)} calibrated tensors, method {method})")
    if report:
        typer.echo(str(quantization_report(optimized, quantized, data)))


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise QuantizationError(f"model {path} not found")
    try:
        return onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - protobuf's decode errors have no common base
        raise QuantizationError(f"{path} is not an ONNX model: {exc}") from None


def register(app: typer.Typer) -> None:
    app.command("quantize")(quantize_command)
