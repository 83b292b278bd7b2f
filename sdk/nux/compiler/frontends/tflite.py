"""TFLite front end: an int8/uint8 TFLite flatbuffer -> ir.Graph (ONNX operators, NCHW shapes, OIHW weights).

Layout. TFLite stores 4-D activations NHWC; the IR's shapes are ONNX's (NCHW) while the arena stores 4-D tensors
NHWC anyway, so a TFLite activation becomes the IR tensor with its shape permuted (0, 3, 1, 2) -- the same bytes.
4-D constants take the same permutation (conv weights OHWI -> OIHW), depthwise weights (1, H, W, O) -> (O, 1, H, W)
with group = C, and the per-channel quantization axis follows its permutation. Axis attributes (CONCATENATION,
MEAN, PAD, SOFTMAX, SLICE) are remapped; a RESHAPE of a 4-D tensor whose NCHW and NHWC element orders differ goes
through Transpose nodes (or the IR's FlattenNHWC view when it flattens to (N, H*W*C)), so it means what TFLite means.

Quantization. Tensors keep TFLite's scale/zero point; biases get scale input_scale x weight_scale (what TFLite's
kernels use, whatever the bias tensor says). A fused activation becomes the node's clamp in output integers,
computed as TFLite's CalculateActivationRangeQuantized does. A float input read only by QUANTIZE (a float model
interface) becomes a quantized graph input with io dtype float32 (the executor quantizes at the edge); likewise
a DEQUANTIZE producing a graph output. Integer inputs/outputs keep their integer io dtype.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from nux.compiler.frontends.tflite_reader import TflModel, TflOp, TflTensor, is_tflite, read_tflite
from nux.compiler.ir import DTYPE_RANGE, CompileError, Graph, Node, QParams, Tensor
from nux.compiler.passes.fuse import FLATTEN_NHWC

#: NHWC -> NCHW: IR axis i holds TFLite axis NCHW[i] of a 4-D tensor.
NCHW = (0, 3, 1, 2)
NHWC = (0, 2, 3, 1)
#: tflite.ActivationFunctionType -> real-valued (lo, hi) of the fused activation.
FUSED = {0: None, 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
FUSED_NAMES = {4: "TANH", 5: "SIGN_BIT"}


def ir_shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(shape[p] for p in NCHW) if len(shape) == 4 else tuple(shape)


def ir_axis(axis: int, rank: int) -> int:
    """The IR axis of TFLite axis `axis` (negative counts from the end) of a rank-`rank` tensor."""
    axis = axis + rank if axis < 0 else axis
    return NCHW.index(axis) if rank == 4 else axis


def order_free(shape: Sequence[int]) -> bool:
    """NHWC and NCHW list the elements of this 4-D shape in the same order (C == 1 or H*W == 1)."""
    return len(shape) != 4 or shape[3] == 1 or shape[1] * shape[2] == 1


def tflite_pads(padding: int, size: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                dilations: Sequence[int] = (1, 1)) -> list[int]:
    """ONNX pads [top, left, bottom, right] equal to TFLite's SAME (0) / VALID (1) padding of an (H, W) input:
    SAME outputs ceil(in / stride) and puts the odd pad at the end (bottom/right)."""
    if padding == 1:
        return [0, 0, 0, 0]
    if padding != 0:
        raise CompileError(f"unknown TFLite padding {padding}")
    before, after = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return before + after


def tflite_round(x: np.ndarray | float) -> np.ndarray:
    """TfLiteRound: round half away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_clamp(code: int, t: Tensor, where: str) -> tuple[int, int] | None:
    """The fused activation `code` as (lo, hi) output integers, as TFLite's CalculateActivationRangeQuantized."""
    if code in FUSED_NAMES or code not in FUSED:
        raise CompileError(f"{where}: fused activation {FUSED_NAMES.get(code, code)} is not supported")
    bounds = FUSED[code]
    if bounds is None:
        return None
    if t.quant is None or t.dtype not in DTYPE_RANGE:
        raise CompileError(f"{where}: fused activation on a {t.dtype} output without quantization")
    qmin, qmax = DTYPE_RANGE[t.dtype]
    scale, zp = np.float32(t.quant.scalar_scale), t.quant.scalar_zero_point

    def quantize(v: float) -> int:
        return zp + int(tflite_round(np.float32(v) / scale))

    lo = max(qmin, quantize(bounds[0]))
    hi = qmax if bounds[1] is None else min(qmax, quantize(bounds[1]))
    return lo, hi


