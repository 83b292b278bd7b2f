"""ISA 1.1 in the data movers and the GEMM schedule (issue 10): Transpose, DepthToSpace, SpaceToDepth, Gather and
the channel shuffle by GATHER / STORE lane_stride rows; GEMM bias_en and wzp_en in conv/gemm.

Every lowering runs on the golden machine (in order and decoupled) for a 1.0 target and a 1.1 target and must
equal NumPy / the golden kernels exactly; the 1.0 program must not use any 1.1 addition; whole models compile
with fallback=False and match onnxruntime within one output step (movers: exactly) and TFLite exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import nux.compiler
import onnx
import pytest
from compiler_rig import assert_close_in_steps, float_model, placements, quantize, run_enf, samples
from nux.compiler.lower import ArenaEmitter, Unsupported
from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.movers import depth_to_space, gather, progressions, space_to_depth, transpose
from nux.compiler.lower.perf import predict_cycles
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier
from nux.isa import NpuConfig, Opcode, parse_program, required_minor
from nux.reference import run_onnx
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent / "lower"))
from lower_rig import emitter, run  # noqa: E402  (the golden runner of the lowering tests, in order and decoupled)

MINORS = (0, 1)


def _emitter(isa_minor: int, sp_rows: int = 64, acc_rows: int = 64) -> ArenaEmitter:
    return emitter(8, sp_rows, acc_rows, isa_minor)  # a small SP: many bands


def _rand(rng, shape, dtype="int8"):
    lo, hi = (-128, 128) if dtype == "int8" else (0, 256)
    return rng.integers(lo, hi, size=shape).astype(dtype)


def _uses_11(program) -> bool:
    return any(ins.opcode is Opcode.GATHER or ins.values.get("lane_stride", 0) for ins in program)


def _check_minor(em: ArenaEmitter) -> None:
    """A 1.0 target gets a 1.0 program; a 1.1 program's required minor is what it uses."""
    assert required_minor(em.program) == (1 if em.isa_minor and _uses_11(em.program) or any(
        ins.values.get("bias_en", 0) or ins.values.get("wzp_en", 0) for ins in em.program) else 0)


# ---------------------------------------------------------------------- op level: exact vs NumPy
TRANSPOSES = [((1, 6, 3, 5), (0, 2, 3, 1)), ((4, 5, 6), (2, 0, 1)), ((7, 19), (1, 0)),
              ((1, 5, 4, 3), (0, 1, 3, 2)), ((1, 16, 4, 4), (0, 1, 3, 2)), ((2, 3, 4, 5, 6), (0, 3, 1, 4, 2)),
              ((2, 2, 3, 2, 3, 2), (5, 3, 1, 0, 2, 4))]


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize(("shape", "perm"), TRANSPOSES)
def test_transpose_any_perm_exact(shape, perm, minor):
    rng = np.random.default_rng(sum(shape) + len(perm))
    em = _emitter(minor)
    x = em.activation(shape)
    y = em.activation(tuple(shape[p] for p in perm))
    cost = transpose(em, x, y, perm)
    xv = _rand(rng, shape)
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, xv.transpose(perm))
    _check_minor(em)
    assert cost.predicted_cycles == predict_cycles(em.config, em.program)


def _cycles(minor: int, lower, shapes, *args) -> tuple[int, list]:
    em = _emitter(minor, sp_rows=512)
    x, y = (em.activation(s) for s in shapes)
    cost = lower(em, x, y, *args)
    return cost.predicted_cycles, em.program


def test_transpose_moving_the_innermost_axis_is_faster_on_11():
    """NHWC (1, 32, 16, 16) -> channels-last transpose moves the innermost axis: 1.0 copies one byte per row."""
    shapes = [(1, 32, 16, 16), (1, 16, 16, 32)]
    old, old_program = _cycles(0, transpose, shapes, (0, 2, 3, 1))
    new, new_program = _cycles(1, transpose, shapes, (0, 2, 3, 1))
    assert not _uses_11(old_program) and _uses_11(new_program)
    assert new < old / 2, (new, old)  # modelled: the store side stops being one burst per byte


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize(("mode", "block", "c"), [("DCR", 2, 12), ("CRD", 2, 12), ("CRD", 3, 18), ("DCR", 2, 64),
                                                  ("CRD", 2, 64)])
