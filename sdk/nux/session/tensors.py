"""What a session's caller exchanges with the model: tensor descriptions and the float <-> stored-integer mapping.

The ENF tensor table says how each input and output is stored (int8/uint8, scale, zero point); its META
"io_dtypes" says what the original model exchanged (float32 for a QDQ model with float I/O). A session speaks the
model's own types: float inputs are quantized here, outputs dequantized, unless the caller asks for `raw` integers.
Every check raises before anything touches the device, naming the tensor and both shapes or dtypes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nux.enf import DType, Enf, TensorInfo
from nux.errors import NuxError
from nux.executor import dequantize, quantize


class SessionError(NuxError):
    """A session cannot do what was asked (it is closed, the model is of an unknown kind, ...)."""


class InputError(SessionError, ValueError):
    """Inputs that do not fit the model: wrong count, unknown or missing names, wrong shapes, NaN values."""


class InputTypeError(SessionError, TypeError):
    """An input array of the wrong dtype (float for an integer input, int for a float one, ...)."""


@dataclass(frozen=True)
class TensorDesc:
    """One input or output of a session, as its caller sees it.

    `dtype` is what `run` takes or returns (float32 when the model's own I/O is float, else the stored integer
    type); `quant_dtype` is what the NPU stores and what `raw=True` exchanges; real = scale * (q - zero_point).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quant_dtype: np.dtype
    scale: float
    zero_point: int
    info: TensorInfo = field(repr=False, compare=False)  # the ENF tensor-table entry

    @classmethod
    def of(cls, index: int, info: TensorInfo, io_dtype: str) -> TensorDesc:
        floating = io_dtype == "float32" or info.dtype == DType.FLOAT32
        dtype = np.dtype(np.float32) if floating else info.dtype.numpy
        return cls(index, info.name, tuple(info.shape), dtype, info.dtype.numpy, float(info.scale),
                   int(info.zero_point), info)

    @property
    def quantized(self) -> bool:
        """True when the session converts between `dtype` and `quant_dtype` for this tensor."""
        return self.dtype != self.quant_dtype

    def to_stored(self, value: object, raw: bool = False) -> np.ndarray:
        """The stored integers for a caller's value (quantized when the tensor is float and not `raw`)."""
        array = np.asarray(value)
        if tuple(array.shape) != self.shape:
            raise InputError(f"input {self.name!r}: expected shape {self.shape}, got {tuple(array.shape)}")
        if self.quantized and not raw:
            if not np.issubdtype(array.dtype, np.floating):
                raise InputTypeError(f"input {self.name!r} takes float values (the session quantizes them to "
                                     f"{self.quant_dtype}); got {array.dtype} (pass raw=True to give stored integers)")
            if np.isnan(array).any():
                raise InputError(f"input {self.name!r} contains NaN, which has no quantized value")
            return quantize(array, self.info)
        want = self.quant_dtype if raw else self.dtype
        if array.dtype != want:
            raise InputTypeError(f"input {self.name!r}: expected {want} values{' (raw)' if raw else ''}, "
                                 f"got {array.dtype}")
        return array

    def from_stored(self, q: np.ndarray, raw: bool = False) -> np.ndarray:
        """The caller's value of a stored output (dequantized when the tensor is float and not `raw`)."""
        return dequantize(q, self.info) if self.quantized and not raw else q


def describe(enf: Enf) -> tuple[list[TensorDesc], list[TensorDesc]]:
    """The inputs and outputs of `enf`, in tensor-table order."""
    io = dict(enf.meta.get("io_dtypes", {}))
    inputs = [TensorDesc.of(i, t, io.get(t.name, "")) for i, t in enumerate(enf.inputs())]
    outputs = [TensorDesc.of(i, t, io.get(t.name, "")) for i, t in enumerate(enf.outputs())]
    return inputs, outputs


def stored_feeds(descs: Sequence[TensorDesc], inputs: object, raw: bool = False) -> dict[str, np.ndarray]:
    """Map a caller's inputs — one array (one-input models), a list in input order, or a dict by name — to the
    stored integers of every input, checking count, names, dtypes and shapes."""
    names = [d.name for d in descs]
    if isinstance(inputs, Mapping):
        unknown = sorted(set(inputs) - set(names), key=str)
        missing = [n for n in names if n not in inputs]
        if unknown or missing:
            raise InputError(f"the model's inputs are {names}; unknown {unknown}, missing {missing}")
        values = [inputs[n] for n in names]
    elif isinstance(inputs, list | tuple):
        if len(inputs) != len(descs):
            raise InputError(f"the model takes {len(descs)} input(s) {names}; got a list of {len(inputs)}")
        values = list(inputs)
    elif len(descs) == 1:
        values = [inputs]
    else:
        raise InputError(f"the model takes {len(descs)} inputs {names}: pass a list in that order or a dict by name")
    return {d.name: d.to_stored(v, raw) for d, v in zip(descs, values, strict=True)}
