"""Softmax, LpNormalization and the Reduce* operators -> nux.compiler.lower.{softmax, normalize, reduce}.

Softmax, LpNormalization, ReduceL2 and ReduceMax need ISA 1.1 (REDUCE/LUTW); on a 1.0 target the lowering
raises Unsupported with that reason and the node runs on the host. ReduceSum/ReduceMean over channels or H x W
run on 1.0 as well.
"""

from __future__ import annotations

import numpy as np

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import Emitter, LayerCost, Unsupported

#: The opset from which each Reduce* takes its axes as an input instead of an attribute.
AXES_INPUT_OPSET = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceL2": 18}


def _no_clamp(node: Node) -> None:
    if node.clamp:
        raise Unsupported(f"{node.op} with a fused clamp")


def reduce_axes(graph: Graph, node: Node, rank: int) -> list[int] | None:
    """The reduced axes (all when absent), or None for a no-op (empty axes with noop_with_empty_axes)."""
    if graph.opset < AXES_INPUT_OPSET[node.op]:
        axes = node.attr("axes")
    elif len(node.inputs) > 1 and node.inputs[1]:
        t = graph[node.inputs[1]]
        if not t.is_const:
            raise Unsupported(f"{node.op} with non-constant axes")
        axes = [int(v) for v in np.asarray(t.data).reshape(-1)]
    else:
        axes = None
    if not axes:
        return None if node.attr("noop_with_empty_axes", 0) else list(range(rank))
    return [int(a) % rank for a in axes]


@adapter("ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2")
def reduce(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    _no_clamp(node)
    axes = reduce_axes(graph, node, len(x.shape))
    if axes is None:  # the identity, requantized
        return lower.rescale(em, x, y)
    fn = {"ReduceSum": lower.reduce_sum, "ReduceMean": lower.reduce_mean, "ReduceMax": lower.reduce_max,
          "ReduceL2": lower.reduce_l2}[node.op]
    return fn(em, x, y, axes)


@adapter("Softmax")
def softmax(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    """ONNX Softmax: one axis (opset >= 13, default -1) or the flattened trailing axes from `axis` (default 1);
    `beta` (an IR attribute the TFLite front end sets) scales the input."""
    x, y = act(node.inputs[0]), act(node.outputs[0])
    _no_clamp(node)
    rank = len(x.shape)
    axis = int(node.attr("axis", -1 if graph.opset >= 13 else 1)) % rank
    axes = [axis] if graph.opset >= 13 else list(range(axis, rank))
    return lower.softmax(em, x, y, axes, float(node.attr("beta", 1.0)))


@adapter("LpNormalization")
def lp_normalization(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    _no_clamp(node)
    return lower.lp_normalize(em, x, y, [int(node.attr("axis", -1))], int(node.attr("p", 2)))
