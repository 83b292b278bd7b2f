"""The guide's synchronous-model API in Python, the counterpart of nux.h's `nux_sync_model_t`:

    from nux import model
    with model.load_tflite('../model.enf') as model:
        nInputs = model.input_num()
        outputs = model.run([x])                 # a list of arrays in output order

The guide's name `load_tflite` is kept although it takes a compiled ENF path, as the guide says ("the Python API
takes the path of the enf file instead of a buffer"); `load` is the same function. Anything `nux.session.create`
accepts works (a quantized ONNX or TFLite model is compiled first). `input(i)` / `output(i)` describe a tensor
(model_input_tensor / model_output_tensor in C); a bad index raises TensorIndexError.
"""

from __future__ import annotations

import numpy as np

from nux.errors import NuxError
from nux.session import Session, TensorDesc, create


class TensorIndexError(NuxError, IndexError):
    """An input or output index out of range (nux_error_t_invalid_input_index / _invalid_output_index in C)."""


class SyncModel:
    """A model run one inference at a time (a thin layer over `nux.session.Session`)."""

    def __init__(self, session: Session):
        self.session = session

    def input_num(self) -> int:
        return len(self.session.inputs())

    def output_num(self) -> int:
        return len(self.session.outputs())

    def input(self, index: int) -> TensorDesc:
        return _pick(self.session.inputs(), index, "input")

    def output(self, index: int) -> TensorDesc:
        return _pick(self.session.outputs(), index, "output")

    def run(self, inputs: object, raw: bool = False) -> list[np.ndarray]:
        """One inference (model_run); inputs and outputs as `Session.run` takes and returns them."""
        return self.session.run(inputs, raw)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SyncModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pick(descs: list[TensorDesc], index: int, role: str) -> TensorDesc:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(descs):
        raise TensorIndexError(f"the model has {len(descs)} {role}(s); no {role} index {index!r}")
    return descs[index]


def load_tflite(path: object, device: object = None, **options: object) -> SyncModel:
    """Load a compiled model (an ENF path, or anything `nux.session.create` takes) on `device`."""
    return SyncModel(create(path, device, **options))


load = load_tflite

__all__ = ["SyncModel", "TensorIndexError", "load_tflite", "load"]
