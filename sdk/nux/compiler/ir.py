"""The compiler's graph IR: one small quantized dataflow graph that every front end produces and every pass reads.

Why our own and not onnx-ir: the compiler needs exactly three things an ONNX graph does not say directly -- the
quantization of each tensor (scale, zero point, per-channel axis), whether a tensor is a constant, and per-node
decisions (fused clamp, placement, fallback reason). Twenty lines of dataclasses carry that; a TFLite front end
builds the same objects without going through ONNX.

Semantics. A `Tensor` holds integers `q` that stand for `real = scale * (q - zero_point)` when `quant` is set
(int8/uint8 activations, int8/uint8 weights, int32 biases), or plain values when `quant` is None (float32, or
int64 shape operands). Every `Node` is an ONNX operator applied to the *real* values of its inputs, its result
quantized to its outputs' parameters (round half to even, saturate), i.e. exactly DequantizeLinear -> op ->
QuantizeLinear; an NPU lowering computes the same thing in integers (TFLite's integer kernels). `op` and `attrs`
use ONNX operator names and attribute names/defaults (a TFLite front end maps CONV_2D to "Conv", etc.), shapes
are ONNX's (NCHW for 4-D activations). Where a tensor is *stored* (NHWC in device memory) is the memory planner's
business, not the IR's, so front ends never reorder data.

How a front end builds a graph:

    g = Graph(name="net")
    g.add(Tensor("x", (1, 3, 32, 32), "int8", QParams(0.02, -3)))          # a runtime input
    g.add(Tensor("w", (8, 3, 3, 3), "int8", QParams(np.full(8, 0.01), np.zeros(8, int), axis=0), data=w))
    g.add(Tensor("b", (8,), "int32", QParams(np.full(8, 0.0002), np.zeros(8, int), axis=0), data=b))
    g.add(Tensor("y", (1, 8, 30, 30), "int8", QParams(0.05, -128)))
    g.nodes.append(Node("conv0", "Conv", ["x", "w", "b"], ["y"], {"kernel_shape": [3, 3]}))
    g.inputs, g.outputs = ["x"], ["y"]
    g.io_dtypes = {"x": "float32", "y": "float32"}   # what the *model's* caller sees (quantize/dequantize at the edge)
    g.check()

Passes then set `Node.clamp` (an output clamp in the output's integer domain, from a fused Relu/Clip), mark
views, and record placements; they edit the graph in place and keep `check()` true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nux.errors import NuxError

QUANT_DTYPES = ("int8", "uint8")
DTYPE_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int32": (-(2**31), 2**31 - 1)}


class CompileError(NuxError):
    """The compiler cannot compile a model; the message names the node or tensor and why."""


@dataclass(frozen=True)
class QParams:
    """real = scale * (q - zero_point); per tensor (scalars, axis None) or per channel along `axis`."""

    scale: np.ndarray | float
    zero_point: np.ndarray | int
    axis: int | None = None

    @property
    def per_tensor(self) -> bool:
        return self.axis is None or np.size(self.scale) == 1

    @property
    def scalar_scale(self) -> float:
        return float(np.asarray(self.scale).reshape(-1)[0])

    @property
    def scalar_zero_point(self) -> int:
        return int(np.asarray(self.zero_point).reshape(-1)[0])

    def same_as(self, other: QParams | None) -> bool:
        return other is not None and self.per_tensor and other.per_tensor and \
            self.scalar_scale == other.scalar_scale and self.scalar_zero_point == other.scalar_zero_point


@dataclass
class Tensor:
    """A value of the graph: a runtime activation, or a constant when `data` is set."""

    name: str
    shape: tuple[int, ...] | None  # None: unknown (a host-internal value whose shape nothing needs)
    dtype: str  # numpy dtype name: int8, uint8, int32, int64, float32, ...
    quant: QParams | None = None
    data: np.ndarray | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def quantized(self) -> bool:
        """An int8/uint8 tensor with per-tensor parameters: what an NPU activation is."""
        return self.dtype in QUANT_DTYPES and self.quant is not None and self.quant.per_tensor

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    """One operator. `clamp` (lo, hi) narrows the output range (a fused Relu/Clip, in output integers);
    `view` marks a Reshape-like node whose output shares its input's bytes; `raw` a node whose semantics are on
    the stored integers themselves (ConvInteger, a com.microsoft op); `placement`/`reason` are the
    partitioner's decision ("npu" or "host", and why not npu)."""

    name: str
    op: str
    inputs: list[str]  # "" for an omitted optional input
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    clamp: tuple[int, int] | None = None
    view: bool = False
    placement: str = ""
    reason: str = ""
    fused: list[str] = field(default_factory=list)  # names of nodes folded into this one (for the report)
    raw: bool = False  # reads/writes stored integers, not real values (ConvInteger, custom-domain ops): host only

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)


@dataclass
class Graph:
    name: str = "graph"
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    io_dtypes: dict[str, str] = field(default_factory=dict)  # model-side dtype of each input/output
    opset: int = 13  # the default-domain ONNX opset the node semantics follow
    extra_opsets: dict[str, int] = field(default_factory=dict)  # other domains (com.microsoft, ...)

    def add(self, tensor: Tensor) -> Tensor:
        self.tensors[tensor.name] = tensor
        return tensor

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        table: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    table.setdefault(name, []).append(node)
        return table

    def remove_unused(self) -> None:
        """Drop tensors nothing reads or writes (after passes removed nodes)."""
        used = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            used.update(n for n in node.inputs + node.outputs if n)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def check(self) -> None:
        """Every name is defined before it is read, once; constants are not produced by nodes."""
        defined = {n for n, t in self.tensors.items() if t.is_const} | set(self.inputs)
        for node in self.nodes:
            for name in node.inputs:
                if name and name not in defined:
                    raise CompileError(f"node {node.name!r} ({node.op}) reads {name!r} before it is computed")
            for name in node.outputs:
                if name in defined:
                    raise CompileError(f"node {node.name!r} ({node.op}) writes {name!r}, which is already defined")
                if name:
                    defined.add(name)
        missing = [o for o in self.outputs if o not in defined]
        if missing:
            raise CompileError(f"graph outputs {missing} are never computed")
