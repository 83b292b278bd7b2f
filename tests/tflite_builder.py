"""TflBuilder: small TFLite flatbuffers written with the `tflite` package's builders (no TensorFlow), for tests
that compare nux with TFLite's reference kernels (nux.reference.run_tflite)."""

from __future__ import annotations

import flatbuffers
import numpy as np
import tflite
from nux.compiler.frontends.tflite_reader import TENSOR_TYPES
from tflite.utils import BUILTIN_OPCODE2NAME

OPCODES = {v: k for k, v in BUILTIN_OPCODE2NAME.items()}
TYPES = {v: k for k, v in TENSOR_TYPES.items()}


class TflBuilder:
    """A one-subgraph TFLite model: tensors (with quantization and constant data) and builtin operators."""

    def __init__(self) -> None:
        self.tensors: list[dict] = []
        self.ops: list[tuple] = []
        self.codes: list[int] = []

    def tensor(self, shape, dtype, scale=None, zp=0, data=None, axis=0) -> int:
        scale = None if scale is None else np.atleast_1d(np.asarray(scale, np.float32))
        zps = None if scale is None else np.broadcast_to(np.atleast_1d(np.asarray(zp, np.int64)), scale.shape)
        self.tensors.append(dict(shape=list(shape), dtype=dtype, scale=scale, zp=zps, axis=axis,
                                 data=None if data is None else np.asarray(data, dtype).reshape(shape)))
        return len(self.tensors) - 1

    def op(self, opcode: str, inputs, outputs, options: str | None = None, **fields) -> None:
        code = OPCODES[opcode]
        if code not in self.codes:
            self.codes.append(code)
        self.ops.append((self.codes.index(code), list(inputs), list(outputs), options, fields))

    # ------------------------------------------------------------------ serialization
    @staticmethod
    def _vector(b, values, kind: str) -> int:
        size = {"Int32": 4, "Float32": 4, "Int64": 8, "Uint8": 1, "UOffsetTRelative": 4}[kind]
        b.StartVector(size, len(values), size)
        for v in reversed(list(values)):
            getattr(b, f"Prepend{kind}")(v)
        return b.EndVector()

    def _tensor(self, b, i: int, t: dict, buffer: int) -> int:
        name, shape = b.CreateString(f"t{i}"), self._vector(b, t["shape"], "Int32")
        quant = None
        if t["scale"] is not None:
            scale, zp = self._vector(b, t["scale"].tolist(), "Float32"), self._vector(b, t["zp"].tolist(), "Int64")
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t["axis"])
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, TYPES[t["dtype"]])
        tflite.TensorAddBuffer(b, buffer)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        return tflite.TensorEnd(b)

    def _op(self, b, code: int, inputs, outputs, options, fields) -> int:
        opts = None
        if options is not None:
            getattr(tflite, f"{options}Start")(b)
            for k, v in fields.items():
                getattr(tflite, f"{options}Add{k}")(b, v)
            opts = getattr(tflite, f"{options}End")(b)
        ins, outs = self._vector(b, inputs, "Int32"), self._vector(b, outputs, "Int32")
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, code)
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, options))
            tflite.OperatorAddBuiltinOptions(b, opts)
        return tflite.OperatorEnd(b)

    def _buffer(self, b, data: np.ndarray | None) -> int:
        raw = None
        if data is not None:
            payload = np.ascontiguousarray(data).tobytes()
            b.StartVector(1, len(payload), 16)
            b.head -= len(payload)
            b.Bytes[b.head:b.head + len(payload)] = payload
            raw = b.EndVector()
        tflite.BufferStart(b)
        if raw is not None:
            tflite.BufferAddData(b, raw)
        return tflite.BufferEnd(b)

    def build(self, inputs, outputs) -> bytes:
        b = flatbuffers.Builder(1024)
        buffers = [self._buffer(b, None)]  # buffer 0: the empty buffer every TFLite model starts with
        numbers = []
        for t in self.tensors:
            if t["data"] is None:
                numbers.append(0)
            else:
                numbers.append(len(buffers))
                buffers.append(self._buffer(b, t["data"]))
        tensors = [self._tensor(b, i, t, numbers[i]) for i, t in enumerate(self.tensors)]
        ops = [self._op(b, *op) for op in self.ops]
        codes = []
        for code in self.codes:
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddVersion(b, 1)
            codes.append(tflite.OperatorCodeEnd(b))
        vectors = [self._vector(b, v, "UOffsetTRelative") for v in (tensors, ops)]
        ins, outs = self._vector(b, inputs, "Int32"), self._vector(b, outputs, "Int32")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, vectors[0])
        tflite.SubGraphAddOperators(b, vectors[1])
        tflite.SubGraphAddInputs(b, ins)
        tflite.SubGraphAddOutputs(b, outs)
        subgraph = tflite.SubGraphEnd(b)
        subgraphs = self._vector(b, [subgraph], "UOffsetTRelative")
        code_vec, buffer_vec = self._vector(b, codes, "UOffsetTRelative"), self._vector(b, buffers, "UOffsetTRelative")
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, code_vec)
        tflite.ModelAddSubgraphs(b, subgraphs)
        tflite.ModelAddBuffers(b, buffer_vec)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())
