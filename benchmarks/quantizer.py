"""nux.quantizer benchmark: time to optimize + calibrate + quantize, and top-1 accuracy of fp32, nux int8 and
onnxruntime's quantize_static int8 (QDQ, per-channel, MinMax, same calibration samples).

Models: mnist-8 (ONNX model zoo, from NUX_TEST_DATA or ../shared/data) on scikit-learn's digits resized to
28x28, a small CNN trained on the 8x8 digits (made on the fly, needs torch), and the guide's ExampleNet
(random weights, random calibration as in the guide: timing, and output SNR against the float model).

A second table runs the same int8 models in onnxruntime at each graph optimization level: ORT_DISABLE_ALL is the
reference (`nux.reference`: QDQ float-simulated); at ORT_ENABLE_ALL onnxruntime fuses QDQ into its integer kernels,
whose results depend on the CPU (int16 saturation without VNNI). docs/quantizer.md quotes these figures.

    python benchmarks/quantizer.py [--calibration 200] [--method minmax]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
from nux.quantizer import build_calibration_model, calibrate, calibrate_with_random_input, optimize, quantize
from nux.reference import onnx_session, run_session

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_ALL")  # the first is the reference
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
sys.path.insert(0, str(REPO / "tests"))  # the digits data and the baseline are test code, not nux's
import baseline  # noqa: E402
import digits  # noqa: E402


def timed_quantization(model, name: str, samples, method: str) -> tuple[onnx.ModelProto, dict[str, float]]:
    times = {}
    start = time.perf_counter()
    optimized = optimize(model)
    times["optimize"] = time.perf_counter() - start
    start = time.perf_counter()
    calibration_model = build_calibration_model(optimized, [name])
    if samples is None:
        ranges = calibrate_with_random_input(calibration_model, method=method)
    else:
        ranges = calibrate(calibration_model, [{name: s[None]} for s in samples], method=method, progress=False)
    times["calibrate"] = time.perf_counter() - start
    start = time.perf_counter()
    quantized = quantize(optimized, [name], ranges)
    times["quantize"] = time.perf_counter() - start
    return quantized, times


def example_net() -> onnx.ModelProto:
    import torch
    from torch import nn

    class ExampleNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6)
            self.conv2, self.bn2 = nn.Conv2d(6, 12, 3), nn.BatchNorm2d(12)
            self.conv3 = nn.Conv2d(12, 3, 3)

        def forward(self, x):
            x = self.bn2(self.conv2(self.bn1(self.conv1(x))))
            return self.conv3(nn.functional.max_pool2d(x, 2))

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.onnx.export(ExampleNet().eval(), (torch.randn(1, 3, 224, 224),), buffer, input_names=["input"],
                      output_names=["output"], optimize=False)
    return onnx.load_model_from_string(buffer.getvalue())


def cpu_flags() -> str:
    """The x86 flags that select onnxruntime's int8 kernels, as /proc/cpuinfo lists them."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    return ", ".join(f"{flag} {'yes' if flag in words else 'no'}" for flag in CPU_FLAGS)


def output_snr(float_model: onnx.ModelProto, quantized: onnx.ModelProto, x: np.ndarray, level: str) -> float:
    """SNR of the int8 model's output run at `level` against the float model run by the reference."""
    name = float_model.graph.input[0].name
    (expected,) = run_session(onnx_session(float_model), {name: x}).values()
    (got,) = run_session(onnx_session(quantized, optimization=level), {name: x}).values()
    return baseline.snr_db(expected, got)


def print_levels(rows: list[tuple[str, str, list[float]]]) -> None:
    print(f"\nint8 models run by onnxruntime at each optimization level (CPU: {cpu_flags()})")
    print(f"{'model':<12} {'metric':<28}" + "".join(f" {level:>16}" for level in LEVELS))
    for label, metric, values in rows:
        print(f"{label:<12} {metric:<28}" + "".join(f" {v:16.2f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=int, default=200, help="calibration samples (training split)")
    parser.add_argument("--method", default="minmax", choices=["minmax", "percentile", "entropy"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    data_dir = Path(os.environ.get("NUX_TEST_DATA", REPO.parent / "shared" / "data"))
    images, labels = digits.digits()
    mnist_x = digits.mnist_images(images)
    test = slice(digits.TRAIN, None)
    models = [
        ("mnist-8", onnx.load(data_dir / "models" / "mnist-8.onnx"), "Input3", mnist_x),
        ("digits-cnn", digits.train_cnn(images[:digits.TRAIN], labels[:digits.TRAIN]), "input", images),
    ]
    print(f"calibration: {args.calibration} samples, method {args.method}; "
          f"test split: {len(labels[test])} digits images\n")
    print(f"{'model':<12} {'optimize s':>10} {'calibrate s':>11} {'quantize s':>10} {'fp32 %':>7} "
          f"{'nux int8 %':>10} {'ort int8 %':>10} {'ort quantize_static s':>21}")
    levels = []
    for label, model, name, x in models:
        samples = x[:args.calibration]
        quantized, times = timed_quantization(model, name, samples, args.method)
        start = time.perf_counter()
        reference = baseline.ort_quantize_static(model, name, samples)
        ort_time = time.perf_counter() - start
        fp32, ours, theirs = (baseline.top1(m, x[test], labels[test]) for m in (model, quantized, reference))
        print(f"{label:<12} {times['optimize']:10.3f} {times['calibrate']:11.3f} {times['quantize']:10.3f} "
              f"{fp32:7.2f} {ours:10.2f} {theirs:10.2f} {ort_time:21.3f}")
        for metric, int8 in (("nux int8 top-1 %", quantized), ("ort quantize_static top-1 %", reference)):
            levels.append((label, metric, [baseline.top1(int8, x[test], labels[test], lv) for lv in LEVELS]))
    float_net = example_net()
    quantized, times = timed_quantization(float_net, "input", None, args.method)
    print(f"{'ExampleNet':<12} {times['optimize']:10.3f} {times['calibrate']:11.3f} {times['quantize']:10.3f} "
          f"{'-':>7} {'-':>10} {'-':>10} {'-':>21}   (1x3x224x224, 10 random samples)")
    x = np.random.default_rng(5).random((1, 3, 224, 224), dtype=np.float32)
    levels.append(("ExampleNet", "nux int8 output SNR dB", [output_snr(float_net, quantized, x, lv) for lv in LEVELS]))
    print_levels(levels)


if __name__ == "__main__":
    main()
