"""Fixtures of the quantizer tests (helpers live in qmodels.py)."""

from __future__ import annotations

import onnx
import pytest


@pytest.fixture(scope="session")
def mnist_model(test_data) -> onnx.ModelProto:
    return onnx.load(test_data / "models" / "mnist-8.onnx")


@pytest.fixture(scope="session")
def digits_data():
    pytest.importorskip("sklearn", reason="the digits data come with scikit-learn (dev extra)")
    pytest.importorskip("scipy", reason="the digits are resized with scipy (dev extra)")
    import digits

    images, labels = digits.digits()
    return images, labels, digits.mnist_images(images)
