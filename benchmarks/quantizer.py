"""nux.quantizer benchmark: time to optimize + calibrate + quantize, and top-1 accuracy of fp32, nux int8 and
onnxruntime's quantize_static int8 (QDQ, per-channel, MinMax, same calibration samples).

Models: mnist-8 (ONNX model zoo, from NUX_TEST_DATA or ../shared/data) on scikit-learn's digits resized to
28x28, a small CNN trained on the 8x8 digits (made on the fly, needs torch), and the guide's ExampleNet
(timing only: random weights, random calibration as in the guide).

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

import onnx
from nux.quantizer import build_calibration_model, calibrate, calibrate_with_random_input, optimize, quantize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "quantizer"))  # the digits data and the baseline are test code, not nux's
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
    for label, model, name, x in models:
        samples = x[:args.calibration]
        quantized, times = timed_quantization(model, name, samples, args.method)
        start = time.perf_counter()
        reference = baseline.ort_quantize_static(model, name, samples)
        ort_time = time.perf_counter() - start
        fp32, ours, theirs = (baseline.top1(m, x[test], labels[test]) for m in (model, quantized, reference))
        print(f"{label:<12} {times['optimize']:10.3f} {times['calibrate']:11.3f} {times['quantize']:10.3f} "
              f"{fp32:7.2f} {ours:10.2f} {theirs:10.2f} {ort_time:21.3f}")
    _, times = timed_quantization(example_net(), "input", None, args.method)
    print(f"{'ExampleNet':<12} {times['optimize']:10.3f} {times['calibrate']:11.3f} {times['quantize']:10.3f} "
          f"{'-':>7} {'-':>10} {'-':>10} {'-':>21}   (1x3x224x224, 10 random samples)")


if __name__ == "__main__":
    main()
