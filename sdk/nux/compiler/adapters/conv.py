"""Conv -> nux.compiler.lower.conv.conv2d."""

from __future__ import annotations

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.adapters.params import bias, ints, no_auto_pad, weight
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import Emitter, LayerCost, Unsupported


@adapter("Conv")
def conv(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported(f"{len(x.shape) - 2}-D convolution (the NPU lowers 2-D)")
    no_auto_pad(node)
    out_channels = y.shape[1]
    w, w_scale, w_zp = weight(graph, node, 1, out_channels, axis=0)
    return lower.conv2d(
        em, x, y, w, w_scale, w_zp, bias(graph, node, 2, x.scale, w_scale),
        strides=ints(node, "strides", [1, 1]), pads=_pads(ints(node, "pads", [0, 0, 0, 0])),
        dilations=ints(node, "dilations", [1, 1]), groups=int(node.attr("group", 1)), clamp=node.clamp)


def _pads(onnx_pads: list[int]) -> tuple[int, int, int, int]:
    """ONNX [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end) -> the lowering's (t, l, b, r)."""
    top, left, bottom, right = onnx_pads
    return top, left, bottom, right