class TflImporter:
    """Builds the IR of one TFLite model; the op converters (tflite_ops.py) call its helpers."""

    def __init__(self, model: TflModel):
        self.m = model
        self.g = Graph(name=model.name, opset=13)
        self.names: dict[int, str] = {}  # TFLite tensor index -> IR name of its NCHW-convention value
        self.skip: set[int] = set()  # operator indices absorbed at the graph edges
        self.alias: dict[int, int] = {}  # graph output of an absorbed DEQUANTIZE -> the quantized tensor
        self.readers: dict[int, list[TflOp]] = {}
        self.node_names: set[str] = set()
        for op in model.ops:
            for i in op.inputs:
                self.readers.setdefault(i, []).append(op)

    # ------------------------------------------------------------------ names and tensors
    def fresh(self, base: str) -> str:
        name, n = base, 0
        while name in self.g.tensors:
            n += 1
            name = f"{base}__{n}"
        return name

    def t(self, index: int) -> TflTensor:
        return self.m.tensors[index]

    @staticmethod
    def qparams(t: TflTensor, perm: Sequence[int] | None = None) -> QParams | None:
        if t.scale is None:
            return None
        if t.scale.size == 1:
            return QParams(float(t.scale[0]), int(t.zero_point.reshape(-1)[0]))
        axis = perm.index(t.axis) if perm is not None else t.axis
        return QParams(t.scale.astype(np.float64), t.zero_point.copy(), axis)

    def value(self, index: int) -> str:
        """IR name of tensor `index` in the NCHW convention (constants are created on first use)."""
        if index in self.names:
            return self.names[index]
        t = self.t(index)
        if t.data is None:
            raise CompileError(f"tensor {index} ({t.name!r}) is read before any operator computes it")
        perm = NCHW if t.data.ndim == 4 else None
        return self.const(index, perm, remember=True)

    def const(self, index: int, perm: Sequence[int] | None, remember: bool = False, suffix: str = "") -> str:
        """A constant tensor with its data (and quantization axis) permuted by `perm`."""
        t = self.t(index)
        if t.data is None:
            raise CompileError(f"tensor {index} ({t.name!r}) must be a constant (weights, shapes, axes)")
        data = np.ascontiguousarray(t.data.transpose(perm) if perm is not None else t.data)
        name = self.fresh(t.name + suffix)
        self.g.add(Tensor(name, tuple(data.shape), t.dtype, self.qparams(t, perm), data))
        if remember:
            self.names[index] = name
        return name

    def array(self, data: np.ndarray, base: str, quant: QParams | None = None) -> str:
        """A new constant (ONNX shape/axes operands, clip bounds)."""
        name = self.fresh(base)
        self.g.add(Tensor(name, tuple(data.shape), data.dtype.name, quant, data))
        return name

    def output(self, index: int) -> str:
        """Create the IR activation for operator output `index`."""
        t = self.t(index)
        name = self.names.get(index) or self.fresh(t.name)
        self.g.add(Tensor(name, ir_shape(t.shape), t.dtype, self.qparams(t)))
        self.names[index] = name
        return name

    def temp(self, base: str, shape: Sequence[int], like: str, dtype: str | None = None) -> str:
        """A new intermediate activation with `like`'s dtype and quantization."""
        src = self.g[like]
        name = self.fresh(f"{base}__tmp")
        self.g.add(Tensor(name, tuple(shape), dtype or src.dtype, src.quant))
        return name

    def node(self, op: TflOp, onnx_op: str, inputs: list[str], outputs: list[str], suffix: str = "",
             clamp: tuple[int, int] | None = None, **attrs: object) -> Node:
        name = base = f"{op.opcode.lower()}_{op.index}{suffix}"
        while name in self.node_names:  # a converter that emits several nodes: unique names for ONNX
            name = f"{base}_{len(self.node_names)}"
        self.node_names.add(name)
        node = Node(name, onnx_op, inputs, outputs, dict(attrs), clamp=clamp)
        self.g.nodes.append(node)
        return node

    def clamp(self, op: TflOp, out: str) -> tuple[int, int] | None:
        return activation_clamp(int(op.options.get("FusedActivationFunction", 0)), self.g[out],
                                f"operator {op.index} ({op.opcode})")

    # ------------------------------------------------------------------ layout bridges
    def reshape(self, op: TflOp, src: str, src_shape: Sequence[int], dst: str, dst_shape: Sequence[int]) -> None:
        """dst = TFLite's reshape of src. When NHWC and NCHW orders agree on both sides, one Reshape (a view);
        else the 4-D source is first flattened in NHWC order (the IR's FlattenNHWC, a view), and a 4-D result whose
        orders differ is reshaped in NHWC order and transposed to NCHW -- all data movers the NPU has."""
        a = src
        if len(src_shape) == 4 and not (order_free(src_shape) and order_free(dst_shape)):
            flat = (src_shape[0], int(np.prod(src_shape[1:])))
            if tuple(dst_shape) == flat:
                self.node(op, FLATTEN_NHWC, [src], [dst])
                return
            if len(dst_shape) == 4:
                a = self.temp(src, flat, src)
                self.node(op, FLATTEN_NHWC, [src], [a])
            else:  # not FlattenNHWC + Reshape: the partitioner misplaces two views in a row between host nodes
                a = self.temp(src, tuple(src_shape), src)
                self.node(op, "Transpose", [src], [a], "_nhwc", perm=list(NHWC))
        if order_free(dst_shape):
            self.node(op, "Reshape", [a, self.array(np.array(ir_shape(dst_shape), np.int64), f"{dst}__shape")],
                      [dst])
            return
        b = self.temp(dst, tuple(dst_shape), a)
        self.node(op, "Reshape", [a, self.array(np.array(dst_shape, np.int64), f"{dst}__shape")], [b])
        self.node(op, "Transpose", [b], [dst], "_nchw", perm=list(NCHW))

    def broadcast_operand(self, op: TflOp, index: int, rank: int) -> str:
        """Operand `index` of an element-wise op as a rank-`rank` NCHW-convention value (numpy broadcasting aligns
        TFLite's trailing axes, so a lower-rank operand is first padded with leading 1s in NHWC)."""
        t = self.t(index)
        if len(t.shape) >= rank:
            return self.value(index)
        shape = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        if t.data is not None:
            data = t.data.reshape(shape)
            data = data.transpose(NCHW) if rank == 4 else data
            quant = self.qparams(t)
            if quant is not None and not quant.per_tensor:
                quant = QParams(quant.scale, quant.zero_point, ir_axis(quant.axis + rank - len(t.shape), rank))
            return self.array(np.ascontiguousarray(data), t.name, quant)
        src = self.value(index)
        out = self.temp(src, ir_shape(shape), src)
        self.reshape(op, src, t.shape, out, shape)
        return out

    # ------------------------------------------------------------------ graph edges
    def edges(self) -> None:
        for index in self.m.inputs:
            t = self.t(index)
            readers = self.readers.get(index, [])
            if t.dtype == "float32" and readers and all(r.opcode == "QUANTIZE" for r in readers) and len(
                    {r.outputs[0] for r in readers}) == 1 and self.t(readers[0].outputs[0]).scale is not None:
                self.skip.update(r.index for r in readers)
                self.names[readers[0].outputs[0]] = t.name
                index = readers[0].outputs[0]
            q = self.t(index)
            if q.scale is not None and q.scale.size != 1:
                raise CompileError(f"input {t.name!r} is quantized per channel; nux takes per-tensor inputs")
            name = self.output(index)
            self.g.inputs.append(name)
            self.g.io_dtypes[name] = t.dtype  # the model's own type: float32 when QUANTIZE was absorbed
        producers = {o: op for op in self.m.ops for o in op.outputs}
        for index in self.m.outputs:
            t, op = self.t(index), producers.get(index)
            if (op is not None and op.opcode == "DEQUANTIZE" and t.dtype == "float32"
                    and len(self.readers.get(op.inputs[0], [])) == 1 and op.inputs[0] not in self.m.outputs
                    and op.inputs[0] not in self.m.inputs):
                self.skip.add(op.index)
                self.names[op.inputs[0]] = t.name
                self.alias[index] = op.inputs[0]

    def run(self) -> Graph:
        from nux.compiler.frontends import tflite_api_ops  # noqa: F401  (registers its converters)
        from nux.compiler.frontends.tflite_ops import convert

        self.edges()
        for op in self.m.ops:
            if op.index not in self.skip:
                convert(self, op)
        for index in self.m.outputs:
            name = self.names.get(self.alias.get(index, index))
            if name is None:
                raise CompileError(f"graph output {self.t(index).name!r} is not computed by any operator")
            self.g.outputs.append(name)
            self.g.io_dtypes[name] = self.t(index).dtype
        self.g.remove_unused()
        self.g.check()
        return self.g


def import_tflite(model: bytes | str | os.PathLike,
                  input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """The IR of a TFLite flatbuffer (path or bytes). TFLite shapes are static: `input_shapes`, if given, must
    repeat the model's own (NHWC) input shapes."""
    tfl = read_tflite(model)
    own = {tfl.tensors[i].name: tfl.tensors[i].shape for i in tfl.inputs}
    for name, shape in (input_shapes or {}).items():
        if name not in own:
            raise CompileError(f"input_shapes names {name!r}, which is not a model input ({sorted(own)})")
        if tuple(shape) != own[name]:
            raise CompileError(f"input {name!r} of a TFLite model has the static shape {list(own[name])} (NHWC); "
                               f"resizing to {list(shape)} is not supported")
    if not any(t.scale is not None and t.dtype in ("int8", "uint8") for t in tfl.tensors):
        raise CompileError("the TFLite model is not quantized (no int8/uint8 tensors); convert it with full-integer "
                           "quantization (TFLiteConverter with a representative_dataset)")
    return TflImporter(tfl).run()


__all__ = ["import_tflite", "is_tflite", "tflite_pads", "activation_clamp", "ir_shape", "ir_axis", "NCHW"]
