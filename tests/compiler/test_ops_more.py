"""End to end per operator beyond Conv/Gemm: pools, element-wise, table-lookup unary ops, data movers, reductions.
Each model is a single operator (after a quantized input); it must run on the NPU and match the reference within
one quantization step on >= 99 % of elements; MaxPool and Add also equal the golden op-level kernels exactly."""

from __future__ import annotations

import numpy as np
import pytest
from compiler_rig import compile_and_check, float_model, placements, run_enf, samples
from nux.executor import quantize as quantize_input
from nux.golden import kernels
from onnx import helper

X = [1, 8, 6, 6]


def _i64(*values):
    return np.array(values, dtype=np.int64)


CASES = {
    "MaxPool": ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], {"x": X},
                {"y": [1, 8, 3, 3]}, {}),
    "MaxPool-pad": ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], {"x": X},
                    {"y": X}, {}),
    "AveragePool": ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[1, 1])],
                    {"x": X}, {"y": [1, 8, 4, 4]}, {}),
    "GlobalAveragePool": ([helper.make_node("GlobalAveragePool", ["x"], ["y"])], {"x": X}, {"y": [1, 8, 1, 1]}, {}),
    "Add": ([helper.make_node("Add", ["x", "z"], ["y"])], {"x": X, "z": X}, {"y": X}, {}),
    "Add-const": ([helper.make_node("Add", ["x", "c"], ["y"])], {"x": X}, {"y": X},
                  {"c": np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 8, 1, 1)}),
    "Mul": ([helper.make_node("Mul", ["x", "z"], ["y"])], {"x": X, "z": X}, {"y": X}, {}),
    "Sigmoid": ([helper.make_node("Sigmoid", ["x"], ["y"])], {"x": X}, {"y": X}, {}),
    "Softplus": ([helper.make_node("Softplus", ["x"], ["y"])], {"x": X}, {"y": X}, {}),
    "Exp": ([helper.make_node("Exp", ["x"], ["y"])], {"x": X}, {"y": X}, {}),
    "Concat": ([helper.make_node("Concat", ["x", "z"], ["y"], axis=1)], {"x": X, "z": X}, {"y": [1, 16, 6, 6]},
               {}),
    "Transpose": ([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2])], {"x": X}, {"y": X}, {}),
    "Slice": ([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], {"x": X}, {"y": [1, 8, 3, 6]},
              {"s": _i64(1), "e": _i64(4), "a": _i64(2)}),
    "Split": ([helper.make_node("Split", ["x"], ["y", "y2"], axis=1, num_outputs=2)], {"x": X},
              {"y": [1, 4, 6, 6], "y2": [1, 4, 6, 6]}, {}),
    "Pad": ([helper.make_node("Pad", ["x", "p"], ["y"])], {"x": X}, {"y": [1, 8, 8, 7]},
            {"p": _i64(0, 0, 1, 0, 0, 0, 1, 1)}),
    "Reshape": ([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": X}, {"y": [1, 8, 36]},
                {"s": _i64(1, 8, 36)}),
    "ReduceSum": ([helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=1)], {"x": X}, {"y": [1, 8, 1, 1]},
                  {"a": _i64(2, 3)}),
    "ReduceMean": ([helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=1)], {"x": X},
                   {"y": [1, 1, 6, 6]}, {}),
    "DepthToSpace": ([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": X},
                     {"y": [1, 2, 12, 12]}, {}),
    "Expand": ([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": [1, 8, 1, 6]}, {"y": X},
               {"s": _i64(1, 8, 6, 6)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_on_the_npu_matches_reference(name):
    nodes, inputs, outputs, inits = CASES[name]
    opset = 13 if name == "ReduceMean" else 18
    enf, _ = compile_and_check(float_model(nodes, inputs, outputs, inits, opset=opset))
    layers = [r for r in enf.meta["report"]["layers"] if not r["view"]]
    assert [r["placement"] for r in layers] == ["npu"] * len(layers), layers


def test_maxpool_and_add_equal_the_golden_kernels():
    model = float_model([helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                         helper.make_node("Add", ["p", "z"], ["y"])], {"x": X, "z": [1, 8, 3, 3]},
                        {"y": [1, 8, 3, 3]})
    enf, _ = compile_and_check(model)
    assert set(placements(enf).values()) == {"npu"}
    infos = {t.name: t for t in enf.tensors}
    for feeds in samples(model, 2, seed=11):
        stored = {n: quantize_input(v, infos[n]) for n, v in feeds.items()}
        ours = run_enf(enf, stored, raw=True)["y"]
        pooled = kernels.max_pool2d(stored["x"], 2, 2)  # MaxPool keeps the input's quantization
        x, z, y = infos["x"], infos["z"], infos["y"]
        expect = kernels.qadd(pooled, stored["z"], a_zp=x.zero_point, a_scale=x.scale, b_zp=z.zero_point,
                              b_scale=z.scale, out_zp=y.zero_point, out_scale=y.scale)
        np.testing.assert_array_equal(ours, expect)


def test_gemm_with_a_bias_per_row_beyond_the_split_limit_falls_back_with_a_reason():
    """A full (M, N) Gemm bias with M above the per-row split limit: the host computes it, with the reason,
    instead of the lowering crashing on a bias that is not one value per column."""
    rng = np.random.default_rng(3)
    m, k, n = 80, 16, 8
    inits = {"w": rng.normal(0, 0.3, (k, n)).astype(np.float32), "c": rng.normal(0, 0.1, (m, n)).astype(np.float32)}
    model = float_model([helper.make_node("Gemm", ["x", "w", "c"], ["y"])], {"x": [m, k]}, {"y": [m, n]}, inits)
    enf, _ = compile_and_check(model)
    host = [layer for layer, where in placements(enf).items() if where == "host"]
    assert host, placements(enf)
    assert "varies along rows" in str(enf.meta["report"]), enf.meta["report"]
