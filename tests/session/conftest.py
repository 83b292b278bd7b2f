"""Small quantized models for the session tests: an NPU-only net (Conv, Relu, Conv) and one with a host
fallback in the middle (Sin between two Convs), each with its ENF compiled for the default NpuConfig."""

from __future__ import annotations

import numpy as np
import nux.compiler
import onnx
import pytest
from session_models import X_SHAPE, quantized


@pytest.fixture(scope="session")
def npu_qdq() -> onnx.ModelProto:
    return quantized("Relu")


@pytest.fixture(scope="session")
def fallback_qdq() -> onnx.ModelProto:
    return quantized("Sin")


@pytest.fixture(scope="session")
def npu_enf(npu_qdq):
    return nux.compiler.compile(npu_qdq)


@pytest.fixture(scope="session")
def fallback_enf(fallback_qdq):
    enf = nux.compiler.compile(fallback_qdq)
    assert [s.kind.name for s in enf.run_steps()] == ["NPU", "HOST", "NPU"]
    return enf


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(5).uniform(-1, 1, X_SHAPE).astype(np.float32)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test compiles into its own cache directory and uses the golden device unless it says otherwise."""
    monkeypatch.setenv("NUX_CACHE", str(tmp_path / "compile-cache"))
    monkeypatch.delenv("NUX_DEVICE", raising=False)
