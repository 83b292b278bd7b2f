"""Softmax, LpNormalization, ReduceL2/Sum/Mean/Max on ISA 1.1 (REDUCE, LUTW, REQUANT row_scale, GATHER).

- lowerings on the golden machine (in order and decoupled) equal the golden op-level kernels (`kernels.softmax`,
  `l2_normalize`, `reduce_l2`, `reduce_sum`, `reduce_max`; LpNormalization p = 1: a reference built from golden
  pieces) bit for bit, across layouts: contiguous and lane-strided (GATHER) axes, tails, several bands, dims 4/8/16;
- ONNX models compile with fallback=False and match onnxruntime's float-simulated QDQ within one step;
- TFLite L2_NORMALIZATION equals ai-edge-litert's reference kernel bit for bit (int8 and uint8), SOFTMAX within
  one step (TFLite's own int8 softmax uses a float table);
- a classifier ending in a 1000-way Softmax runs entirely on the NPU; on an ISA 1.0 target Softmax falls back
  with the reason.
"""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from compiler_rig import compile_and_check, float_model, placements, quantize, run_enf, samples
from lower.lower_rig import emitter, run
from nux.compiler.lower import Unsupported, lp_normalize, reduce_l2, reduce_max, reduce_mean, reduce_sum, softmax
from nux.compiler.lower.rowgroups import row_scale_params
from nux.golden import kernels
from nux.golden.requant import mbqm, requant
from nux.golden.rowops import recip_multiplier
from nux.reference import run_onnx
from onnx import helper
from test_tflite_synthetic import _input, assert_within_one_step, run_both
from tflite_builder import TflBuilder


def _values(rng, shape, dtype):
    lo, hi = (-128, 128) if dtype == "int8" else (0, 256)
    return rng.integers(lo, hi, size=shape).astype(dtype)


def _cast(values: np.ndarray, signed: bool) -> np.ndarray:
    lo, hi = (-128, 127) if signed else (0, 255)
    return np.clip(values, lo, hi).astype(np.int8 if signed else np.uint8)


# ------------------------------------------------------------------------------------- references
def softmax_reference(x, x_scale, y_scale, y_zp, y_signed, axes, beta=1.0):
    """Golden kernels.softmax over the (trailing, merged) axes: their order does not matter to a softmax."""
    axes = sorted(int(a) % x.ndim for a in axes)
    moved = np.moveaxis(x, axes, list(range(x.ndim - len(axes), x.ndim)))
    flat = moved.reshape(*moved.shape[: x.ndim - len(axes)], -1)
    out = kernels.softmax(flat, in_scale=x_scale, out_scale=y_scale, out_zp=y_zp, beta=beta, axis=-1,
                          out_signed=y_signed)
    return np.moveaxis(out.reshape(moved.shape), list(range(x.ndim - len(axes), x.ndim)), axes)


def l1_normalize_reference(x, x_zp, y_scale, y_zp, y_signed, axis):
    """normalize.py's docstring (p = 1): MBQM(x - zp, RECIP(sum|x - zp|, P)), then the lane stage."""
    v = x.astype(np.int64) - x_zp
    p, m2, s2 = row_scale_params(1.0, y_scale)
    m, s = recip_multiplier(np.abs(v).sum(axis=axis, keepdims=True), p)
    scaled = mbqm(v, np.broadcast_to(m, v.shape), np.broadcast_to(s, v.shape))
    lo, hi = (-128, 127) if y_signed else (0, 255)
    return _cast(requant(scaled, m2, s2, y_zp, lo, hi), y_signed)


# ------------------------------------------------------------------------------------- lowerings, exact
SOFTMAX_CASES = [  # (shape, axes, dim, sp_rows, acc_rows, dtype, beta)
    ((3, 19), (1,), 8, 512, 256, "int8", 1.0),            # last axis, tail row, a vector per band
    ((2, 21, 5, 4), (1,), 4, 128, 64, "uint8", 1.0),      # channels of NHWC: many vectors, several bands
    ((1, 3, 10, 4), (2,), 8, 512, 256, "int8", 0.5),      # H of NHWC: lane-strided GATHER / STORE, beta
    ((2, 3, 4, 5), (1, 2, 3), 4, 256, 128, "int8", 1.0),  # ONNX < 13: the trailing axes of each image
    ((1, 1000), (1,), 8, 512, 256, "int8", 1.0),          # a classifier head: 125 rows, one REQUANT
    ((2, 37), (0,), 16, 1024, 512, "uint8", 1.0),         # the outer axis: lane stride 37
]


