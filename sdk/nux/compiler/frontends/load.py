"""Reading an ONNX model from a path, bytes or ModelProto, fixing its input shapes and inferring the rest.

Everything a user can get wrong here (missing file, corrupt bytes, dynamic shapes without hints) becomes one
`CompileError` line naming the file, input or node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx

from nux.compiler.ir import CompileError
from nux.quantizer.graph import dims, runtime_inputs


def load_model(model: onnx.ModelProto | bytes | str | os.PathLike) -> onnx.ModelProto:
    """A copy of `model` as a ModelProto; CompileError when it cannot be read or is not ONNX."""
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        return copy
    if isinstance(model, bytes | bytearray | memoryview):
        data, where = bytes(model), "the model bytes"
    elif isinstance(model, str | os.PathLike):
        path = Path(model)
        if not path.is_file():
            raise CompileError(f"model {path} not found")
        data, where = path.read_bytes(), str(path)
    else:
        raise CompileError(f"compile() takes an onnx.ModelProto, bytes or a path, got {type(model).__name__}")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors have no common base class
        raise CompileError(f"{where} is not an ONNX model ({str(exc).splitlines()[0] if str(exc) else 'corrupt'})"
                           ) from None
    if not proto.graph.node:
        raise CompileError(f"{where} has no nodes (not an ONNX model, or an empty graph)")
    return proto


def fix_input_shapes(model: onnx.ModelProto, hints: Mapping[str, Sequence[int]] | None) -> None:
    """Give every runtime input a static shape: from `hints`, else a symbolic batch dim becomes 1; any other
    unknown dimension is an error that names the input."""
    hints = dict(hints or {})
    names = {vi.name for vi in runtime_inputs(model.graph)}
    unknown = sorted(set(hints) - names)
    if unknown:
        raise CompileError(f"input_shapes names {unknown}, which are not model inputs ({sorted(names)})")
    for vi in runtime_inputs(model.graph):
        shape = list(hints[vi.name]) if vi.name in hints else dims(vi)
        if vi.name not in hints and shape and not isinstance(shape[0], int):
            shape[0] = 1  # a symbolic batch dimension: compile for one sample (nux run stacks batches)
        if not shape and vi.name not in hints and not vi.type.tensor_type.HasField("shape"):
            raise CompileError(f"input {vi.name!r} has no shape; pass input_shapes={{'{vi.name}': (...)}}")
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise CompileError(f"input {vi.name!r} has dynamic shape {shape}; pass input_shapes="
                               f"{{'{vi.name}': (...)}} (nux compile --input-shape {vi.name}=1,3,224,224)")
        tensor_shape = vi.type.tensor_type.shape
        tensor_shape.ClearField("dim")
        for d in shape:
            tensor_shape.dim.add().dim_value = int(d)


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shapes of every tensor, inferred afresh (stale or shapeless value_info entries would block inference)."""
    del model.graph.value_info[:]
    model.ir_version = max(model.ir_version, 4)  # IR 3 hides initializers that are not graph inputs from inference
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError, ValidationError, RuntimeError...
        raise CompileError(f"shape inference failed: {str(exc).splitlines()[0]}") from None
