"""Small TFLite models written with the `tflite` package's flatbuffer builders (no TensorFlow), compiled by
nux.compiler, run on the golden device and compared with TFLite's reference kernels (nux.reference.run_tflite):
every output within one quantization step (TFLite rounds like the NPU, so most elements are equal)."""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from nux.compiler.ir import CompileError
from nux.executor import Executor
from nux.reference import run_tflite

tflite = pytest.importorskip("tflite")
from tflite_builder import TflBuilder  # noqa: E402

SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


# ---------------------------------------------------------------------- model pieces
def _weights(rng, shape, dtype, per_channel_axis=None):
    """Random quantized weights: uint8 per tensor (zp 128), or int8 symmetric per channel along an axis."""
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8), 0.02, 128
    channels = shape[per_channel_axis]
    return rng.integers(-127, 128, shape).astype(np.int8), rng.uniform(0.005, 0.02, channels), np.zeros(channels)


def _conv(m: TflBuilder, rng, x: int, x_scale: float, cout: int, k: int, dtype: str, *, depthwise=False,
          out_scale=0.05, out_zp=None, **options) -> int:
    """A CONV_2D (OHWI weights) or DEPTHWISE_CONV_2D ((1, k, k, cout) weights) with an int32 bias."""
    cin = m.tensors[x]["shape"][3]
    shape = (1, k, k, cout) if depthwise else (cout, k, k, cin)
    w, w_scale, w_zp = _weights(rng, shape, dtype, 3 if depthwise else 0)
    wt = m.tensor(shape, dtype, w_scale, w_zp, w, axis=3 if depthwise else 0)
    b_scale = x_scale * np.atleast_1d(w_scale)
    bt = m.tensor((cout,), "int32", b_scale, 0, rng.integers(-2000, 2000, cout), axis=0)
    n, h, w_ = m.tensors[x]["shape"][:3]
    stride = options.get("StrideH", 1)
    size = -(-h // stride) if options.get("Padding", SAME) == SAME else (h - k) // stride + 1
    size_w = -(-w_ // stride) if options.get("Padding", SAME) == SAME else (w_ - k) // stride + 1
    zp = (0 if dtype == "uint8" else -128) if out_zp is None else out_zp
    y = m.tensor((n, size, size_w, cout), dtype, out_scale, zp)
    if depthwise:
        options.setdefault("DepthMultiplier", cout // cin)
    m.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wt, bt], [y],
         "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions", **options)
    return y


def _input(m: TflBuilder, shape, dtype, scale=0.02, zp=None) -> int:
    return m.tensor(shape, dtype, scale, (128 if dtype == "uint8" else 0) if zp is None else zp)


def _feeds(model: bytes, rng) -> list[np.ndarray]:
    from nux.reference import tflite_interpreter

    feeds = []
    for d in tflite_interpreter(model).get_input_details():
        if np.issubdtype(d["dtype"], np.integer):
            info = np.iinfo(d["dtype"])
            feeds.append(rng.integers(info.min, info.max + 1, d["shape"]).astype(d["dtype"]))
        else:
            feeds.append(rng.uniform(-1, 1, d["shape"]).astype(d["dtype"]))
    return feeds


def _nchw(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a


def run_both(model: bytes, rng, **compile_options) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(nux output, TFLite reference output, quantization step) for every output, both in TFLite's layout."""
    enf = nux.compiler.compile(model, **compile_options)
    feeds = _feeds(model, rng)
    ref = run_tflite(model, feeds)
    with Executor(enf, "golden", timeout=120) as ex:
        ours = ex.run({info.name: _nchw(f) for info, f in zip(ex.inputs(), feeds, strict=True)})
        steps = {info.name: info.scale for info in ex.outputs()}
    result = []
    for name, want in ref.items():
        got = ours[name]
        got = got.transpose(0, 2, 3, 1) if got.ndim == 4 else got
        step = 1.0 if np.issubdtype(want.dtype, np.integer) else steps[name]
        result.append((got.reshape(want.shape), want, step))
    return result


def assert_within_one_step(model: bytes, rng, **compile_options) -> None:
    for got, want, step in run_both(model, rng, **compile_options):
        assert got.dtype == want.dtype
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64)) / step
        assert diff.max() <= 1.001, (diff.max(), float(np.mean(diff == 0)))
        assert len(np.unique(want)) > 3, "a degenerate test: the reference output is (nearly) constant"


