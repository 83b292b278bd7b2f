"""End to end per operator: float model -> nux.quantizer -> nux.compiler -> executor on the golden device.

Dequantized outputs must be within one quantization step of the reference (onnxruntime, float-simulated QDQ) on
>= 99 % of elements; where a golden op-level kernel exists, the int8 outputs must equal it exactly.
"""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from compiler_rig import compile_and_check, float_model, placements, quantize, run_enf, samples
from nux.executor import quantize as quantize_input
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier
from onnx import helper


def _conv_model(rng, c=3, o=8, k=3, pads=(1, 1, 1, 1), strides=(1, 1), group=1, act=None, hw=10, bias=True):
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["c" if act else "y"], pads=list(pads),
                              strides=list(strides), group=group, kernel_shape=[k, k])]
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    elif act == "Clip":
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    out = (hw + pads[0] + pads[2] - k) // strides[0] + 1
    inits = {"w": rng.normal(0, 0.3, (o, c // group, k, k)).astype(np.float32),
             "lo": np.array(0.0, np.float32), "hi": np.array(0.5, np.float32)}
    if bias:
        inits["b"] = rng.normal(0, 0.1, o).astype(np.float32)
    if act != "Clip":
        inits.pop("lo"), inits.pop("hi")
    return float_model(nodes, {"x": [1, c, hw, hw]}, {"y": [1, o, out, out]}, inits)


def _golden_conv(enf, graph, x_float):
    """The golden op-level conv of the single Conv node in `graph` on the quantized input."""
    node = next(n for n in graph.nodes if n.op == "Conv")
    x_info, y_info = enf.inputs()[0], enf.outputs()[0]
    xq = quantize_input(x_float, x_info)
    w = graph[node.inputs[1]]
    o = w.shape[0]
    w_scale = np.broadcast_to(np.asarray(w.quant.scale, np.float64).reshape(-1), (o,))
    ms = [quantize_multiplier(x_info.scale * s / y_info.scale) for s in w_scale]
    bias = graph[node.inputs[2]].data if len(node.inputs) > 2 and node.inputs[2] else None
    lo, hi = node.clamp or (-128, 127)
    return kernels.conv2d(xq, w.data, bias, [m for m, _ in ms], [s for _, s in ms], x_zp=x_info.zero_point,
                          w_zp=np.asarray(w.quant.zero_point).reshape(-1), out_zp=y_info.zero_point, lo=lo, hi=hi,
                          stride=tuple(node.attr("strides", [1, 1])), padding=tuple(node.attr("pads", [0] * 4)),
                          groups=int(node.attr("group", 1)))


@pytest.mark.parametrize("case", [
    dict(), dict(act="Relu"), dict(act="Clip"), dict(strides=(2, 2)), dict(pads=(0, 0, 0, 0), bias=False),
    dict(c=8, o=8, group=8), dict(c=4, o=6, group=2, k=1, pads=(0, 0, 0, 0)),
], ids=["plain", "relu", "clip", "stride2", "nopad-nobias", "depthwise", "grouped-1x1"])
def test_conv_on_npu_matches_golden_kernel_and_reference(rng, case):
    model = _conv_model(rng, **case)
    enf, qdq = compile_and_check(model)
    assert set(placements(enf).values()) == {"npu"}
    graph = nux.compiler.passes.simplify(nux.compiler.import_model(qdq))
    for feeds in samples(model, 2, seed=3):
        raw = run_enf(enf, feeds, raw=False)
        stored = run_enf(enf, {"x": quantize_input(feeds["x"], enf.inputs()[0])}, raw=True)
        np.testing.assert_array_equal(stored["y"], _golden_conv(enf, graph, feeds["x"]))
        assert raw["y"].dtype == np.float32


def test_relu_is_fused_into_the_conv(rng):
    qdq_graph = nux.compiler.passes.simplify(nux.compiler.import_model(
        quantize(_conv_model(rng, act="Relu"))))
    assert [n.op for n in qdq_graph.nodes] == ["Conv"]
    (conv,) = qdq_graph.nodes
    assert conv.clamp[0] == qdq_graph[conv.outputs[0]].quant.scalar_zero_point and conv.fused


def test_softmax_falls_back_to_the_host_of_a_1_0_npu_and_matches(rng):
    model = float_model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                         helper.make_node("Softmax", ["c"], ["y"], axis=1)],
                        {"x": [1, 3, 6, 6]}, {"y": [1, 4, 6, 6]}, {"w": rng.normal(0, 0.5, (4, 3, 3, 3)).astype(
                            np.float32)})
    enf, _ = compile_and_check(model, isa_minor=0)
    report = enf.meta["report"]
    assert [r["placement"] for r in report["layers"]] == ["npu", "host"]
    assert report["fallbacks"][0]["reason"] == "needs ISA 1.1 (the target implements ISA 1.0)"
    assert [s.kind.name for s in enf.run_steps()] == ["NPU", "HOST"]


def test_no_fallback_is_an_error(rng):
    model = float_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": [1, 10]}, {"y": [1, 10]})
    qdq = quantize(model)
    with pytest.raises(nux.compiler.CompileError, match=r"Softmax.*needs ISA 1.1"):
        nux.compiler.compile(qdq, fallback=False, isa_minor=0)


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "Relu", "Softplus", "Exp"])
def test_unary_ops_run_and_match(op):
    model = float_model([helper.make_node(op, ["x"], ["y"])], {"x": [1, 4, 5, 5]}, {"y": [1, 4, 5, 5]})
    compile_and_check(model)


def test_maxpool_and_gemm_model_runs(rng):
    model = float_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("Gemm", ["f", "g", "gb"], ["y"], transB=1)],
        {"x": [1, 2, 8, 8]}, {"y": [1, 5]},
        {"w": rng.normal(0, 0.4, (4, 2, 3, 3)).astype(np.float32), "g": rng.normal(0, 0.2, (5, 64)).astype(
            np.float32), "gb": rng.normal(0, 0.1, 5).astype(np.float32)})
    enf, _ = compile_and_check(model)
    assert list(placements(enf).values())[0] == "npu"


@pytest.mark.parametrize("op, where", [("LeakyRelu", "npu"), ("Sin", "host")])
def test_an_op_the_quantizer_keeps_in_float(rng, op, where):
    """LeakyRelu and Sin are not quantized by nux.quantizer: they read dequantized values and their float output is
    quantized again before the next Conv. Between quantized tensors LeakyRelu is a byte -> byte table on the NPU;
    Sin (no table adapter) runs in a host graph that does exactly the QDQ computation."""
    model = float_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node(op, ["c"], ["l"]), helper.make_node("Conv", ["l", "w2"], ["y"])],
        {"x": [1, 2, 6, 6]}, {"y": [1, 3, 4, 4]},
        {"w": rng.normal(0, 0.4, (4, 2, 3, 3)).astype(np.float32), "w2": rng.normal(0, 0.3, (3, 4, 3, 3)).astype(
            np.float32)})
    enf, _ = compile_and_check(model)
    assert list(placements(enf).values()) == ["npu", where, "npu"]


def test_gemm_with_alpha_and_bias_follows_onnx_semantics(rng):
    model = float_model([helper.make_node("Gemm", ["x", "g", "gb"], ["y"], transB=1, alpha=0.5)], {"x": [2, 24]},
                        {"y": [2, 6]}, {"g": rng.normal(0, 0.3, (6, 24)).astype(np.float32),
                                        "gb": rng.normal(0, 0.5, 6).astype(np.float32)})
    enf, _ = compile_and_check(model)
    assert list(placements(enf).values()) == ["npu"]
