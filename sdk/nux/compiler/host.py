"""A run of host-placed IR nodes -> a standalone ONNX model for onnxruntime (an ENF HOST section).

Its inputs and outputs are the *stored* tensors the NPU reads and writes (int8/uint8 with the IR's parameters),
so the device and the host exchange the same bytes. Inside, each real-valued node reads DequantizeLinear of its
quantized inputs and its output goes through QuantizeLinear (then an integer Clip for a fused Relu/Clip clamp):
the float-simulated QDQ semantics of the source model, which is what `nux.reference.run_onnx` computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nux.compiler.ir import CompileError, Graph, Node, QParams, Tensor
from nux.compiler.passes.fuse import FLATTEN_NHWC

IR_VERSION = 8  # onnxruntime 1.18+ reads it; onnx 1.23's default is newer than some onnxruntime releases


def _elem(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _value_info(t: Tensor) -> onnx.ValueInfoProto:
    if t.shape is None:
        raise CompileError(f"tensor {t.name!r} crosses between host and NPU but its shape is unknown")
    return helper.make_tensor_value_info(t.name, _elem(t.dtype), list(t.shape))


class _Builder:
    def __init__(self, graph: Graph, boundary_inputs: Sequence[str]):
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.done: set[str] = set()  # names already defined in the ONNX graph
        self.real: dict[str, str] = {}  # quantized tensor -> its dequantized twin
        self.per_axis = False
        self.done.update(boundary_inputs)

    def qparams(self, name: str, q: QParams, dtype: str) -> list[str]:
        scale, zp = f"{name}__scale", f"{name}__zp"
        if scale not in self.done:
            self.inits.append(numpy_helper.from_array(np.asarray(q.scale, dtype=np.float32), scale))
            self.inits.append(numpy_helper.from_array(np.asarray(q.zero_point).astype(dtype), zp))
            self.done.update((scale, zp))
        return [scale, zp]

    def stored(self, name: str) -> str:
        """`name` as stored integers (constants become initializers on first use)."""
        t = self.graph[name]
        if t.is_const and name not in self.done:
            self.inits.append(numpy_helper.from_array(np.asarray(t.data), name))
            self.done.add(name)
        return name

    def real_value(self, name: str) -> str:
        t = self.graph[name]
        if t.quant is None or not name:
            return self.stored(name) if name else ""
        if name not in self.real:
            axis = {} if t.quant.per_tensor else {"axis": int(t.quant.axis)}
            self.per_axis |= bool(axis)
            quant = t.quant if axis else QParams(t.quant.scalar_scale, t.quant.scalar_zero_point)
            out = f"{name}__real"
            self.nodes.append(helper.make_node("DequantizeLinear", [self.stored(name), *self.qparams(
                name, quant, t.dtype)], [out], name=f"{name}__dq", **axis))
            self.real[name] = out
        return self.real[name]

    def add(self, node: Node) -> None:
        if node.op == FLATTEN_NHWC:  # integer-transparent: on the stored values
            mid = f"{node.outputs[0]}__nhwc"
            self.nodes += [helper.make_node("Transpose", [self.stored(node.inputs[0])], [mid], perm=[0, 2, 3, 1]),
                           helper.make_node("Flatten", [mid], node.outputs, axis=1, name=node.name)]
            return
        if node.raw:
            ins = [self.stored(n) if n else "" for n in node.inputs]
            self.nodes.append(helper.make_node(node.op, ins, node.outputs, name=node.name, domain=node.domain,
                                               **node.attrs))
            return
        ins = [self.real_value(n) for n in node.inputs]
        outs = [n if not n or self.graph[n].quant is None else f"{n}__f" for n in node.outputs]
        attrs = dict(node.attrs)
        if node.op == "Softmax" and "beta" in attrs:  # TFLite's beta (an IR attribute): Softmax(beta * x)
            beta = f"{node.name}__beta"
            self.inits.append(numpy_helper.from_array(np.array(attrs.pop("beta"), np.float32), beta))
            self.nodes.append(helper.make_node("Mul", [ins[0], beta], [f"{beta}_x"], name=f"{node.name}__mul"))
            ins = [f"{beta}_x"]
        self.nodes.append(helper.make_node(node.op, ins, outs, name=node.name, domain=node.domain, **attrs))
        for name, out in zip(node.outputs, outs, strict=True):
            if out == name:
                continue
            t = self.graph[name]
            q_out = f"{name}__q" if node.clamp else name
            self.nodes.append(helper.make_node("QuantizeLinear", [out, *self.qparams(
                name, QParams(t.quant.scalar_scale, t.quant.scalar_zero_point), t.dtype)], [q_out], name=f"{name}__q"))
            if node.clamp:
                lo, hi = (np.asarray(v, dtype=t.dtype) for v in node.clamp)
                self.inits += [numpy_helper.from_array(lo, f"{name}__lo"), numpy_helper.from_array(hi, f"{name}__hi")]
                self.nodes.append(helper.make_node("Clip", [q_out, f"{name}__lo", f"{name}__hi"], [name],
                                                   name=f"{name}__clamp"))


def host_model(graph: Graph, nodes: Sequence[Node], inputs: Sequence[str], outputs: Sequence[str]) -> bytes:
    """Serialized ONNX model running `nodes` from stored `inputs` to stored `outputs`."""
    builder = _Builder(graph, inputs)
    for node in nodes:
        builder.add(node)
    opset = max(graph.opset, 13) if builder.per_axis else graph.opset
    body = helper.make_graph(builder.nodes, f"{graph.name}_host", [_value_info(graph[n]) for n in inputs],
                             [_value_info(graph[n]) for n in outputs], builder.inits)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in graph.extra_opsets.items()]
    model = helper.make_model(body, opset_imports=opsets, producer_name="nux.compiler")
    model.ir_version = IR_VERSION
    return model.SerializeToString()


__all__ = ["host_model"]
