"""ConvTranspose through the whole compiler: quantized by nux.quantizer, lowered onto the NPU, within one output
step of the QDQ reference; cases the NPU does not lower fall back to the host with the reason."""

from __future__ import annotations

import numpy as np
import pytest
from compiler_rig import compile_and_check, float_model, placements
from onnx import helper


def _model(rng, c=4, og=3, k=(3, 3), hw=(5, 6), group=1, bias=True, act=None, **attrs):
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
    if attrs.get("auto_pad", "NOTSET").startswith("SAME"):
        out_hw = [i * si for i, si in zip(hw, s, strict=True)]
    else:
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
    enf, _ = compile_and_check(_model(rng, **attrs))
    assert set(placements(enf).values()) == {"npu"}


def test_output_shape_attribute_falls_back_with_reason(rng):
    model = _model(rng, k=(3, 3), strides=[2, 2], output_shape=[11, 13])
    enf, _ = compile_and_check(model)
    assert list(placements(enf).values()) == ["host"]
    assert "output_shape" in enf.meta["report"]["fallbacks"][0]["reason"]
