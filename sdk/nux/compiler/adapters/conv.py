"""Conv (and inference BatchNormalization, as a depthwise 1x1 Conv) -> nux.compiler.lower.conv2d;
ConvTranspose -> nux.compiler.lower.conv_transpose."""

from __future__ import annotations

import numpy as np

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.adapters.params import bias, const, ints, no_auto_pad, real_values, weight
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


@adapter("ConvTranspose")
def conv_transpose(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    """ONNX ConvTranspose: weights (C, O/group, kH, kW) quantized per tensor or along axis 1 (O/group scales,
    repeated for each group, as nux.quantizer makes them). The lowering takes the begin pads; the end pads and
    output_padding are implied by the output shape."""
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported(f"{len(x.shape) - 2}-D ConvTranspose (the NPU lowers 2-D)")
    groups = int(node.attr("group", 1))
    w, w_scale, w_zp = weight(graph, node, 1, y.shape[1] // groups, axis=1)
    w_scale, w_zp = np.tile(w_scale, groups), np.tile(w_zp, groups)
    strides, dilations = ints(node, "strides", [1, 1]), ints(node, "dilations", [1, 1])
    return lower.conv_transpose(
        em, x, y, w, w_scale, w_zp, bias(graph, node, 2, x.scale, w_scale), strides=strides,
        pads_begin=_transpose_pads(node, x.shape[2:], y.shape[2:], w.shape[2:], strides, dilations),
        dilations=dilations, groups=groups, clamp=node.clamp)


def _transpose_pads(node: Node, size, out, kernel, strides, dilations) -> list[int]:
    """Begin pads: explicit, or (auto_pad SAME_*, or an output_shape) the ONNX spec's split of the total padding
    the output shape implies: SAME_UPPER puts the odd pixel at the end, anything else at the begin (onnxruntime
    agrees; the tests check both)."""
    auto = node.attr("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if node.attr("output_shape", None) is None:
        if auto == "NOTSET":
            return ints(node, "pads", [0, 0, 0, 0])[:2]
        if auto == "VALID":
            return [0, 0]
    pads = []
    extra = ints(node, "output_padding", [0, 0])
    for i, o, k, s, d, e in zip(size, out, kernel, strides, dilations, extra, strict=True):
        total = (i - 1) * s + d * (k - 1) + 1 + e - o
        if total < 0:
            raise Unsupported(f"ConvTranspose output {o} larger than its input's reach (negative padding)")
        pads.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return pads


def _pads(onnx_pads: list[int]) -> tuple[int, int, int, int]:
    """ONNX [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end) -> the lowering's (t, l, b, r)."""
    top, left, bottom, right = onnx_pads
    return top, left, bottom, right


@adapter("BatchNormalization")
def batch_norm(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    """Inference BatchNormalization (left unfolded by onnxruntime's quantize_static without pre-processing) as a
    depthwise 1x1 convolution: y = a*x + b per channel with a = scale/sqrt(var + eps), b = B - mean*a.

    Weights are +-127 with per-channel scale |a|/127 so the bias, rounded in accumulator units of x.scale*|a|/127,
    adds at most 0.5 * 1/127 of an input step: the result stays within one output step of the float reference."""
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if len(x.shape) != 4 or node.attr("training_mode", 0):
        raise Unsupported("BatchNormalization of a non-4-D tensor or in training mode")
    values = []
    for i, what in enumerate(("scale", "B", "mean", "var"), start=1):
        t = const(graph, node, i, f"the BatchNormalization {what}")
        if t is None:
            raise Unsupported(f"BatchNormalization without {what}")
        values.append(real_values(t).reshape(-1))
    scale, shift, mean, var = values
    a = scale / np.sqrt(var + float(node.attr("epsilon", 1e-5)))
    b = shift - mean * a
    w_scale = np.where(a != 0, np.abs(a) / 127.0, 1.0)
    bias = np.rint(b / (x.scale * w_scale))
    if np.any(np.abs(bias) >= 2**31):
        raise Unsupported("BatchNormalization shift too large for an int32 bias")
    w = (127 * np.sign(a)).astype(np.int8).reshape(-1, 1, 1, 1)
    return lower.conv2d(em, x, y, w, w_scale, 0, bias.astype(np.int64), groups=x.shape[1], clamp=node.clamp)
