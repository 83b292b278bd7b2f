"""ConvTranspose through the whole compiler: quantized by nux.quantizer, lowered onto the NPU, within one output
step of the QDQ reference; cases the NPU does not lower fall back to the host with the reason."""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from compiler_rig import compile_and_check, float_model, placements, run_enf, samples
from nux.executor import quantize as quantize_input
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier
from onnx import helper


def _model(rng, c=4, og=3, k=(3, 3), hw=(5, 6), group=1, bias=True, act=None, out_hw=None, **attrs):
    o = og * group
    inits = {"w": rng.normal(0, 0.4, (c, og, *k)).astype(np.float32)}
    if bias:
        inits["b"] = rng.normal(0, 0.2, o).astype(np.float32)
    out = "t" if act else "y"
    nodes = [helper.make_node("ConvTranspose", ["x", "w"] + (["b"] if bias else []), [out], group=group, **attrs)]
    if act:
        nodes.append(helper.make_node(act, ["t"], ["y"]))
    s, p, op, d = (attrs.get(a, dflt) for a, dflt in (("strides", [1, 1]), ("pads", [0, 0, 0, 0]),
                                                      ("output_padding", [0, 0]), ("dilations", [1, 1])))
    if out_hw is None and attrs.get("auto_pad", "NOTSET").startswith("SAME"):
        out_hw = [i * si for i, si in zip(hw, s, strict=True)]
    elif out_hw is None:
        out_hw = [(i - 1) * s[a] + d[a] * (k[a] - 1) + 1 - p[a] - p[a + 2] + op[a] for a, i in enumerate(hw)]
    return float_model(nodes, {"x": [1, c, *hw]}, {"y": [1, o, *out_hw]}, inits)


@pytest.mark.parametrize("attrs", [
    dict(k=(2, 2), strides=[2, 2]),
    dict(k=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
    dict(k=(4, 3), strides=[2, 3], pads=[1, 0, 2, 1], bias=False),
    dict(k=(3, 3), dilations=[2, 2], pads=[1, 1, 1, 1], act="Relu"),
    dict(k=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], group=2),
    dict(k=(3, 3), strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(k=(3, 3), strides=[2, 2], auto_pad="SAME_LOWER"),
], ids=["unet2x2", "outpad", "asym", "dilated_relu", "groups", "same_upper", "same_lower"])
def test_conv_transpose_on_npu_within_one_step(rng, attrs):
    model = _model(rng, **attrs)
    enf, qdq = compile_and_check(model)
    assert set(placements(enf).values()) == {"npu"}
    if "auto_pad" in attrs:
        return
    graph = nux.compiler.passes.simplify(nux.compiler.import_model(qdq))
    for feeds in samples(model, 2, seed=3):
        xq = quantize_input(feeds["x"], enf.inputs()[0])
        stored = run_enf(enf, {"x": xq}, raw=True)
        np.testing.assert_array_equal(stored["y"], _golden(enf, graph, xq))


def _golden(enf, graph, xq):
    """nux.golden.kernels.conv_transpose of the single ConvTranspose node on the quantized input."""
    node = next(n for n in graph.nodes if n.op == "ConvTranspose")
    x_info, y_info = enf.inputs()[0], enf.outputs()[0]
    w, groups = graph[node.inputs[1]], int(node.attr("group", 1))
    og = w.shape[1]
    w_scale = np.tile(np.broadcast_to(np.asarray(w.quant.scale, np.float64).reshape(-1), (og,)), groups)
    ms = [quantize_multiplier(x_info.scale * s / y_info.scale) for s in w_scale]
    bias = graph[node.inputs[2]].data if len(node.inputs) > 2 and node.inputs[2] else None
    lo, hi = node.clamp or (-128, 127)
    return kernels.conv_transpose(
        xq, w.data, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=x_info.zero_point,
        w_zp=int(np.asarray(w.quant.zero_point).reshape(-1)[0]), out_zp=y_info.zero_point, lo=lo, hi=hi,
        stride=tuple(node.attr("strides", [1, 1])), padding=tuple(node.attr("pads", [0] * 4)),
        output_padding=tuple(node.attr("output_padding", [0, 0])), dilation=tuple(node.attr("dilations", [1, 1])),
        groups=groups)


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_output_shape_attribute_with_odd_total_padding(rng, auto_pad):
    """output_shape overrides pads; the odd pixel's side depends on auto_pad (a wrong side fails the reference)."""
    model = _model(rng, k=(3, 3), strides=[2, 2], output_shape=[10, 12], auto_pad=auto_pad, out_hw=[10, 12])
    enf, _ = compile_and_check(model)
    assert set(placements(enf).values()) == {"npu"}


def test_1d_conv_transpose_runs_on_the_npu_as_2d(rng):
    """passes.window_1d_as_2d: the 1-D ConvTranspose is the 2-D one on (N, C, 1, L) between two Reshapes."""
    model = float_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2])], {"x": [1, 4, 6]},
                        {"y": [1, 3, 13]}, {"w": rng.normal(0, 0.4, (4, 3, 3)).astype(np.float32)})
    enf, _ = compile_and_check(model)
    layers = enf.meta["report"]["layers"]
    assert [r["op"] for r in layers] == ["Reshape", "ConvTranspose", "Reshape"]
    assert {r["placement"] for r in layers} == {"npu"}
