"""Host arrays <-> the bytes of a tensor in the arena, as the tensor table describes it (docs/enf.md).

Checks are strict on purpose: a float array for an int8 input, or a transposed shape, is a bug upstream, and
converting silently would hand the NPU garbage that still "runs".
"""

from __future__ import annotations

import numpy as np
from nux.driver.errors import TensorError, UnsupportedError
from nux.enf import Layout, TensorInfo, tensor_nbytes


def _label(info: TensorInfo) -> str:
    return f"{info.role.name.lower()} {info.name!r}"


def _stored(info: TensorInfo, dim: int) -> tuple[int, ...]:
    """The shape as stored in the arena (row-major bytes)."""
    shape = tuple(info.shape)
    if info.layout == Layout.PLAIN:
        return shape
    if info.layout == Layout.NHWC:
        if len(shape) != 4:
            raise TensorError(f"{_label(info)}: NHWC layout needs a 4-D (NCHW) shape, got {shape}")
        n, c, h, w = shape
        return (n, h, w, c)
    if info.layout == Layout.ROWS:
        if not shape:
            raise TensorError(f"{_label(info)}: ROWS layout needs at least one axis")
        return shape[:-1] + (-(-shape[-1] // dim) * dim,)
    raise UnsupportedError(f"{_label(info)}: layout {info.layout!r} is not supported by this driver")


def _arena_dtype(info: TensorInfo) -> np.dtype:
    return info.dtype.numpy.newbyteorder("<")  # multi-byte values in DRAM are little-endian (docs/isa.md §1)


def stored_nbytes(info: TensorInfo, dim: int) -> int:
    """Bytes the tensor occupies in the arena (the ENF's own rule, so the two never disagree)."""
    _stored(info, dim)  # rejects layouts this driver cannot convert
    return tensor_nbytes(info.dtype, info.layout, info.shape, dim)


def encode(info: TensorInfo, array: object, dim: int) -> bytes:
    """The arena bytes of `array` for tensor `info`; TensorError when dtype or shape differ from the table."""
    if not isinstance(array, np.ndarray):
        raise TensorError(f"{_label(info)}: expected a numpy array, got {type(array).__name__}")
    if array.dtype != info.dtype.numpy:
        raise TensorError(
            f"{_label(info)}: expected dtype {info.dtype.numpy}, got {array.dtype} (convert or quantize it first)"
        )
    if tuple(array.shape) != tuple(info.shape):
        raise TensorError(f"{_label(info)}: expected shape {tuple(info.shape)}, got {tuple(array.shape)}")
    if info.layout == Layout.NHWC:
        array = array.transpose(0, 2, 3, 1)
    elif info.layout == Layout.ROWS:
        # Padding lanes hold the zero point: they stand for real 0, so they add nothing in a GEMM.
        pad = [(0, 0)] * (array.ndim - 1) + [(0, _stored(info, dim)[-1] - array.shape[-1])]
        array = np.pad(array, pad, constant_values=info.zero_point)
    else:
        _stored(info, dim)  # rejects unknown layouts
    return np.ascontiguousarray(array, dtype=_arena_dtype(info)).tobytes()


def decode(info: TensorInfo, data: bytes, dim: int) -> np.ndarray:
    """The array tensor `info` holds, from its arena bytes (a fresh, writable, native-endian array)."""
    stored = _stored(info, dim)
    if len(data) != stored_nbytes(info, dim):
        raise TensorError(f"{_label(info)}: {len(data)} bytes given, the tensor needs {stored_nbytes(info, dim)}")
    array = np.frombuffer(data, dtype=_arena_dtype(info)).reshape(stored)
    if info.layout == Layout.NHWC:
        array = array.transpose(0, 3, 1, 2)
    elif info.layout == Layout.ROWS:
        array = array[..., : info.shape[-1]]
    return np.array(array, dtype=info.dtype.numpy)
