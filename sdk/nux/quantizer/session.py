"""The quantizer's view of `nux.reference`: the same onnxruntime sessions, with failures as QuantizationError.

Calibration and the report run models through `nux.reference` (graph optimizations off) so the ranges and SNR
figures they print are the same on every CPU; this module only re-types the reference's errors, because a model
onnxruntime cannot load or run is bad input to the quantizer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import onnx

from nux import reference

from .errors import QuantizationError


@contextmanager
def _as_quantization_error() -> Iterator[None]:
    try:
        yield
    except reference.ReferenceError as exc:  # nux's, not the builtin of that name
        raise QuantizationError(str(exc)) from None


def make_session(model: onnx.ModelProto, what: str):
    """`nux.reference.onnx_session`, raising QuantizationError naming `what` when onnxruntime rejects the model."""
    with _as_quantization_error():
        return reference.onnx_session(model, what=what)


def run(session, feeds: Mapping[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    """All outputs of `session` by name (`nux.reference.run_session`), failures as QuantizationError."""
    with _as_quantization_error():
        return reference.run_session(session, feeds, what=what)