def test_depth_to_space_exact(mode, block, c, minor):
    rng = np.random.default_rng(block * c)
    em = _emitter(minor)
    n, h, w = 1, 3, 4
    x = em.activation((n, c, h, w))
    cp = c // (block * block)
    y = em.activation((n, cp, h * block, w * block))
    depth_to_space(em, x, y, block, mode)
    xv = _rand(rng, x.shape)
    (got,) = run(em, {x: xv}, [y])
    if mode == "DCR":
        want = xv.reshape(n, block, block, cp, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        want = xv.reshape(n, cp, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
    np.testing.assert_array_equal(got, want.reshape(y.shape))
    _check_minor(em)


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize(("c", "block"), [(3, 2), (8, 2), (2, 3)])
def test_space_to_depth_inverts_dcr(c, block, minor):
    rng = np.random.default_rng(c + block)
    em = _emitter(minor)
    x = em.activation((2, c, 2 * block, 3 * block))
    s = em.activation((2, c * block * block, 2, 3))
    back = em.activation(x.shape)
    space_to_depth(em, x, s, block)
    depth_to_space(em, s, back, block, "DCR")
    xv = _rand(rng, x.shape)
    got_s, got_back = run(em, {x: xv}, [s, back])
    want = xv.reshape(2, c, 2, block, 3, block).transpose(0, 3, 5, 1, 2, 4).reshape(s.shape)
    np.testing.assert_array_equal(got_s, want)
    np.testing.assert_array_equal(got_back, xv)


def shuffle_index(c: int, groups: int) -> np.ndarray:
    return np.arange(c).reshape(groups, c // groups).T.ravel()


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize(("shape", "index", "axis"), [
    ((1, 24, 5, 3), shuffle_index(24, 3), 1), ((1, 12, 4, 4), shuffle_index(12, 2), 1),
    ((1, 10, 3, 3), [9, 2, 2, 5, 0, 1, 2, 3], 1), ((2, 7, 6), [5, 3, 1], 2), ((2, 7, 6), [6, 4, 2, 0], 1),
    ((5, 8), [-1, 0, 4], 0),
    ((1, 9, 2, 2), 4, 1)])
def test_gather_exact(shape, index, axis, minor):
    rng = np.random.default_rng(len(shape) + axis)
    em = _emitter(minor)
    x = em.activation(shape)
    want_shape = np.take(np.zeros(shape), index, axis).shape
    y = em.activation(want_shape)
    gather(em, x, y, np.atleast_1d(index), axis, keep_axis=np.ndim(index) == 1)
    xv = _rand(rng, shape)
    (got,) = run(em, {x: xv}, [y])
    np.testing.assert_array_equal(got, np.take(xv, index, axis))
    _check_minor(em)


def test_progressions_find_the_box_of_a_shuffle():
    assert progressions(shuffle_index(12, 3)) == [(4, 1), (3, 4)]
    assert progressions(np.arange(2, 9, 3)) == [(3, 3)]
    assert progressions(np.array([0, 1, 5])) is None


# ---------------------------------------------------------------------- GEMM bias_en and wzp_en
def _conv_case(minor: int, rng, *, w_dtype="uint8", per_channel=True, o=12, c=10, k=1, groups=1):
    em = _emitter(minor, sp_rows=512, acc_rows=256)
    x_zp = int(rng.integers(-128, 128))
    xv = _rand(rng, (1, c, 6, 5))
    wv = _rand(rng, (o, c // groups, k, k), w_dtype)
    lo, hi = (0, 256) if w_dtype == "uint8" else (-128, 128)
    w_zp = rng.integers(lo, hi, size=o) if per_channel else int(rng.integers(lo, hi))
    w_scale = rng.uniform(0.002, 0.02, size=o)
    bias = rng.integers(-5000, 5000, size=o)
    x = em.activation(xv.shape, "int8", 0.05, x_zp)
    y_scale = 0.1 * k * k * (4 if w_dtype == "uint8" else 1)  # keep the random sums inside the output range
    y = em.activation((1, o, 6, 5), "int8", y_scale, 3)
    cost = conv2d(em, x, y, wv, w_scale, w_zp, bias, pads=(k // 2,) * 4, groups=groups)
    (got,) = run(em, {x: xv}, [y])
    ms = [quantize_multiplier(0.05 * sc / y_scale) for sc in w_scale]
    want = kernels.conv2d(xv, wv, bias, [p[0] for p in ms], [p[1] for p in ms], x_zp=x_zp, w_zp=w_zp, out_zp=3,
                          padding=k // 2, groups=groups)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 8
    return cost, em


@pytest.mark.parametrize(("w_dtype", "k", "groups"), [("uint8", 1, 1), ("int8", 3, 1), ("uint8", 3, 2)])
def test_per_channel_weight_zero_points_use_wzp_en(w_dtype, k, groups):
    """Per-channel zero points with w - zp outside int8: a 1.0 target cannot fold them (host fallback), 1.1
    subtracts them at preload (GEMM wzp_en) and equals the golden conv kernel."""
    with pytest.raises(Unsupported, match="zero points"):
        _conv_case(0, np.random.default_rng(k), w_dtype=w_dtype, k=k, groups=groups)
    _, em = _conv_case(1, np.random.default_rng(k), w_dtype=w_dtype, k=k, groups=groups)
    assert any(ins.values.get("wzp_en") for ins in em.program)
    assert required_minor(em.program) == 1


@pytest.mark.parametrize("k", [1, 3])
def test_bias_en_replaces_broadcast_bias_loads(k):
    """Same results, 1.1 initialises ACC from one bias row per tile (GEMM bias_en): fewer loaded bytes."""
    old, old_em = _conv_case(0, np.random.default_rng(5), w_dtype="int8", per_channel=False, k=k, o=20, c=16)
    new, new_em = _conv_case(1, np.random.default_rng(5), w_dtype="int8", per_channel=False, k=k, o=20, c=16)
    assert not any(ins.values.get("bias_en") for ins in old_em.program)
    assert any(ins.values.get("bias_en") for ins in new_em.program)
    assert required_minor(old_em.program) == 0
    assert new.load_bytes < old.load_bytes
    assert new.predicted_cycles <= old.predicted_cycles


# ---------------------------------------------------------------------- models: onnxruntime and TFLite
def _mover_model(op: str) -> onnx.ModelProto:
    if op == "Transpose":
        node = helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])
        return float_model([node], {"x": [1, 6, 4, 5]}, {"y": [1, 4, 5, 6]})
    if op == "Transpose5d":
        node = helper.make_node("Transpose", ["x"], ["y"], perm=[0, 4, 2, 1, 3])
        return float_model([node], {"x": [1, 3, 4, 2, 5]}, {"y": [1, 5, 4, 3, 2]})
    if op.startswith("DepthToSpace"):
        node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode=op[-3:])
        return float_model([node], {"x": [1, 12, 3, 4]}, {"y": [1, 3, 6, 8]})
    if op == "SpaceToDepth":
        node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2)
        return float_model([node], {"x": [1, 3, 6, 8]}, {"y": [1, 12, 3, 4]})
    shapes = {"s1": np.array([1, 3, 8, 5, 5]), "s2": np.array([1, 24, 5, 5])}
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "s2"], ["y"])]
    return float_model(nodes, {"x": [1, 24, 5, 5]}, {"y": [1, 24, 5, 5]}, shapes)


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("op", ["Transpose", "Transpose5d", "DepthToSpaceDCR", "DepthToSpaceCRD", "SpaceToDepth",
                                "ChannelShuffle"])
def test_mover_models_on_the_npu_match_onnxruntime(op, minor):
    model = _mover_model(op)
    qdq = quantize(model)
    enf = nux.compiler.compile(qdq, NpuConfig(dim=8), fallback=False, isa_minor=minor)
    assert set(placements(enf).values()) == {"npu"}
    for feeds in samples(model, 2, seed=3):
        assert_close_in_steps(enf, qdq, feeds, fraction=1.0)


def test_channel_shuffle_becomes_one_gather():
    enf = nux.compiler.compile(quantize(_mover_model("ChannelShuffle")), NpuConfig(dim=8), fallback=False)
    layers = enf.meta["report"]["layers"]
    assert [r["op"] for r in layers] == ["Gather"], layers


@pytest.mark.parametrize("minor", MINORS)
def test_reshape_transpose_reshape_mixing_pixels_stays_three_movers(minor):
    """(1, 24, 5, 5) -> (1, 3, 8, 25) -> swap the last two axes -> (1, 24, 5, 5) moves pixels across channels:
    not a channel permutation, so no Gather; still exact on the NPU."""
    shapes = {"s1": np.array([1, 3, 8, 25]), "s2": np.array([1, 24, 5, 5])}
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Reshape", ["t", "s2"], ["y"])]
    model = float_model(nodes, {"x": [1, 24, 5, 5]}, {"y": [1, 24, 5, 5]}, shapes)
    qdq = quantize(model)
    enf = nux.compiler.compile(qdq, NpuConfig(dim=8), fallback=False, isa_minor=minor)
    assert [r["op"] for r in enf.meta["report"]["layers"]] == ["Reshape", "Transpose", "Reshape"]
    assert_close_in_steps(enf, qdq, samples(model, 1, seed=4)[0], fraction=1.0)


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_tflite_transpose_and_depth_to_space_equal_the_reference(dtype, minor):
    from test_tflite_synthetic import TflBuilder, _input, run_both

    m = TflBuilder()
    x = _input(m, (1, 3, 4, 8), dtype)
    t = _input(m, (1, 8, 3, 4), dtype)
    d = _input(m, (1, 6, 8, 2), dtype)
    s = _input(m, (1, 3, 4, 8), dtype)
    m.op("TRANSPOSE", [x, m.tensor((4,), "int32", data=[0, 3, 1, 2])], [t])
    m.op("DEPTH_TO_SPACE", [x], [d], "DepthToSpaceOptions", BlockSize=2)
    m.op("SPACE_TO_DEPTH", [d], [s], "SpaceToDepthOptions", BlockSize=2)
    model = m.build([x], [t, d, s])
    for got, want, _ in run_both(model, np.random.default_rng(1), fallback=False, isa_minor=minor):
        np.testing.assert_array_equal(got, want)


def _ort_uint8_per_channel(model: onnx.ModelProto, tmp_path) -> onnx.ModelProto:
    """onnxruntime's quantize_static with uint8 activations and uint8 per-channel weights, then each channel's
    weights re-quantized with its own zero point (onnxruntime 1.3x makes them all 128 even with
    WeightSymmetric=False): the QDQ form of older uint8 per-channel models."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(samples(model, 8))

        def get_next(self):
            return next(self.items, None)

    src, dst = tmp_path / "model.onnx", tmp_path / "model.qdq.onnx"
    onnx.save(model, src)
    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
    qdq = onnx.load(dst)
    inits = {t.name: t for t in qdq.graph.initializer}
    floats = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in qdq.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits and inits[node.input[2]].dims:
            axis = next(a.i for a in node.attribute if a.name == "axis")
            scale = numpy_helper.to_array(inits[node.input[1]])
            zp = np.random.default_rng(0).integers(40, 216, scale.size)
            shape = [1] * len(inits[node.input[0]].dims)
            shape[axis] = -1
            real = floats[node.input[0].removesuffix("_quantized")]
            q = np.clip(np.rint(real / scale.reshape(shape)) + zp.reshape(shape), 0, 255).astype(np.uint8)
            inits[node.input[0]].CopyFrom(numpy_helper.from_array(q, node.input[0]))
            inits[node.input[2]].CopyFrom(numpy_helper.from_array(zp.astype(np.uint8), node.input[2]))
    return qdq


@pytest.mark.parametrize("op", ["Gemm", "Conv"])
def test_ort_uint8_per_channel_model_runs_on_11_only(op, tmp_path):
    """uint8 per-channel weights (onnxruntime) whose w - zp leaves int8: host fallback on 1.0, NPU on 1.1."""
    rng = np.random.default_rng(2)
    if op == "Gemm":
        w = (rng.uniform(-0.2, 1, (16, 10)) * np.linspace(0.1, 3, 10)).astype(np.float32)
        model = float_model([helper.make_node("Gemm", ["x", "w"], ["y"])], {"x": [3, 16]}, {"y": [3, 10]}, {"w": w})
    else:
        w = (rng.uniform(-0.2, 1, (10, 6, 1, 1)) * np.linspace(0.1, 3, 10)[:, None, None, None]).astype(np.float32)
        model = float_model([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 6, 5, 5]},
                            {"y": [1, 10, 5, 5]}, {"w": w})
    qdq = _ort_uint8_per_channel(model, tmp_path)
    old = nux.compiler.compile(qdq, NpuConfig(dim=8), isa_minor=0)
    new = nux.compiler.compile(qdq, NpuConfig(dim=8), fallback=False, isa_minor=1)
    assert "host" in placements(old).values() and set(placements(new).values()) == {"npu"}
    for feeds in samples(model, 2, seed=9):
        assert_close_in_steps(new, qdq, feeds, fraction=1.0)


# ---------------------------------------------------------------------- a ShuffleNet-like network end to end
SHUFFLE_SIZES = {"stages": ((48, 2), (96, 2)), "groups": 2, "stem": 16, "classes": 100}


@pytest.fixture(scope="module")
def shufflenet_qdq():
    from networks import quantized, shufflenet

    return quantized(shufflenet, 32, **SHUFFLE_SIZES)


def _layer_cycles(enf, op: str) -> int:
    return sum(r["predicted_cycles"] for r in enf.meta["report"]["layers"] if r["op"] == op)


def test_shufflenet_runs_on_the_npu_end_to_end(shufflenet_qdq):
    """Grouped 1x1 convs, channel shuffles (Reshape -> Transpose -> Reshape, fused into one Gather), depthwise
    3x3: everything on the NPU (fallback=False) on a 1.1 and a 1.0 target, the same integers, close to
    onnxruntime, and the 1.1 shuffles cheaper."""
    config = NpuConfig(dim=8)
    new = nux.compiler.compile(shufflenet_qdq, config, fallback=False, isa_minor=1)
    old = nux.compiler.compile(shufflenet_qdq, config, fallback=False, isa_minor=0)
    assert sum(r["op"] == "Gather" for r in new.meta["report"]["layers"]) == 4
    step = new.outputs()[0].scale
    for feeds in samples(shufflenet_qdq, 2, seed=7):
        ours = run_enf(new, feeds)["output"]
        np.testing.assert_array_equal(ours, run_enf(old, feeds)["output"])  # 1.1 and 1.0 programs agree exactly
        # ~20 requantizing layers deep, integer rounding drifts from the float-simulated QDQ by up to 2 steps on
        # a few of the 100 logits (the movers themselves are exact: the op-level tests above)
        diff = np.abs(ours - run_onnx(shufflenet_qdq, feeds)["output"]) / step
        assert np.mean(diff <= 1.001) >= 0.95 and diff.max() <= 2.001, (np.mean(diff <= 1.001), diff.max())
    assert _layer_cycles(new, "Gather") < _layer_cycles(old, "Gather") / 2


# ---------------------------------------------------------------------- the performance model's 1.1 costs
def test_perf_model_prices_every_11_instruction():
    cfg = NpuConfig(dim=8)

    def cycles(*text: str) -> int:
        return predict_cycles(cfg, parse_program("\n".join(text)))

    base = cycles("load x_size=64 x_stride=8")
    near = cycles("gather x_size=64 x_stride=64 lane_stride=2")  # 8 lanes within 2 beats: one burst per row
    far = cycles("gather x_size=64 x_stride=64 lane_stride=100")  # one single-beat burst per lane
    assert base < near < far and far - base > 64 * 8 * 0.9
    contiguous = cycles("store x_size=64 x_stride=8")
    assert contiguous < cycles("store x_size=64 x_stride=64 lane_stride=3") < cycles(
        "store x_size=64 x_stride=64 lane_stride=100")
    assert cycles("load dst=lutw x_size=32 x_stride=32") == cycles("load dst=acc x_size=32 x_stride=32")
    plain = cycles("reduce rop=sum group_rows=4 n_groups=8")
    # the post unit (RECIP 35, RSQRT 59 cycles, measured on the RTL unit) overlaps the next group's rows
    assert cycles("reduce rop=sum post=recip group_rows=4 n_groups=8") == plain + 8 * (35 - 4)
    assert cycles("reduce rop=sumsq post=rsqrt group_rows=4 n_groups=8") == plain + 8 * (59 - 4)
    long_groups = cycles("reduce rop=sum group_rows=100 n_groups=8")
    assert cycles("reduce rop=sum post=recip group_rows=100 n_groups=8") == long_groups
    assert cycles("lutw x_size=10 y_size=3") - cycles("lutw x_size=1 y_size=1") == 29
    gemm = cycles("gemm preload=1 x_size=100")
    assert cycles("gemm preload=1 x_size=100 bias_en=1") == cycles("gemm preload=1 x_size=100 wzp_en=1") == gemm + 1
    requant = cycles("requant n_rows=16")
    assert cycles("requant n_rows=16 row_scale=1 group_rows=4") == requant + 4
