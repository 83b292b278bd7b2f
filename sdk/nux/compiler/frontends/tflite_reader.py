"""Reading a TFLite flatbuffer into plain Python values (tensors, operators, options), checked as it is read.

Why a separate step: the `tflite` package's accessors read straight out of the buffer and trust every offset in it,
so a truncated or corrupt file fails anywhere with an IndexError, struct.error or a vector length of billions.
Everything the importer needs is read here once, with each vector length checked against the buffer size (memory
and time bounded by the real file), and any failure becomes one `CompileError` line.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nux.compiler.ir import CompileError

#: The 4-byte file identifier at offset 4 of every TFLite flatbuffer (schema.fbs `file_identifier "TFL3"`).
IDENTIFIER = b"TFL3"
#: No tensor of a device model can be larger (arena offsets are 32-bit); bounds compile time on corrupt shapes.
MAX_ELEMENTS = 2**31
#: tflite.TensorType -> numpy dtype name (the types an integer NPU model or its host fallbacks can hold).
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
                10: "float64", 15: "uint32", 16: "uint16"}


def is_tflite(model: object) -> bool:
    """True when `model` (bytes or a path) is a TFLite flatbuffer, judged by its file identifier."""
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model[4:8]) == IDENTIFIER
    if isinstance(model, str | os.PathLike) and Path(model).is_file():
        with open(model, "rb") as f:
            return f.read(8)[4:8] == IDENTIFIER
    return False


@dataclass
class TflTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray | None = None  # float32 per tensor (size 1) or per channel
    zero_point: np.ndarray | None = None
    axis: int = 0  # quantized_dimension
    data: np.ndarray | None = None  # constant contents, in the tensor's shape


@dataclass
class TflOp:
    index: int
    opcode: str  # BuiltinOperator name: CONV_2D, ...; "CUSTOM:<name>" for custom operators
    inputs: list[int]  # -1 for an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TflModel:
    name: str
    tensors: list[TflTensor]
    ops: list[TflOp]
    inputs: list[int]
    outputs: list[int]


def read_tflite(model: bytes | bytearray | memoryview | str | os.PathLike) -> TflModel:
    """Parse the main subgraph of a TFLite flatbuffer; CompileError when it cannot be read."""
    if isinstance(model, bytes | bytearray | memoryview):
        data, where = bytes(model), "the model bytes"
    else:
        path = Path(model)
        if not path.is_file():
            raise CompileError(f"model {path} not found")
        data, where = path.read_bytes(), str(path)
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise CompileError(f"{where} is not a TFLite flatbuffer (no 'TFL3' file identifier)")
    try:
        import tflite
    except ImportError:  # pragma: no cover - tflite is a dev dependency
        raise CompileError("reading TFLite models needs the `tflite` package (pip install tflite)") from None
    try:
        return _Reader(data, tflite).model()
    except CompileError as exc:
        raise CompileError(f"{where}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - corrupt offsets fail anywhere inside the generated accessors
        raise CompileError(f"{where} is a corrupt or truncated TFLite flatbuffer ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'bad offset'})") from None


def check_quantization(t: TflTensor) -> None:
    """Scales finite and > 0, one per tensor or one per channel of an existing axis, zero points in range."""
    what = f"tensor {t.index} ({t.name!r})"
    if t.zero_point.size != t.scale.size:
        raise CompileError(f"{what} has {t.scale.size} scales and {t.zero_point.size} zero points")
    if not np.all(np.isfinite(t.scale)) or np.any(t.scale <= 0):
        raise CompileError(f"{what} has quantization scales {t.scale[:4]}..., which must be finite and > 0")
    if t.scale.size > 1 and not (0 <= t.axis < len(t.shape) and t.shape[t.axis] == t.scale.size):
        raise CompileError(f"{what} of shape {list(t.shape)} has {t.scale.size} scales along axis {t.axis}")
    if t.dtype.startswith(("int", "uint")):
        info = np.iinfo(t.dtype)
        if np.any(t.zero_point < info.min) or np.any(t.zero_point > info.max):
            raise CompileError(f"{what} has zero points outside {t.dtype}")


class _Reader:
    def __init__(self, data: bytes, tflite: Any):
        self.data = data
        self.tflite = tflite
        self.root = tflite.Model.GetRootAs(data, 0)
        self.options_classes = {v: getattr(tflite, k, None) for k, v in vars(tflite.BuiltinOptions).items()
                                if not k.startswith("_") and isinstance(v, int)}
        from tflite.utils import BUILTIN_OPCODE2NAME

        self.opnames = BUILTIN_OPCODE2NAME

    def count(self, n: int, what: str, item_bytes: int = 4) -> int:
        """A vector length, refused when the vector could not fit in the file (a corrupt length)."""
        if n < 0 or n * item_bytes > len(self.data):
            raise CompileError(f"{what} count {n} does not fit in a {len(self.data)}-byte file (corrupt)")
        return n

    def model(self) -> TflModel:
        root = self.root
        if self.count(root.SubgraphsLength(), "subgraph") < 1:
            raise CompileError("the model has no subgraph")
        codes = [self.opcode(root.OperatorCodes(i)) for i in range(self.count(root.OperatorCodesLength(), "opcode"))]
        graph = root.Subgraphs(0)
        tensors = [self.tensor(graph.Tensors(i), i) for i in range(self.count(graph.TensorsLength(), "tensor"))]
        ops = []
        for i in range(self.count(graph.OperatorsLength(), "operator")):
            op = graph.Operators(i)
            if not 0 <= op.OpcodeIndex() < len(codes):
                raise CompileError(f"operator {i} has opcode index {op.OpcodeIndex()} of {len(codes)}")
            ops.append(TflOp(i, codes[op.OpcodeIndex()], self.indices(op.InputsAsNumpy(), len(tensors), i, True),
                             self.indices(op.OutputsAsNumpy(), len(tensors), i, False), self.options(op)))
        name = (graph.Name() or b"").decode(errors="replace") or "tflite"
        return TflModel(name, tensors, ops, self.indices(graph.InputsAsNumpy(), len(tensors), "inputs", False),
                        self.indices(graph.OutputsAsNumpy(), len(tensors), "outputs", False))

    @staticmethod
    def indices(values: Any, n: int, where: object, optional: bool) -> list[int]:
        result = [int(v) for v in (values if isinstance(values, np.ndarray) else [])]
        low = -1 if optional else 0
        if any(not low <= v < n for v in result):
            raise CompileError(f"operator {where} refers to tensors {result}, the model has {n}")
        return result

    def opcode(self, code: Any) -> str:
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = self.opnames.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            return f"CUSTOM:{(code.CustomCode() or b'').decode(errors='replace')}"
        return name

    def tensor(self, t: Any, index: int) -> TflTensor:
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if not t.ShapeIsNone() else ()
        name = (t.Name() or b"").decode(errors="replace") or f"tensor_{index}"
        if t.Type() not in TENSOR_TYPES:
            raise CompileError(f"tensor {index} ({name!r}) has TFLite type {t.Type()}, which nux does not support")
        if t.Sparsity() is not None:
            raise CompileError(f"tensor {index} ({name!r}) is sparse; densify the model first")
        if any(d < 0 for d in shape):
            raise CompileError(f"tensor {index} ({name!r}) has dynamic shape {list(shape)}")
        if len(shape) > 8 or np.prod(shape, dtype=np.float64) > MAX_ELEMENTS:
            raise CompileError(f"tensor {index} ({name!r}) has shape {list(shape)}: more than 8 dimensions or "
                               f"2**31 elements (the device's 32-bit arena)")
        result = TflTensor(index, name, shape, TENSOR_TYPES[t.Type()])
        q = t.Quantization()
        if q is not None and not q.ScaleIsNone() and q.ScaleLength() > 0:
            result.scale = q.ScaleAsNumpy().astype(np.float32)
            result.zero_point = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(
                result.scale.size, np.int64)
            result.axis = int(q.QuantizedDimension())
            check_quantization(result)
        result.data = self.buffer(t.Buffer(), result)
        return result

    def buffer(self, number: int, t: TflTensor) -> np.ndarray | None:
        if not 0 <= number < self.count(self.root.BuffersLength(), "buffer"):
            raise CompileError(f"tensor {t.index} ({t.name!r}) uses buffer {number} of {self.root.BuffersLength()}")
        buf = self.root.Buffers(number)
        if buf.Offset() > 1:  # large models keep buffers after the flatbuffer, addressed by offset/size
            raw = self.data[buf.Offset():buf.Offset() + buf.Size()]
            if len(raw) != buf.Size():
                raise CompileError(f"buffer {number} lies beyond the end of the file")
        elif buf.DataLength() > 0:
            raw = buf.DataAsNumpy().tobytes()
        else:
            return None
        count = int(np.prod(t.shape, dtype=np.int64))
        if len(raw) != count * np.dtype(t.dtype).itemsize:
            raise CompileError(f"tensor {t.index} ({t.name!r}) of shape {list(t.shape)} {t.dtype} has a "
                               f"{len(raw)}-byte buffer")
        return np.frombuffer(raw, dtype=t.dtype).reshape(t.shape).copy()

    def options(self, op: Any) -> dict[str, Any]:
        """The operator's builtin options as {field name: value} (vectors as lists)."""
        cls = self.options_classes.get(op.BuiltinOptionsType())
        table = op.BuiltinOptions()
        if cls is None or table is None:
            return {}
        obj = cls()
        obj.Init(table.Bytes, table.Pos)
        result = {}
        for name, fn in vars(cls).items():
            if name.startswith("_") or name in ("Init", "GetRootAs") or name.startswith("GetRootAs") or \
                    name.endswith(("IsNone", "Length", "BufferHasIdentifier")) or not callable(fn):
                continue
            params = inspect.signature(fn).parameters
            if name.endswith("AsNumpy"):
                value = getattr(obj, name)()
                result[name[:-len("AsNumpy")]] = [int(v) for v in value] if isinstance(value, np.ndarray) else []
            elif len(params) == 1 and name not in result:
                result[name] = getattr(obj, name)()
        return result


__all__ = ["IDENTIFIER", "TflModel", "TflOp", "TflTensor", "is_tflite", "read_tflite"]