# ---------------------------------------------------------------------- cases
def conv_relu6_same_stride2(rng, dtype):
    m = TflBuilder()
    x = _input(m, (1, 9, 9, 3), dtype)
    y = _conv(m, rng, x, 0.02, 8, 3, dtype, Padding=SAME, StrideH=2, StrideW=2, FusedActivationFunction=RELU6,
              out_scale=0.03)
    return m.build([x], [y])


def depthwise_multiplier(rng, dtype):
    m = TflBuilder()
    x = _input(m, (1, 8, 7, 3), dtype)
    y = _conv(m, rng, x, 0.02, 6, 3, dtype, depthwise=True, Padding=SAME, StrideH=1, StrideW=1,
              FusedActivationFunction=RELU, out_scale=0.02)
    return m.build([x], [y])


def fully_connected_from_nhwc(rng, dtype):
    """FULLY_CONNECTED flattens its 4-D input in NHWC order: the IR must not flatten NCHW."""
    m = TflBuilder()
    x = _input(m, (1, 3, 3, 4), dtype)
    w, w_scale, w_zp = _weights(rng, (5, 36), dtype, 0)
    wt = m.tensor((5, 36), dtype, w_scale, w_zp, w, axis=0)
    bt = m.tensor((5,), "int32", 0.02 * np.atleast_1d(w_scale), 0, rng.integers(-500, 500, 5))
    y = m.tensor((1, 5), dtype, 0.1, 0 if dtype == "uint8" else 3)
    m.op("FULLY_CONNECTED", [x, wt, bt], [y], "FullyConnectedOptions")
    return m.build([x], [y])


def pools(rng, dtype):
    m = TflBuilder()
    x = _input(m, (1, 7, 7, 4), dtype)
    a = _input(m, (1, 4, 4, 4), dtype)
    b = _input(m, (1, 3, 3, 4), dtype)
    m.op("AVERAGE_POOL_2D", [x], [a], "Pool2DOptions", Padding=SAME, StrideH=2, StrideW=2, FilterHeight=3,
         FilterWidth=3)
    m.op("MAX_POOL_2D", [x], [b], "Pool2DOptions", Padding=VALID, StrideH=2, StrideW=2, FilterHeight=2,
         FilterWidth=2)
    return m.build([x], [a, b])


def add_mul_concat(rng, dtype):
    """ADD with a broadcast per-channel constant, MUL of activations, CONCATENATION on C and on H."""
    m = TflBuilder()
    same = dtype == "int8"  # int8 CONCATENATION needs one scale on every input and the output
    x, z = _input(m, (1, 4, 5, 3), dtype), _input(m, (1, 4, 5, 3), dtype, 0.04 if same else 0.03)
    zp = 128 if dtype == "uint8" else 0
    c = m.tensor((3,), dtype, 0.01, zp, rng.integers(0, 256, 3) if dtype == "uint8" else rng.integers(-128, 128, 3))
    s = _input(m, (1, 4, 5, 3), dtype, 0.04)
    p = _input(m, (1, 4, 5, 3), dtype, 0.04 if same else 0.01)
    cat_c = _input(m, (1, 4, 5, 6), dtype, 0.04 if same else 0.05)
    cat_h = _input(m, (1, 8, 5, 3), dtype, 0.04)
    m.op("ADD", [x, c], [s], "AddOptions", FusedActivationFunction=RELU)
    m.op("MUL", [x, z], [p], "MulOptions")
    m.op("CONCATENATION", [s, p], [cat_c], "ConcatenationOptions", Axis=3)
    m.op("CONCATENATION", [s, z], [cat_h], "ConcatenationOptions", Axis=-3)
    return m.build([x, z], [cat_c, cat_h])


