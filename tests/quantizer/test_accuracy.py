"""Accuracy on real data (scikit-learn digits): nux int8 vs fp32 vs onnxruntime's quantize_static."""

from __future__ import annotations

import baseline
import digits
import pytest
from nux.quantizer import post_training_quantization

CALIBRATION = 200  # samples from the training split; accuracy is measured on the held-out split


@pytest.mark.parametrize("model_name", ["mnist-8", "digits-cnn"])
def test_int8_top1_close_to_fp32_and_onnxruntime(model_name, mnist_model, digits_data):
    images, labels, mnist_images = digits_data
    if model_name == "mnist-8":
        model, x, name = mnist_model, mnist_images, "Input3"
    else:
        pytest.importorskip("torch", reason="digits-cnn is trained with torch (dev extra, CPU wheel)")
        model, x, name = digits.train_cnn(images[:digits.TRAIN], labels[:digits.TRAIN]), images, "input"
    calibration = x[:CALIBRATION]
    test_x, test_y = x[digits.TRAIN:], labels[digits.TRAIN:]
    fp32 = baseline.top1(model, test_x, test_y)
    ours = baseline.top1(post_training_quantization(model, [name], [{name: s[None]} for s in calibration]),
                         test_x, test_y)
    theirs = baseline.top1(baseline.ort_quantize_static(model, name, calibration), test_x, test_y)
    assert fp32 > 85.0  # the float model itself works on this data
    assert ours >= fp32 - 1.0, (fp32, ours, theirs)
    assert ours >= theirs - 0.5, (fp32, ours, theirs)