@pytest.mark.parametrize(("shape", "axes", "dim", "sp", "acc", "dtype", "beta"), SOFTMAX_CASES)
def test_softmax_lowering_is_exact(shape, axes, dim, sp, acc, dtype, beta):
    rng = np.random.default_rng(sum(shape) + dim)
    em = emitter(dim, sp, acc)
    x = em.activation(shape, dtype, 0.07, 3 if dtype == "int8" else 120)
    y = em.activation(shape, "int8", 1 / 256, -128) if dtype == "int8" else em.activation(shape, "uint8", 0.0041, 2)
    softmax(em, x, y, axes, beta)
    xv = _values(rng, shape, dtype)
    xv.reshape(-1)[:3] = xv.reshape(-1)[0]  # ties at the maximum
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, softmax_reference(xv, x.scale, y.scale, y.zero_point, y.signed, axes, beta))
    assert len(np.unique(got)) > 3


@pytest.mark.parametrize(("shape", "axis", "dtype", "y_scale", "y_zp"), [
    ((2, 21, 3, 2), 1, "int8", 1 / 128, 0),     # TFLite's int8 L2_NORMALIZATION output
    ((3, 30), 1, "uint8", 1 / 128, 128),        # TFLite's uint8 output
    ((1, 4, 9, 3), 2, "int8", 0.006, -5),       # lane-strided, a general output scale
])
def test_lp_normalize_lowering_is_exact(shape, axis, dtype, y_scale, y_zp):
    rng = np.random.default_rng(len(shape) + axis)
    em = emitter(4, 256, 128)
    x = em.activation(shape, dtype, 0.05, -7 if dtype == "int8" else 131)
    y = em.activation(shape, "int8" if y_zp <= 127 and dtype == "int8" else "uint8", y_scale, y_zp)
    lp_normalize(em, x, y, [axis])
    xv = _values(rng, shape, dtype)
    xv[0] = x.zero_point  # an all-zero vector gives y's zero point
    (got,) = run(em, {x: xv}, [y])
    want = kernels.l2_normalize(xv, x_zp=x.zero_point, axis=axis, out_scale=y_scale, out_zp=y_zp,
                                out_signed=y.signed)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("shape", "axis", "dim"), [((3, 30), 1, 8), ((2, 5, 3, 4), 1, 4), ((1, 4, 9, 3), 2, 8)])
def test_l1_normalize_lowering_is_exact(shape, axis, dim):
    rng = np.random.default_rng(sum(shape))
    em = emitter(dim, 256, 256)
    x = em.activation(shape, "int8", 0.05, 6)
    y = em.activation(shape, "int8", 0.004, -3)
    lp_normalize(em, x, y, [axis], p=1)
    xv = _values(rng, shape, "int8")
    xv[0] = 6  # an all-zero vector
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, l1_normalize_reference(xv, 6, y.scale, y.zero_point, True, axis))


REDUCE_CASES = [  # (shape, axes, out_shape)
    ((2, 5, 3, 4), (1, 2), (2, 4)),           # C and H of NHWC: no strided run, copied first
    ((3, 6, 2, 5), (0,), (1, 6, 2, 5)),       # the batch axis: lane stride H*W*C
    ((1, 3, 7, 5), (3,), (1, 3, 7, 1)),       # W: lane stride C
    ((4, 20, 3), (1, 2), (4,)),               # trailing axes of a 3-D tensor: contiguous
]


@pytest.mark.parametrize(("shape", "axes", "out_shape"), REDUCE_CASES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "l2"])
def test_reduce_lowering_is_exact(shape, axes, out_shape, op):
    rng = np.random.default_rng(sum(shape) + len(op))
    em = emitter(8, 512, 256)
    x = em.activation(shape, "int8", 0.03, 4)
    y = em.activation(out_shape, "uint8" if op == "l2" else "int8", 0.2, 3 if op == "l2" else -2)
    fn = {"sum": reduce_sum, "mean": reduce_mean, "max": reduce_max, "l2": reduce_l2}[op]
    fn(em, x, y, axes)
    xv = _values(rng, shape, "int8")
    (got,) = run(em, {x: xv}, [y])
    golden = dict(x_zp=4, in_scale=0.03, out_scale=0.2, out_zp=y.zero_point, out_signed=y.signed, axes=axes)
    if op == "sum" or op == "mean":
        want = kernels.reduce_sum(xv, **golden, mean=op == "mean")
    else:
        want = {"max": kernels.reduce_max, "l2": kernels.reduce_l2}[op](xv, **golden)
    np.testing.assert_array_equal(got.reshape(-1), want.reshape(-1))