def reshape_pad_mean_softmax(rng, dtype):
    """RESHAPE of a 4-D tensor whose NHWC and NCHW orders differ, PAD, MEAN over W, SOFTMAX and LOGISTIC."""
    m = TflBuilder()
    lo = 0 if dtype == "uint8" else -128
    x = _input(m, (1, 2, 3, 4), dtype)
    r = _input(m, (1, 4, 3, 2), dtype)
    shape = m.tensor((4,), "int32", data=[1, 4, 3, 2])
    paddings = m.tensor((4, 2), "int32", data=[[0, 0], [1, 0], [0, 2], [0, 0]])
    padded = _input(m, (1, 5, 5, 2), dtype)
    axes = m.tensor((1,), "int32", data=[2])
    mean = _input(m, (1, 5, 2), dtype, 0.01)
    soft = m.tensor((1, 5, 2), dtype, 1 / 256, lo)
    sig = m.tensor((1, 4, 3, 2), dtype, 1 / 256, lo)
    m.op("RESHAPE", [x, shape], [r])
    m.op("PAD", [r, paddings], [padded])
    m.op("MEAN", [padded, axes], [mean], "ReducerOptions", KeepDims=False)
    m.op("SOFTMAX", [mean], [soft], "SoftmaxOptions", Beta=1.0)
    m.op("LOGISTIC", [r], [sig])
    return m.build([x], [soft, sig, padded])


def transpose_and_reshapes(rng, dtype):
    """TRANSPOSE of a 4-D tensor, then RESHAPEs 4-D -> 3-D -> 4-D whose NHWC and NCHW orders differ."""
    m = TflBuilder()
    x = _input(m, (1, 2, 3, 4), dtype)
    t = _input(m, (1, 3, 4, 2), dtype)
    r3 = _input(m, (1, 6, 4), dtype)
    r4 = _input(m, (1, 2, 2, 6), dtype)
    shapes = [m.tensor((len(s),), "int32", data=s) for s in ([0, 2, 3, 1], [1, 6, 4], [1, 2, 2, 6])]
    m.op("TRANSPOSE", [x, shapes[0]], [t])
    m.op("RESHAPE", [t, shapes[1]], [r3])
    m.op("RESHAPE", [r3, shapes[2]], [r4])
    return m.build([x], [t, r3, r4])


def slice_4d(rng, dtype):
    """SLICE with begin/size in TFLite's NHWC axes (size -1: to the end)."""
    m = TflBuilder()
    x = _input(m, (1, 4, 5, 3), dtype)
    y = _input(m, (1, 2, 4, 2), dtype)
    begin, size = m.tensor((4,), "int32", data=[0, 1, 1, 1]), m.tensor((4,), "int32", data=[1, 2, -1, 2])
    m.op("SLICE", [x, begin, size], [y])
    return m.build([x], [y])


def space_depth_split_reduce(rng, dtype):
    """SPACE_TO_DEPTH, DEPTH_TO_SPACE, SPLIT on C, REDUCE_MAX over H, W and SUM/MEAN over C without keep_dims."""
    m = TflBuilder()
    x = _input(m, (1, 4, 6, 2), dtype)
    s2d, d2s = _input(m, (1, 2, 3, 8), dtype), _input(m, (1, 4, 6, 2), dtype)
    halves = [_input(m, (1, 2, 3, 4), dtype) for _ in range(2)]
    top = _input(m, (1, 1, 1, 4), dtype)
    total = _input(m, (1, 2, 3), dtype, 0.05)
    m.op("SPACE_TO_DEPTH", [x], [s2d], "SpaceToDepthOptions", BlockSize=2)
    m.op("DEPTH_TO_SPACE", [s2d], [d2s], "DepthToSpaceOptions", BlockSize=2)
    m.op("SPLIT", [m.tensor((), "int32", data=3), s2d], halves, "SplitOptions", NumSplits=2)
    m.op("REDUCE_MAX", [halves[0], m.tensor((2,), "int32", data=[1, 2])], [top], "ReducerOptions", KeepDims=True)
    # int8 SUM: TFLite's BUILTIN_REF kernel (ai-edge-litert 2.3) returns values far from the real sum, which nux
    # computes; MEAN stands in for it there
    reducer = "SUM" if dtype == "uint8" else "MEAN"
    m.op(reducer, [halves[1], m.tensor((1,), "int32", data=[3])], [total], "ReducerOptions", KeepDims=False)
    return m.build([x], [d2s, halves[0], top, total])


