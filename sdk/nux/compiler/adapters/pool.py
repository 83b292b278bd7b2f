"""MaxPool / AveragePool / GlobalAveragePool -> nux.compiler.lower.pool."""

from __future__ import annotations

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.adapters.params import ints, no_auto_pad
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import Emitter, LayerCost, Unsupported


def _window(node: Node) -> dict:
    no_auto_pad(node)
    if len(node.outputs) > 1 and node.outputs[1]:
        raise Unsupported("MaxPool with an Indices output")
    if node.attr("storage_order", 0):
        raise Unsupported("MaxPool storage_order=1")
    return dict(kernel=ints(node, "kernel_shape", []), strides=ints(node, "strides", [1, 1]),
                pads=tuple(ints(node, "pads", [0, 0, 0, 0])), ceil_mode=bool(node.attr("ceil_mode", 0)))


@adapter("MaxPool")
def max_pool(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported("MaxPool of a non-4-D tensor")
    if node.clamp:
        raise Unsupported("MaxPool with a fused clamp")
    return lower.max_pool(em, x, y, **_window(node), dilations=ints(node, "dilations", [1, 1]))


@adapter("AveragePool")
def avg_pool(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4 or node.clamp:
        raise Unsupported("AveragePool of a non-4-D tensor or with a fused clamp")
    if any(d != 1 for d in ints(node, "dilations", [1, 1])):
        raise Unsupported("AveragePool with dilations")
    return lower.avg_pool(em, x, y, **_window(node),
                                      count_include_pad=bool(node.attr("count_include_pad", 0)))


@adapter("GlobalAveragePool")
def global_avg_pool(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4 or node.clamp:
        raise Unsupported("GlobalAveragePool of a non-4-D tensor or with a fused clamp")
    return lower.global_avg_pool(em, x, y)