def test_isa_1_0_and_impossible_cases_are_unsupported():
    em = emitter()
    em.isa_minor = 0
    x = em.activation((2, 9))
    for fn in (softmax, lp_normalize, reduce_l2, reduce_max):
        with pytest.raises(Unsupported, match="ISA 1.1"):
            fn(em, x, em.activation((2, 9) if fn in (softmax, lp_normalize) else (2,)), [1])
    with pytest.raises(Unsupported, match="ISA 1.1"):
        reduce_sum(em, em.activation((2, 3, 4)), em.activation((2, 4)), (1,))
    em.isa_minor = 1
    with pytest.raises(Unsupported, match="p=3"):
        lp_normalize(em, x, em.activation((2, 9)), [1], p=3)
    with pytest.raises(Unsupported, match="does not fit"):
        softmax(em, em.activation((1, 40000)), em.activation((1, 40000)), [1])
    with pytest.raises(Unsupported, match="not one strided run"):
        softmax(em, em.activation((1, 3, 4, 5)), em.activation((1, 3, 4, 5)), [1, 2])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_random_layouts_are_exact(seed):
    """Random ranks, shapes, axes, dims, dtypes and scales: Softmax and LpNormalization equal their references."""
    rng = np.random.default_rng(100 + seed)
    rank = int(rng.integers(2, 5))
    shape = tuple(int(d) for d in rng.integers(1, 12, rank))
    axis, dim, beta = int(rng.integers(0, rank)), int(rng.choice([4, 8, 16])), float(rng.uniform(0.3, 2.0))
    dtype = str(rng.choice(["int8", "uint8"]))
    em = emitter(dim, 64 * dim, 32 * dim)
    x = em.activation(shape, dtype, float(rng.uniform(0.01, 0.2)), int(rng.integers(-20, 20)) + 128 * (
        dtype == "uint8"))
    y = em.activation(shape, "int8", float(rng.uniform(0.002, 0.01)), int(rng.integers(-128, 0)))
    z = em.activation(shape, "uint8", 1 / 128, 128)
    softmax(em, x, y, [axis], beta)
    lp_normalize(em, x, z, [axis])
    xv = _values(rng, shape, dtype)
    got_y, got_z = run(em, {x: xv}, [y, z], seeds=1)
    np.testing.assert_array_equal(got_y, softmax_reference(xv, x.scale, y.scale, y.zero_point, True, [axis], beta))
    np.testing.assert_array_equal(got_z, kernels.l2_normalize(xv, x_zp=x.zero_point, axis=axis, out_scale=1 / 128,
                                                              out_zp=128, out_signed=False))


# ------------------------------------------------------------------------------------- ONNX end to end
X = [1, 12, 5, 6]
ONNX_CASES = {
    "Softmax-axis1": ([helper.make_node("Softmax", ["x"], ["y"], axis=1)], X, X, 13),
    "Softmax-opset11": ([helper.make_node("Softmax", ["x"], ["y"], axis=1)], X, X, 11),
    "Softmax-axis3": ([helper.make_node("Softmax", ["x"], ["y"], axis=3)], X, X, 13),
    "LpNormalization-axis1": ([helper.make_node("LpNormalization", ["x"], ["y"], axis=1, p=2)], X, X, 13),
    "LpNormalization-last": ([helper.make_node("LpNormalization", ["x"], ["y"], axis=-1, p=2)], X, X, 13),
    "LpNormalization-p1": ([helper.make_node("LpNormalization", ["x"], ["y"], axis=1, p=1)], X, X, 13),
    "ReduceL2-C": ([helper.make_node("ReduceL2", ["x"], ["y"], axes=[1], keepdims=1)], X, [1, 1, 5, 6], 13),
    "ReduceL2-HW": ([helper.make_node("ReduceL2", ["x"], ["y"], axes=[2, 3], keepdims=0)], X, [1, 12], 13),
    "ReduceSum-CH": ([helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=0)], X, [1, 6], 13),
    "ReduceMean-W": ([helper.make_node("ReduceMean", ["x"], ["y"], axes=[3], keepdims=1)], X, [1, 12, 5, 1], 13),
    "ReduceSum-noop": ([helper.make_node("ReduceSum", ["x"], ["y"], noop_with_empty_axes=1)], X, X, 13),
}