def resize_prelu_mirror_pad(rng, dtype):
    """RESIZE_NEAREST_NEIGHBOR in its three coordinate modes, PRELU with a per-channel slope, MIRROR_PAD."""
    m = TflBuilder()
    x = _input(m, (1, 3, 5, 2), dtype)
    size = m.tensor((2,), "int32", data=[6, 7])
    outs = []
    for flags in ({}, {"HalfPixelCenters": True}, {"AlignCorners": True}):
        outs.append(_input(m, (1, 6, 7, 2), dtype))
        m.op("RESIZE_NEAREST_NEIGHBOR", [x, size], [outs[-1]], "ResizeNearestNeighborOptions", **flags)
    zp = 128 if dtype == "uint8" else 0
    slope = m.tensor((2,), dtype, 0.01, zp, np.array([zp + 20, zp + 50]))
    prelu, padded = _input(m, (1, 3, 5, 2), dtype, 0.015), _input(m, (1, 5, 6, 2), dtype)
    m.op("PRELU", [x, slope], [prelu])
    m.op("MIRROR_PAD", [x, m.tensor((4, 2), "int32", data=[[0, 0], [1, 1], [0, 1], [0, 0]])], [padded],
         "MirrorPadOptions", Mode=0)
    return m.build([x], [*outs, prelu, padded])


def strided_slice_gather_argmax(rng, dtype):
    """STRIDED_SLICE with masks, a negative stride and a shrunk axis; GATHER on C; ARG_MAX to int32."""
    m = TflBuilder()
    x = _input(m, (1, 6, 5, 4), dtype)
    consts = [m.tensor((4,), "int32", data=v) for v in ([0, 1, 4, 0], [1, 6, 0, 4], [1, 2, -2, 1])]
    sliced = _input(m, (1, 3, 2, 4), dtype)  # H 1:6:2, W 4:0:-2 (end masked off: 4, 2, 0 -> 4, 2), C all
    m.op("STRIDED_SLICE", [x, *consts], [sliced], "StridedSliceOptions", BeginMask=0b1000, EndMask=0b1001)
    row = _input(m, (1, 5, 4), dtype)
    rc = [m.tensor((4,), "int32", data=v) for v in ([0, 2, 0, 0], [1, 3, 5, 4], [1, 1, 1, 1])]
    m.op("STRIDED_SLICE", [x, *rc], [row], "StridedSliceOptions", ShrinkAxisMask=0b0010)
    picked = _input(m, (1, 6, 5, 3), dtype)
    m.op("GATHER", [x, m.tensor((3,), "int32", data=[3, 0, 2])], [picked], "GatherOptions", Axis=3)
    best = m.tensor((1, 6, 5), "int32")
    m.op("ARG_MAX", [x, m.tensor((1,), "int32", data=[3])], [best], "ArgMaxOptions", OutputType=2)
    return m.build([x], [sliced, row, picked, best])


def bilinear_and_normalizations(rng, dtype):
    """RESIZE_BILINEAR in its three coordinate modes, LOG_SOFTMAX and L2_NORMALIZATION over C."""
    m = TflBuilder()
    x = _input(m, (1, 3, 4, 3), dtype)
    outs = []
    for flags in ({}, {"HalfPixelCenters": True}, {"AlignCorners": True}):
        outs.append(_input(m, (1, 6, 7, 3), dtype))
        m.op("RESIZE_BILINEAR", [x, m.tensor((2,), "int32", data=[6, 7])], [outs[-1]], "ResizeBilinearOptions",
             **flags)
    top = 255 if dtype == "uint8" else 127
    logs = m.tensor((1, 3, 4, 3), dtype, 16 / 256, top)
    m.op("LOG_SOFTMAX", [x], [logs])
    norm = m.tensor((1, 3, 4, 3), dtype, 1 / 128, 128 if dtype == "uint8" else 0)
    m.op("L2_NORMALIZATION", [x], [norm], "L2NormOptions")
    return m.build([x], [*outs, logs, norm])


