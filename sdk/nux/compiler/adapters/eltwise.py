"""Add / Mul / Mean (TFLite-style rescaling) and unary operators as 256-entry LUTs -> nux.compiler.lower.eltwise.

A unary op on a quantized tensor is a function of one byte, so any of them (Relu or Clip not fused into a
producer, Sigmoid, Exp, Softplus, Tanh, ...) is exact as a table: entry b = quantize(f(dequantize(b))).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import ActTensor, Emitter, LayerCost, Unsupported


def const_act(em: Emitter, graph: Graph, name: str) -> ActTensor:
    """A quantized constant operand placed in the CONST section and seen as an activation (NHWC when 4-D)."""
    t = graph[name]
    if not t.quantized:
        raise Unsupported(f"constant {name!r} is not a per-tensor int8/uint8 tensor")
    data = np.asarray(t.data).reshape(t.shape)
    stored = data.transpose(0, 2, 3, 1) if data.ndim == 4 else data
    offset = em.const(np.ascontiguousarray(stored).tobytes())
    return ActTensor(offset, t.shape if t.shape else (1,), t.dtype, t.quant.scalar_scale, t.quant.scalar_zero_point)


def operand(em: Emitter, graph: Graph, name: str, act: Act) -> ActTensor:
    return const_act(em, graph, name) if graph[name].is_const else act(name)


@adapter("Add", "Mul")
def binary(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    a, b = (operand(em, graph, n, act) for n in node.inputs[:2])
    return {"Add": lower.add, "Mul": lower.mul}[node.op](em, a, b, act(node.outputs[0]), clamp=node.clamp)


@adapter("Mean")
def mean(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    if node.clamp:
        raise Unsupported("Mean with a fused clamp")
    inputs = [operand(em, graph, n, act) for n in node.inputs]
    return lower.mean(em, inputs, act(node.outputs[0]))


def _clip(graph: Graph, node: Node) -> Callable[[np.ndarray], np.ndarray]:
    if graph.opset < 11:
        lo, hi = node.attr("min", -np.inf), node.attr("max", np.inf)
    else:
        bounds = []
        for i, default in ((1, -np.inf), (2, np.inf)):
            name = node.inputs[i] if len(node.inputs) > i else ""
            if name and not graph[name].is_const:
                raise Unsupported("Clip with non-constant bounds")
            bounds.append(float(np.asarray(graph[name].data).reshape(-1)[0]) if name else default)
        lo, hi = bounds
    return lambda v: np.clip(v, lo, hi)


UNARY: dict[str, Callable[[Node, np.ndarray], np.ndarray]] = {
    "Relu": lambda n, v: np.maximum(v, 0.0),
    "Sigmoid": lambda n, v: 1.0 / (1.0 + np.exp(-v)),
    "Tanh": lambda n, v: np.tanh(v),
    "Exp": lambda n, v: np.exp(v),
    "Softplus": lambda n, v: np.logaddexp(0.0, v),
    "LeakyRelu": lambda n, v: np.where(v >= 0, v, float(n.attr("alpha", 0.01)) * v),
    "HardSigmoid": lambda n, v: np.clip(float(n.attr("alpha", 0.2)) * v + float(n.attr("beta", 0.5)), 0, 1),
    "HardSwish": lambda n, v: v * np.clip(v / 6.0 + 0.5, 0, 1),
    "Elu": lambda n, v: np.where(v >= 0, v, float(n.attr("alpha", 1.0)) * (np.exp(v) - 1)),
    "Neg": lambda n, v: -v,
    "Abs": lambda n, v: np.abs(v),
    "Identity": lambda n, v: v,  # a requantization (input and output parameters differ)
}


@adapter("Clip", *UNARY)
def unary(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    fn = _clip(graph, node) if node.op == "Clip" else functools.partial(UNARY[node.op], node)
    if node.clamp:
        raise Unsupported(f"{node.op} with a fused clamp")
    table = lower.lut_table(fn, x, y)
    return lower.lut(em, x, y, table)
