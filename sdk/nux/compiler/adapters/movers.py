"""Data movement (Concat, Split, Slice, Pad, Transpose, Expand, DepthToSpace, Reshape-likes that are not views)
-> nux.compiler.lower.movers.

Moving bytes is exact only when input and output share quantization; otherwise the op needs a requant and runs on
the host (Unsupported with that reason)."""

from __future__ import annotations

import numpy as np

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.adapters.eltwise import operand
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import ActTensor, Emitter, LayerCost, Unsupported, movers


def _same(node: Node, *tensors: ActTensor) -> None:
    first = tensors[0]
    if any((t.dtype, t.scale, t.zero_point) != (first.dtype, first.scale, first.zero_point) for t in tensors):
        raise Unsupported(f"{node.op} whose inputs and outputs are quantized differently (needs a requant)")
    if node.clamp:
        raise Unsupported(f"{node.op} with a fused clamp")


def _moved(node: Node, act: Act) -> tuple[ActTensor, ActTensor]:
    """(x, y) of a one-input mover, checked to share quantization."""
    x, y = act(node.inputs[0]), act(node.outputs[0])
    _same(node, x, y)
    return x, y


def _ints_input(graph: Graph, node: Node, index: int, what: str) -> list[int] | None:
    if len(node.inputs) <= index or not node.inputs[index]:
        return None
    t = graph[node.inputs[index]]
    if not t.is_const:
        raise Unsupported(f"{node.op} with a non-constant {what}")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


@adapter("Reshape", "Flatten", "Squeeze", "Unsqueeze")
def reshape(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    return lower.copy(em, x, y)


@adapter("Transpose")
def transpose(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    perm = node.attr("perm", list(range(len(x.shape)))[::-1])
    return lower.transpose(em, x, y, perm)


@adapter("Concat")
def concat(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    inputs, y = [operand(em, graph, n, act) for n in node.inputs if n], act(node.outputs[0])
    _same(node, y, *inputs)
    return lower.concat(em, inputs, y, int(node.attr("axis")))


@adapter("Split")
def split(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, outs = act(node.inputs[0]), [act(n) for n in node.outputs]
    _same(node, x, *outs)
    return lower.split(em, x, outs, int(node.attr("axis", 0)))


@adapter("Slice")
def slice_(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    rank = len(x.shape)
    if graph.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes, steps = list(node.attr("axes", range(rank))), [1] * len(starts)
    else:
        starts, ends = _ints_input(graph, node, 1, "starts"), _ints_input(graph, node, 2, "ends")
        axes = _ints_input(graph, node, 3, "axes") or list(range(len(starts)))
        steps = _ints_input(graph, node, 4, "steps") or [1] * len(starts)
    full_starts, full_steps = [0] * rank, [1] * rank
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= rank
        if step < 1:
            raise Unsupported("Slice with a negative step")
        full_starts[axis] = slice(start, end, step).indices(x.shape[axis])[0]
        full_steps[axis] = step
    return lower.slice_(em, x, y, full_starts, full_steps)


@adapter("Pad")
def pad(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    mode = node.attr("mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
        raise Unsupported(f"Pad mode {mode!r} (constant only)")
    pads = list(node.attr("pads")) if graph.opset < 11 else _ints_input(graph, node, 1, "pads")
    if len(node.inputs) > 3 and node.inputs[3]:
        raise Unsupported("Pad with an axes input")
    rank = len(x.shape)
    if min(pads) < 0:
        raise Unsupported("Pad with negative pads (cropping)")
    value = None
    if graph.opset >= 11 and len(node.inputs) > 2 and node.inputs[2]:
        value = int(np.asarray(graph[node.inputs[2]].data).reshape(-1)[0])
    return lower.pad(em, x, y, pads[:rank], value)


@adapter("Expand")
def expand(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = operand(em, graph, node.inputs[0], act), act(node.outputs[0])
    _same(node, x, y)
    return lower.expand(em, x, y)


@adapter("DepthToSpace")
def depth_to_space(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    mode = node.attr("mode", b"DCR")
    return lower.depth_to_space(em, x, y, int(node.attr("blocksize")),
                                              mode.decode() if isinstance(mode, bytes) else mode)


@adapter("SpaceToDepth")
def space_to_depth(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = _moved(node, act)
    return movers.space_to_depth(em, x, y, int(node.attr("blocksize")))


@adapter("Gather")
def gather(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    """Gather with constant scalar or 1-D indices (a channel shuffle after passes.shuffle, a selection)."""
    x, y = _moved(node, act)
    t = graph[node.inputs[1]]
    if not t.is_const:
        raise Unsupported("Gather with non-constant indices")
    if np.ndim(t.data) > 1:
        raise Unsupported(f"Gather with {np.ndim(t.data)}-D indices")
    axis = int(node.attr("axis", 0)) % len(x.shape)
    return movers.gather(em, x, y, np.asarray(t.data).reshape(-1), axis, keep_axis=np.ndim(t.data) == 1)