def small_cnn(rng, dtype):
    """A whole small network: conv (stride 2, RELU6) -> depthwise (RELU6) -> 1x1 conv -> residual ADD -> MEAN over
    H, W -> FULLY_CONNECTED logits. (No SOFTMAX after: TFLite's int8 softmax approximates exp with fixed-point
    arithmetic, a few steps from the exact softmax the host computes; SOFTMAX alone is tested above.)"""
    m = TflBuilder()
    lo = 0 if dtype == "uint8" else -128
    x = _input(m, (1, 10, 10, 3), dtype)
    c1 = _conv(m, rng, x, 0.02, 8, 3, dtype, Padding=SAME, StrideH=2, StrideW=2, FusedActivationFunction=RELU6,
               out_scale=6 / 255, out_zp=lo)
    c2 = _conv(m, rng, c1, 6 / 255, 8, 3, dtype, depthwise=True, Padding=SAME, StrideH=1, StrideW=1,
               FusedActivationFunction=RELU6,
               out_scale=6 / 255, out_zp=lo)
    c3 = _conv(m, rng, c2, 6 / 255, 8, 1, dtype, Padding=VALID, StrideH=1, StrideW=1, out_scale=0.05,
               out_zp=lo + 128)
    res = _input(m, (1, 5, 5, 8), dtype, 0.06, lo + 100)
    m.op("ADD", [c3, c1], [res], "AddOptions")
    pooled = _input(m, (1, 8), dtype, 0.06, lo + 100)
    m.op("MEAN", [res, m.tensor((2,), "int32", data=[1, 2])], [pooled], "ReducerOptions", KeepDims=False)
    w, w_scale, w_zp = _weights(rng, (10, 8), dtype, 0)
    w_scale = np.atleast_1d(w_scale) / 10  # logits of a few units, inside their int8 range
    logits = _input(m, (1, 10), dtype, 0.05, lo + 128)
    m.op("FULLY_CONNECTED", [pooled, m.tensor((10, 8), dtype, w_scale, w_zp, w, axis=0),
                             m.tensor((10,), "int32", 0.06 * np.atleast_1d(w_scale), 0, rng.integers(-300, 300, 10))],
         [logits], "FullyConnectedOptions")
    return m.build([x], [logits, pooled])


def float_interface(rng, dtype):
    """A float32 model interface: QUANTIZE at the input and DEQUANTIZE at the output become the edges."""
    m = TflBuilder()
    f = m.tensor((1, 6, 6, 2), "float32")
    x = _input(m, (1, 6, 6, 2), dtype, 0.01)
    m.op("QUANTIZE", [f], [x])  # operators are listed in execution order
    y = _conv(m, rng, x, 0.01, 4, 3, dtype, Padding=VALID, StrideH=1, StrideW=1, out_scale=0.05)
    out = m.tensor((1, 4, 4, 4), "float32")
    m.op("DEQUANTIZE", [y], [out])
    return m.build([f], [out])


CASES = [conv_relu6_same_stride2, depthwise_multiplier, fully_connected_from_nhwc, pools, add_mul_concat,
         reshape_pad_mean_softmax, transpose_and_reshapes, slice_4d, space_depth_split_reduce,
         resize_prelu_mirror_pad, strided_slice_gather_argmax, bilinear_and_normalizations, small_cnn,
         float_interface]


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_synthetic_model_matches_tflite_reference(case, dtype):
    rng = np.random.default_rng(1)
    assert_within_one_step(case(rng, dtype), rng)


def test_float_interface_takes_and_returns_float():
    model = float_interface(np.random.default_rng(2), "int8")
    graph = nux.compiler.import_model(model)
    assert graph.io_dtypes == {"t0": "float32", "t5": "float32"}
    assert [n.op for n in graph.nodes] == ["Conv"] and graph.inputs == ["t0"] and graph.outputs == ["t5"]


def test_fused_relu6_is_the_conv_clamp():
    model = conv_relu6_same_stride2(np.random.default_rng(3), "uint8")
    (conv,) = nux.compiler.import_model(model).nodes
    # out scale 0.03, zp 0: RELU6 = [0, round(6 / 0.03)] = [0, 200]; SAME 9 -> 5 with stride 2 pads 1+1
    assert conv.clamp == (0, 200) and conv.attrs["pads"] == [1, 1, 1, 1]


def test_layout_changes_run_on_the_npu():
    """Reshapes across NHWC/NCHW orders become FlattenNHWC views, row-major reshapes and Transposes."""
    enf = nux.compiler.compile(transpose_and_reshapes(np.random.default_rng(4), "int8"))
    assert {r["placement"] for r in enf.meta["report"]["layers"]} <= {"npu", "view"}


