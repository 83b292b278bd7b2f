"""Operand shapes the lowerings take: rewrites that only reshape or broadcast (move bytes of one quantization),
so each is exact.

- `window_1d_as_2d`: a 1-D Conv / ConvTranspose / MaxPool / AveragePool on (N, C, L) -> the same operator on
  (N, C, 1, L) with a 1 x k window, between two Reshapes (ONNX's 1-D window is the 2-D one with height 1);
- `matmul_vector_b`: MatMul by a constant vector B (K,) -> by the (K, 1) matrix, then Reshape (M, 1) -> (M,);
- `matmul_4d_as_3d`: MatMul of a 4-D A (stored NHWC, so its rows are not contiguous) -> A, B and the result
  through (N*C, H, W) row-major copies (a 4-D B must have A's leading dimensions);
- `expand_broadcast_operands`: Add / Mul / Mean(two) whose operands broadcast other than "one is the output's
  shape, the other per channel or a scalar" -> Expand to the output's shape first;
- `transpose_gemm_a`: Gemm transA=1 -> Transpose of A, then Gemm;
- `gemm_bias_rows`: Gemm whose bias C is a full (M, N) matrix -> one Gemm per row of A with that row of C,
  concatenated (the lowerings take one bias per output column; at most MAX_PIECES rows).
"""

from __future__ import annotations

import numpy as np

from nux.compiler.ir import Graph, Node, Tensor
from nux.compiler.lower.eltwise import broadcast_kind
from nux.compiler.passes.decompose import MAX_PIECES, Builder

WINDOWED = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")
#: Window attributes and the value of their new leading (height) entry; pads get one before and one after.
WINDOW_ATTRS = {"kernel_shape": 1, "strides": 1, "dilations": 1, "output_padding": 0, "output_shape": 1}


def _as_2d(node: Node, weight: Tensor | None) -> None:
    for name, lead in WINDOW_ATTRS.items():
        if name in node.attrs:
            node.attrs[name] = [lead, *node.attrs[name]]
    if "pads" in node.attrs:
        begin, end = node.attrs["pads"]
        node.attrs["pads"] = [0, begin, 0, end]
    if weight is not None and "kernel_shape" not in node.attrs:
        node.attrs["kernel_shape"] = [1, weight.shape[-1]]


def window_1d_as_2d(graph: Graph) -> None:
    """1-D windows as the 2-D operator with height 1 (the lowerings are 2-D)."""
    for node in list(graph.nodes):
        if node.op not in WINDOWED or node.raw:
            continue
        x, y = graph[node.inputs[0]], graph[node.outputs[0]]
        weight = graph[node.inputs[1]] if node.op in ("Conv", "ConvTranspose") else None
        if x.shape is None or y.shape is None or len(x.shape) != 3 or not x.quantized or (
                weight is not None and (not weight.is_const or np.ndim(weight.data) != 3)) or any(
                len(v) != 1 for k, v in node.attrs.items() if k in WINDOW_ATTRS) or len(node.attr("pads", [0, 0])) != 2:
            continue  # not a 1-D window (or malformed: the adapter reports it)
        b = Builder(graph, node)
        lift = (x.shape[0], x.shape[1], 1, x.shape[2])
        node.inputs[0] = b.op("Reshape", [x.name, b.const(lift)], x, lift)
        if weight is not None:
            shape = (*weight.shape[:2], 1, weight.shape[2])
            node.inputs[1] = b.const(np.asarray(weight.data).reshape(shape), weight.dtype, weight.quant)
        _as_2d(node, weight)
        b.reshaped_output((y.shape[0], y.shape[1], 1, y.shape[2]))


def matmul_vector_b(graph: Graph) -> None:
    """MatMul by a constant vector as by a one-column matrix (the GEMM lowering takes 2-D B)."""
    for node in list(graph.nodes):
        if node.op != "MatMul" or node.raw:
            continue
        w, y = graph[node.inputs[1]], graph[node.outputs[0]]
        if not w.is_const or np.ndim(w.data) != 1 or y.shape is None or not y.quantized or (
                w.quant is not None and not w.quant.per_tensor):
            continue
        b = Builder(graph, node)
        node.inputs[1] = b.const(np.asarray(w.data).reshape(-1, 1), w.dtype, w.quant)
        b.reshaped_output((*y.shape, 1))