@pytest.mark.parametrize("name", sorted(ONNX_CASES))
def test_onnx_operator_runs_on_the_npu_within_one_step(name):
    nodes, x_shape, y_shape, opset = ONNX_CASES[name]
    inits = {"a": np.array([1, 2], np.int64)} if name == "ReduceSum-CH" else {}
    enf, _ = compile_and_check(float_model(nodes, {"x": x_shape}, {"y": y_shape}, inits, opset=opset),
                               fallback=False)
    assert set(placements(enf).values()) <= {"npu", "view"}


def classifier(classes: int = 1000):
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1.0, (64, classes)).astype(np.float32)
    b = rng.normal(0, 0.1, classes).astype(np.float32)
    return float_model([helper.make_node("Gemm", ["x", "w", "b"], ["z"]),
                        helper.make_node("Softmax", ["z"], ["y"], axis=-1)],
                       {"x": [1, 64]}, {"y": [1, classes]}, {"w": w, "b": b}, opset=13)


def test_classifier_with_1000_way_softmax_runs_entirely_on_the_npu():
    model = classifier()
    enf, qdq = compile_and_check(model, fallback=False)
    assert set(placements(enf).values()) == {"npu"}
    for feeds in samples(model, 2, seed=3):
        ours, ref = run_enf(enf, feeds)["y"], run_onnx(qdq, feeds)["y"]
        assert ours.shape == (1, 1000) and ours.argmax() == ref.argmax() and ours.max() > 0.05


def test_isa_1_0_target_falls_back_with_the_reason():
    qdq = quantize(classifier(10))
    enf = nux.compiler.compile(qdq, isa_minor=0)
    layers = {r["op"]: r for r in enf.meta["report"]["layers"]}
    assert layers["Softmax"]["placement"] == "host" and "ISA 1.1" in layers["Softmax"]["reason"]
    with pytest.raises(nux.compiler.CompileError, match="ISA 1.1"):
        nux.compiler.compile(qdq, isa_minor=0, fallback=False)


# ------------------------------------------------------------------------------------- TFLite
def _l2_model(dtype: str) -> bytes:
    m = TflBuilder()
    x = _input(m, (1, 3, 4, 20), dtype, 0.05, 0 if dtype == "int8" else 128)
    y = m.tensor((1, 3, 4, 20), dtype, 1 / 128, 0 if dtype == "int8" else 128)
    m.op("L2_NORMALIZATION", [x], [y], "L2NormOptions")
    return m.build([x], [y])


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_tflite_l2_normalization_is_bit_exact(dtype):
    for got, want, step in run_both(_l2_model(dtype), np.random.default_rng(6), fallback=False):
        assert step == 1.0
        np.testing.assert_array_equal(got, want)
        assert len(np.unique(want)) > 10


@pytest.mark.parametrize(("dtype", "classes", "beta", "minor"), [("int8", 1000, 1.0, 1), ("uint8", 10, 1.0, 1),
                                                                  ("int8", 24, 0.6, 1), ("int8", 24, 0.6, 0)])
def test_tflite_softmax_within_one_step(dtype, classes, beta, minor):
    """beta is the exp table's (ISA 1.1) or a Mul before the host's Softmax (ISA 1.0)."""
    m = TflBuilder()
    x = _input(m, (2, classes), dtype, 0.08 if classes > 100 else 0.05)
    y = m.tensor((2, classes), dtype, 1 / 256, -128 if dtype == "int8" else 0)
    m.op("SOFTMAX", [x], [y], "SoftmaxOptions", Beta=beta)
    model = m.build([x], [y])
    assert_within_one_step(model, np.random.default_rng(7), isa_minor=minor, fallback=bool(1 - minor))
    (layer,) = nux.compiler.compile(model, isa_minor=minor).meta["report"]["layers"]
    assert layer["placement"] == ("npu" if minor else "host")