def views_between_host_nodes(rng, dtype):
    """MEAN over W (host) -> RESHAPE (FlattenNHWC view) -> RESHAPE (view) -> SOFTMAX (host)."""
    m = TflBuilder()
    x = _input(m, (1, 5, 3, 2), dtype)
    mean, r1, r2 = (_input(m, s, dtype, 0.01) for s in ((1, 5, 1, 2), (1, 10), (1, 5, 2)))
    soft = m.tensor((1, 5, 2), dtype, 1 / 256, 0 if dtype == "uint8" else -128)
    m.op("MEAN", [x, m.tensor((1,), "int32", data=[2])], [mean], "ReducerOptions", KeepDims=True)
    m.op("RESHAPE", [mean, m.tensor((2,), "int32", data=[1, 10])], [r1])
    m.op("RESHAPE", [r1, m.tensor((3,), "int32", data=[1, 5, 2])], [r2])
    m.op("SOFTMAX", [r2], [soft], "SoftmaxOptions", Beta=1.0)
    return m.build([x], [soft])


def test_two_views_between_host_nodes():
    """Two views in a row between host nodes run inside the host graph (they were once placed as arena aliases
    that the merged host graph read before computing them)."""
    rng = np.random.default_rng(8)
    assert_within_one_step(views_between_host_nodes(rng, "int8"), rng)


def test_conv_runs_on_the_npu():
    enf = nux.compiler.compile(depthwise_multiplier(np.random.default_rng(4), "int8"))
    assert [r["placement"] for r in enf.meta["report"]["layers"]] == ["npu"]


@pytest.mark.parametrize("cut", [0, 7, 100, -40])
def test_truncated_model_is_a_compile_error(cut):
    model = conv_relu6_same_stride2(np.random.default_rng(5), "int8")
    with pytest.raises(CompileError):
        nux.compiler.compile(model[:cut] if cut else b"")


def test_corrupt_model_is_a_compile_error():
    """Random bytes overwritten anywhere: a CompileError or a compiled model, never another exception."""
    model = np.frombuffer(conv_relu6_same_stride2(np.random.default_rng(6), "int8"), np.uint8)
    rng = np.random.default_rng(7)
    errors = 0
    for _ in range(60):
        bad = model.copy()
        bad[rng.integers(8, bad.size, 12)] = rng.integers(0, 256, 12)
        try:
            nux.compiler.compile(bad.tobytes())
        except CompileError:
            errors += 1
    assert errors > 10


def test_unknown_operator_names_it_and_its_index():
    m = TflBuilder()
    x = _input(m, (1, 4, 4, 2), "int8")
    y = _input(m, (1, 4, 4, 2), "int8")
    m.op("RELU", [x], [y])
    m.op("SVDF", [y], [_input(m, (1, 4, 4, 2), "int8", 1 / 128)])
    with pytest.raises(CompileError, match=r"operator 1 \(SVDF\)"):
        nux.compiler.compile(m.build([x], [2]))


def test_huge_or_out_of_order_model_is_a_compile_error():
    m = TflBuilder()
    x, y = _input(m, (1, 100000, 100000, 1), "uint8"), _input(m, (1, 100000, 100000, 1), "uint8")
    m.op("RELU", [x], [y])
    with pytest.raises(CompileError, match="2\\*\\*31 elements"):
        nux.compiler.compile(m.build([x], [y]))
    m = TflBuilder()
    x, y, z = (_input(m, (1, 4, 4, 2), "int8") for _ in range(3))
    m.op("RELU", [y], [z])  # reads y before the next operator computes it
    m.op("RELU", [x], [y])
    with pytest.raises(CompileError, match="before"):
        nux.compiler.compile(m.build([x], [z]))


def test_float_model_is_refused_with_a_hint():
    m = TflBuilder()
    x, y = m.tensor((1, 4, 4, 2), "float32"), m.tensor((1, 4, 4, 2), "float32")
    m.op("RELU", [x], [y])
    with pytest.raises(CompileError, match="not quantized"):
        nux.compiler.compile(m.build([x], [y]))
