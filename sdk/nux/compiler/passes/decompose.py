"""Decompositions: operator cases with no lowering of their own rewritten into operators the NPU lowers, each
exact in integers because it only moves bytes of one quantization (or, for a float Pad value, quantizes it the
way the QDQ model's QuantizeLinear after the Pad does).

- `canonical_pad`: Pad's `axes` input -> full `pads`; a float constant value -> the input's quantized byte;
  negative (cropping) pads of constant mode -> a Slice before the Pad;
  mode `reflect` / `edge` -> Concat of one-element Slices around the input, axis by axis;
- `reverse_slice`: Slice with a negative step -> a positive-step Slice, then each reversed axis as a Concat of
  its one-element Slices in reverse order (at most `MAX_PIECES` per axis; longer ones stay as they are).

New nodes carry ONNX operators with constant operands, so a node that ends up on the host still runs there.
"""

from __future__ import annotations

import numpy as np

from nux.compiler.ir import DTYPE_RANGE, Graph, Node, Tensor

#: Longest run of one-element Slices a reversal or reflection is decomposed into.
MAX_PIECES = 64


class Builder:
    """New tensors and nodes named after the node they replace, spliced in where it was."""

    def __init__(self, graph: Graph, node: Node):
        self.graph, self.node, self.nodes, self.count = graph, node, [], 0

    def _name(self, what: str) -> str:
        self.count += 1
        return f"{self.node.name}__{what}{self.count}"

    def const(self, values, dtype: str = "int64", quant=None) -> str:
        data = np.asarray(values, dtype=dtype)
        return self.graph.add(Tensor(self._name("c"), data.shape, dtype, quant, data)).name

    def op(self, op: str, inputs: list[str], like: Tensor, shape: tuple[int, ...], out: str | None = None,
           **attrs) -> str:
        """Append `op`; its output (a new tensor quantized like `like`, or `out`) is returned."""
        if out is None:
            out = self.graph.add(Tensor(self._name("t"), tuple(shape), like.dtype, like.quant)).name
        self.nodes.append(Node(self._name(op.lower()), op, inputs, [out], attrs))
        return out

    def one(self, x: str, axis: int, index: int) -> str:
        """x[..., index:index+1, ...] along axis."""
        t = self.graph[x]
        shape = list(t.shape)
        shape[axis] = 1
        return self.op("Slice", [x, self.const([index]), self.const([index + 1]), self.const([axis])], t, shape)

    def reshaped_output(self, shape: tuple[int, ...]) -> None:
        """The node writes a new tensor of `shape` (its output's quantization), Reshaped into its output; splice."""
        y = self.graph[self.node.outputs[0]]
        out = self.graph.add(Tensor(self._name("t"), tuple(shape), y.dtype, y.quant)).name
        self.node.outputs = [out]
        self.nodes.append(self.node)
        self.op("Reshape", [out, self.const(y.shape)], y, y.shape, out=y.name)
        self.splice()

    def splice(self) -> None:
        i = self.graph.nodes.index(self.node)
        self.graph.nodes[i:i + 1] = self.nodes


def _const_ints(graph: Graph, node: Node, index: int) -> list[int] | None:
    name = node.inputs[index] if len(node.inputs) > index else ""
    if not name or not graph[name].is_const:
        return None
    return [int(v) for v in np.asarray(graph[name].data).reshape(-1)]


def _mode(node: Node) -> str:
    mode = node.attr("mode", b"constant")
    return mode.decode() if isinstance(mode, bytes) else mode


def _pad_value(graph: Graph, node: Node, x: Tensor, b: Builder) -> str | None:
    """The constant value input as x's stored byte (a float one quantized: round half to even, saturate)."""
    name = node.inputs[2] if len(node.inputs) > 2 else ""
    if not name:
        return None
    t = graph[name]
    if t.quantized or not t.is_const:
        return name
    lo, hi = DTYPE_RANGE[x.dtype]
    real = float(np.asarray(t.data, dtype=np.float64).reshape(-1)[0])
    q = np.clip(np.rint(np.float32(real) / np.float32(x.quant.scalar_scale)) + x.quant.scalar_zero_point, lo, hi)
    return b.const(int(q), x.dtype, x.quant)


def _pad_pieces(b: Builder, cur: str, axis: int, before: int, after: int, mode: str) -> list[str]:
    n = b.graph[cur].shape[axis]
    if mode == "edge":
        head, tail = [0] * before, [n - 1] * after
    else:  # reflect: the edge element itself is not repeated
        head, tail = list(range(before, 0, -1)), [n - 2 - j for j in range(after)]
    return [b.one(cur, axis, i) for i in head] + [cur] + [b.one(cur, axis, i) for i in tail]