def _rows3(b: Builder, name: str) -> str:
    t = b.graph[name]
    shape = (t.shape[0] * t.shape[1], *t.shape[2:])
    return b.op("Reshape", [name, b.const(shape)], t, shape)


def matmul_4d_as_3d(graph: Graph) -> None:
    """MatMul of 4-D operands on row-major (N*C, H, W) copies: NHWC storage strides their rows."""
    for node in list(graph.nodes):
        if node.op != "MatMul" or node.raw:
            continue
        a, w, y = (graph[n] for n in (*node.inputs[:2], node.outputs[0]))
        if a.shape is None or y.shape is None or w.shape is None or len(a.shape) != 4 or len(y.shape) != 4 or (
                len(w.shape) == 4 and (w.is_const or w.shape[:2] != a.shape[:2])) or len(w.shape) not in (2, 4):
            continue
        b = Builder(graph, node)
        node.inputs = [_rows3(b, a.name), _rows3(b, w.name) if len(w.shape) == 4 else w.name]
        b.reshaped_output((y.shape[0] * y.shape[1], *y.shape[2:]))


def _expand(b: Builder, name: str, shape: tuple[int, ...]) -> str:
    t = b.graph[name]
    return b.op("Expand", [name, b.const(shape)], t, shape)


def expand_broadcast_operands(graph: Graph) -> None:
    """Element-wise operands the VECTOR streams cannot broadcast are Expanded to the output shape first."""
    for node in list(graph.nodes):
        if node.op not in ("Add", "Mul", "Mean") or node.raw or len(node.inputs) != 2:
            continue
        y = graph[node.outputs[0]]
        ins = [graph[n] for n in node.inputs]
        if y.shape is None or any(t.shape is None or not t.quantized for t in ins):
            continue
        b = Builder(graph, node)
        if all(t.shape != y.shape for t in ins):  # the larger operand takes the output's shape
            big = int(np.argmax([np.prod(t.shape) for t in ins]))
            node.inputs[big] = _expand(b, ins[big].name, y.shape)
        for i, t in enumerate(ins):
            if graph[node.inputs[i]].shape != y.shape and broadcast_kind(y.shape, t.shape) is None:
                node.inputs[i] = _expand(b, t.name, y.shape)
        if b.nodes:
            b.nodes.append(node)
            b.splice()


def transpose_gemm_a(graph: Graph) -> None:
    """Gemm transA as a Transpose of A (the GEMM lowering reads A row by row)."""
    for node in list(graph.nodes):
        a = graph[node.inputs[0]] if node.op == "Gemm" else None
        if a is None or node.raw or not node.attr("transA", 0) or a.shape is None or len(a.shape) != 2:
            continue
        b = Builder(graph, node)
        node.inputs[0] = b.op("Transpose", [a.name], a, a.shape[::-1], perm=[1, 0])
        node.attrs["transA"] = 0
        b.nodes.append(node)
        b.splice()


def gemm_bias_rows(graph: Graph) -> None:
    """A full (M, N) Gemm bias as one Gemm per row (the lowerings add one bias per output column)."""
    for node in list(graph.nodes):
        if node.op != "Gemm" or node.raw or len(node.inputs) < 3 or not node.inputs[2]:
            continue
        a, c, y = graph[node.inputs[0]], graph[node.inputs[2]], graph[node.outputs[0]]
        if not c.is_const or y.shape is None or len(y.shape) != 2 or a.shape is None or node.attr("transA", 0):
            continue
        data = np.broadcast_to(np.asarray(c.data), y.shape)
        if np.ndim(c.data) < 2 or c.shape[0] == 1 or y.shape[0] > MAX_PIECES:
            continue
        b = Builder(graph, node)
        rows = []
        for m in range(y.shape[0]):
            row = b.op("Slice", [a.name, b.const([m]), b.const([m + 1]), b.const([0])], a, (1, a.shape[1]))
            bias = b.const(data[m], c.dtype, c.quant)
            rows.append(b.op("Gemm", [row, node.inputs[1], bias], y, (1, y.shape[1]), **node.attrs))
            b.nodes[-1].clamp = node.clamp
        b.op("Concat", rows, y, y.shape, out=y.name, axis=0)
        b.splice()
