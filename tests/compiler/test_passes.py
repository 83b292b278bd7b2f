"""Each pass alone, on graphs built directly in the IR (as a TFLite front end would), and the arena planner."""

from __future__ import annotations

import numpy as np
import pytest
from nux.compiler.ir import CompileError, Graph, Node, QParams, Tensor
from nux.compiler.memplan import Buffer, plan
from nux.compiler.passes import (
    absorb_flatten_into_gemm,
    explicit_pads,
    fold_pad_into_conv,
    fuse_activations,
    mark_views,
)
from nux.compiler.passes.fuse import FLATTEN_NHWC, same_storage

Q = QParams(0.05, -10)


def _graph(*nodes: Node, tensors: list[Tensor]) -> Graph:
    g = Graph()
    for t in tensors:
        g.add(t)
    g.nodes = list(nodes)
    g.inputs, g.outputs = ["x"], [nodes[-1].outputs[0]]
    g.check()
    return g


def _conv_tensors(mid_quant: QParams | None) -> list[Tensor]:
    w = np.ones((4, 3, 3, 3), np.int8)
    return [Tensor("x", (1, 3, 8, 8), "int8", Q), Tensor("w", w.shape, "int8", QParams(0.01, 0), w),
            Tensor("c", (1, 4, 8, 8), "int8" if mid_quant else "float32", mid_quant),
            Tensor("y", (1, 4, 8, 8), "int8", QParams(0.1, -20))]


def test_relu_after_a_float_intermediate_fuses_into_a_clamp_at_the_zero_point():
    g = _graph(Node("conv", "Conv", ["x", "w"], ["c"]), Node("relu", "Relu", ["c"], ["y"]),
               tensors=_conv_tensors(None))
    fuse_activations(g)
    assert [n.op for n in g.nodes] == ["Conv"] and g.nodes[0].clamp == (-20, 127) and g.nodes[0].outputs == ["y"]


def test_relu_between_differently_quantized_tensors_is_not_fused():
    g = _graph(Node("conv", "Conv", ["x", "w"], ["c"]), Node("relu", "Relu", ["c"], ["y"]),
               tensors=_conv_tensors(QParams(0.2, 0)))
    fuse_activations(g)
    assert [n.op for n in g.nodes] == ["Conv", "Relu"]


def test_clip_bounds_quantize_to_output_integers():
    tensors = _conv_tensors(None) + [Tensor("lo", (), "float32", None, np.array(0.0, np.float32)),
                                     Tensor("hi", (), "float32", None, np.array(6.0, np.float32))]
    g = _graph(Node("conv", "Conv", ["x", "w"], ["c"]), Node("clip", "Clip", ["c", "lo", "hi"], ["y"]),
               tensors=tensors)
    fuse_activations(g)
    assert g.nodes[0].clamp == (-20, 40)  # 6.0 / 0.1 - 20


def test_zero_pad_folds_into_the_conv_pads():
    w = np.ones((4, 3, 3, 3), np.int8)
    g = _graph(Node("pad", "Pad", ["x", "p"], ["xp"]), Node("conv", "Conv", ["xp", "w"], ["y"], {"pads": [0, 0, 0, 0]}),
               tensors=[Tensor("x", (1, 3, 8, 8), "int8", Q), Tensor("p", (8,), "int64", None,
                                                                      np.array([0, 0, 1, 2, 0, 0, 1, 2])),
                        Tensor("xp", (1, 3, 10, 12), "int8", Q), Tensor("w", w.shape, "int8", QParams(0.01, 0), w),
                        Tensor("y", (1, 4, 8, 10), "int8", Q)])
    fold_pad_into_conv(g)
    assert [n.op for n in g.nodes] == ["Conv"] and g.nodes[0].attrs["pads"] == [1, 2, 1, 2]


def test_same_upper_becomes_explicit_pads():
    w = np.ones((4, 3, 5, 5), np.int8)
    g = _graph(Node("conv", "Conv", ["x", "w"], ["y"], {"auto_pad": b"SAME_UPPER", "strides": [2, 2]}),
               tensors=[Tensor("x", (1, 3, 8, 8), "int8", Q), Tensor("w", w.shape, "int8", QParams(0.01, 0), w),
                        Tensor("y", (1, 4, 4, 4), "int8", Q)])
    explicit_pads(g)
    assert g.nodes[0].attrs["pads"] == [1, 1, 2, 2] and "auto_pad" not in g.nodes[0].attrs


@pytest.mark.parametrize("src, dst, free", [((1, 8, 1, 1), (1, 8), True), ((1, 1, 4, 4), (1, 16), True),
                                            ((1, 2, 2, 2), (1, 8), False), ((2, 6), (3, 4), True)])
def test_views_only_where_bytes_stay_put(src, dst, free):
    assert same_storage(src, dst) is free
    g = _graph(Node("r", "Reshape", ["x", "s"], ["y"]), tensors=[
        Tensor("x", src, "int8", Q), Tensor("s", (len(dst),), "int64", None, np.array(dst)),
        Tensor("y", dst, "int8", Q)])
    mark_views(g)
    assert g.nodes[0].view is free


def test_flatten_before_gemm_becomes_a_view_and_permutes_the_weights():
    b = np.arange(8 * 3, dtype=np.int8).reshape(8, 3)
    g = _graph(Node("f", "Flatten", ["x"], ["f"]), Node("g", "Gemm", ["f", "b"], ["y"]), tensors=[
        Tensor("x", (1, 2, 2, 2), "int8", Q), Tensor("f", (1, 8), "int8", Q),
        Tensor("b", (8, 3), "int8", QParams(0.01, 0), b), Tensor("y", (1, 3), "int8", Q)])
    absorb_flatten_into_gemm(g)
    mark_views(g)
    assert g.nodes[0].op == FLATTEN_NHWC and g.nodes[0].view
    x = np.arange(8).reshape(1, 2, 2, 2)
    nhwc = x.transpose(0, 2, 3, 1).reshape(1, 8)
    np.testing.assert_array_equal(nhwc @ g[g.nodes[1].inputs[1]].data, x.reshape(1, 8) @ b)


def test_check_names_a_node_reading_an_undefined_tensor():
    g = Graph(tensors={"x": Tensor("x", (1,), "int8", Q)}, inputs=["x"], outputs=["y"],
              nodes=[Node("n", "Relu", ["z"], ["y"])])
    with pytest.raises(CompileError, match="node 'n' .*reads 'z'"):
        g.check()


def test_arena_plan_reuses_bytes_of_buffers_never_live_together():
    buffers = [Buffer("a", 1000, 0, 1), Buffer("b", 1000, 1, 2), Buffer("c", 1000, 2, 3), Buffer("s", 64, 1, 1)]
    offsets, end = plan(buffers)
    assert offsets["a"] == offsets["c"] and offsets["a"] != offsets["b"]
    spans = {k: (offsets[k], offsets[k] + b.size) for k, b in zip("abcs", buffers, strict=True)}
    for x, y in [("a", "b"), ("b", "c"), ("a", "s"), ("b", "s")]:
        assert spans[x][1] <= spans[y][0] or spans[y][1] <= spans[x][0], (x, y)
    assert end <= 2 * 1024 + 64 and all(o % 64 == 0 for o in offsets.values())