def canonical_pad(graph: Graph) -> None:
    """Pad in the one form the movers lower (module docstring): full pads, a quantized value, no crop/mode."""
    for node in list(graph.nodes):
        if node.op != "Pad" or node.raw or graph.opset < 11:
            continue
        x, y = graph[node.inputs[0]], graph[node.outputs[0]]
        pads = _const_ints(graph, node, 1)
        if not x.quantized or x.shape is None or pads is None:
            continue
        rank = len(x.shape)
        axes = [a % rank for a in (_const_ints(graph, node, 3) or range(rank))]
        if len(pads) != 2 * len(axes) or len(set(axes)) != len(axes):
            continue  # malformed: the adapter reports it
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            full[a], full[a + rank] = pads[i], pads[i + len(axes)]
        b = Builder(graph, node)
        mode = _mode(node)
        if mode == "constant" and min(full) < 0:  # negative pads crop: a Slice first, then the positive pads
            x = graph[_crop(b, x, full)]
            full = [max(p, 0) for p in full]
            if not any(full):
                b.nodes[-1].outputs = [y.name]
                b.splice()
                continue
        if mode in ("reflect", "edge") and min(full) >= 0 and sum(full) <= MAX_PIECES and all(
                mode == "edge" or max(full[a], full[a + rank]) < x.shape[a] for a in range(rank)) and \
                x.quant.same_as(y.quant):
            cur = x.name
            active = [a for a in range(rank) if full[a] or full[a + rank]]
            for k, a in enumerate(active):
                shape = list(graph[cur].shape)
                shape[a] += full[a] + full[a + rank]
                pieces = _pad_pieces(b, cur, a, full[a], full[a + rank], mode)
                cur = b.op("Concat", pieces, x, shape, out=y.name if k == len(active) - 1 else None, axis=a)
            b.splice()
            continue
        value = _pad_value(graph, node, x, b)
        node.inputs = [x.name, b.const(full)] + ([value] if value else [])
        if b.nodes:
            b.nodes.append(node)
            b.splice()


def _crop(b: Builder, x: Tensor, full: list[int]) -> str:
    """x without the elements negative pads remove."""
    rank = len(x.shape)
    begin = [max(-p, 0) for p in full[:rank]]
    end = [d - max(-p, 0) for d, p in zip(x.shape, full[rank:], strict=True)]
    shape = [e - s for s, e in zip(begin, end, strict=True)]
    return b.op("Slice", [x.name, b.const(begin), b.const(end), b.const(list(range(rank)))], x, shape)


def reverse_slice(graph: Graph) -> None:
    """Negative-step Slices as a positive-step Slice and Concats of one-element Slices (module docstring)."""
    for node in list(graph.nodes):
        if node.op != "Slice" or node.raw or graph.opset < 10:
            continue
        x, y = graph[node.inputs[0]], graph[node.outputs[0]]
        starts, ends = _const_ints(graph, node, 1), _const_ints(graph, node, 2)
        if x.shape is None or starts is None or ends is None or not x.quantized:
            continue
        rank = len(x.shape)
        axes = [a % rank for a in (_const_ints(graph, node, 3) or range(len(starts)))]
        steps = _const_ints(graph, node, 4) or [1] * len(starts)
        if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in steps or len(set(axes)) != len(axes):
            continue  # malformed: the adapter reports it
        picked = {a: range(*slice(s, e, st).indices(x.shape[a])) for s, e, a, st in zip(starts, ends, axes, steps,
                                                                                          strict=True)}
        reversed_axes = [a for a, st in zip(axes, steps, strict=True) if st < 0 and len(picked[a]) > 1]
        if not any(st < 0 for st in steps) or any(len(picked[a]) > MAX_PIECES for a in reversed_axes) or \
                any(len(r) == 0 for r in picked.values()):
            continue
        b = Builder(graph, node)
        asc = {a: sorted(r) for a, r in picked.items()}
        first = [asc[a][0] for a in axes]
        last = [asc[a][-1] + 1 for a in axes]
        step = [abs(st) for st in steps]
        cur = b.op("Slice", [x.name, b.const(first), b.const(last), b.const(axes), b.const(step)], x, y.shape,
                   out=None if reversed_axes else y.name)
        for k, a in enumerate(reversed_axes):
            pieces = [b.one(cur, a, i) for i in reversed(range(y.shape[a]))]
            cur = b.op("Concat", pieces, x, y.shape, out=y.name if k == len(reversed_axes) - 1 else None, axis=a)
        b.splice()
