"""The TFLite front end on the two real uint8 models (NUX_TEST_DATA/models), plus unit tests of its mapping rules.

Each model is compiled by nux.compiler, run on the golden device through nux.executor and compared with TFLite's
reference kernels (nux.reference.run_tflite, BUILTIN_REF): TFLite's integer kernels round like the NPU
(MultiplyByQuantizedMultiplier), so every output must be within one step, and in practice equal.
"""

from __future__ import annotations

import numpy as np
import nux.compiler
import pytest
from nux.compiler.frontends.tflite import activation_clamp, ir_axis, ir_shape, order_free, tflite_pads
from nux.compiler.ir import CompileError, QParams, Tensor
from nux.executor import Executor
from nux.reference import run_tflite

MODELS = {"mnistnet": "MNISTnet_uint8_quant_without_softmax.tflite",
          "mobilenet_v2": "MNIST_MobileNet_v2_uint8_quant_without_avgpool_softmax.tflite"}


@pytest.fixture(scope="module", params=sorted(MODELS))
def compiled(request, test_data):
    path = test_data / "models" / MODELS[request.param]
    if not path.is_file():
        pytest.skip(f"{path} is not in NUX_TEST_DATA")
    # one model from its path, the other from its bytes: compile() recognises both as TFLite ("TFL3")
    return path, nux.compiler.compile(path if request.param == "mnistnet" else path.read_bytes())


def _images(count: int, seed: int) -> np.ndarray:
    """uint8 NHWC 28x28 inputs: random strokes on a dark background (MNIST-like value statistics)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), np.uint8)
    for image in images:
        for _ in range(3):
            r, c = rng.integers(4, 24, 2)
            image[r - 3:r + 3, c - 1:c + 2, 0] = rng.integers(128, 256)
    noise = rng.integers(0, 256, images.shape).astype(np.uint8)
    return np.where(rng.random(images.shape) < 0.2, noise, images)


def run_compiled(enf, images: np.ndarray) -> np.ndarray:
    with Executor(enf, "golden", timeout=300) as ex:
        (info,) = ex.inputs()
        (out,) = ex.outputs()
        return ex.run({info.name: images.transpose(0, 3, 1, 2)})[out.name]


def reference(path, images: np.ndarray) -> np.ndarray:
    return np.concatenate([next(iter(run_tflite(path, [image[None]]).values())) for image in images])


def test_real_model_matches_tflite_reference(compiled):
    path, enf = compiled
    images = _images(1, seed=0)
    ours, ref = run_compiled(enf, images), reference(path, images)
    assert ours.dtype == np.uint8 and ours.shape == ref.reshape(ours.shape).shape
    diff = np.abs(ours.astype(int) - ref.reshape(ours.shape).astype(int))
    assert diff.max() <= 1, (diff.max(), float(np.mean(diff == 0)))
    assert len(np.unique(ref)) > 3


@pytest.mark.slow
def test_real_model_exact_match_rate(compiled):
    """The figure the docs quote: the share of outputs equal to TFLite's over 16 inputs."""
    path, enf = compiled
    images = _images(16, seed=1)
    ours, ref = run_compiled(enf, images).reshape(16, -1), reference(path, images).reshape(16, -1)
    diff = np.abs(ours.astype(int) - ref.astype(int))
    print(f"{path.name}: max |diff| {diff.max()}, exact {np.mean(diff == 0):.4f}")
    assert diff.max() <= 1


def test_real_model_convolutions_run_on_the_npu(compiled):
    _, enf = compiled
    layers = enf.meta["report"]["layers"]
    convs = [r for r in layers if r["op"] == "Conv"]
    assert convs and all(r["placement"] == "npu" for r in convs)
    assert enf.meta["io_dtypes"] == {t.name: "uint8" for t in enf.inputs() + enf.outputs()}


def test_truncated_real_model_is_a_compile_error(compiled):
    path, _ = compiled
    data = path.read_bytes()
    for cut in (16, len(data) // 3, len(data) - 100):
        with pytest.raises(CompileError):
            nux.compiler.compile(data[:cut])


def test_input_shapes_must_repeat_the_static_shape(compiled):
    path, _ = compiled
    with pytest.raises(CompileError, match="static shape"):
        nux.compiler.compile(path, input_shapes={"input": (2, 28, 28, 1)})
    with pytest.raises(CompileError, match="not a model input"):
        nux.compiler.compile(path, input_shapes={"nope": (1, 28, 28, 1)})


# ---------------------------------------------------------------------- mapping rules
@pytest.mark.parametrize("size,kernel,stride,dilation,pads", [
    (9, 3, 2, 1, (1, 1)),  # out 5: total 2
    (8, 3, 2, 1, (0, 1)),  # out 4: total 1 -> the extra pad at the end
    (7, 7, 2, 1, (3, 3)),
    (6, 1, 1, 1, (0, 0)),
    (10, 3, 1, 2, (2, 2)),  # dilated: effective kernel 5
    (5, 2, 3, 1, (0, 0)),  # out 2: (2-1)*3+2-5 < 0
])
def test_same_padding_is_tflites(size, kernel, stride, dilation, pads):
    t, left, b, r = tflite_pads(0, (size, size), (kernel, kernel), (stride, stride), (dilation, dilation))
    assert (t, b) == pads and (left, r) == pads
    out = (size + t + b - (kernel - 1) * dilation - 1) // stride + 1
    assert out == -(-size // stride)


def test_valid_padding_is_zero():
    assert tflite_pads(1, (9, 7), (3, 3), (2, 2)) == [0, 0, 0, 0]


@pytest.mark.parametrize("dtype,scale,zp,code,expect", [
    ("uint8", 6 / 255, 0, 3, (0, 255)),  # RELU6 on [0, 6]
    ("uint8", 0.05, 10, 3, (10, 130)),
    ("int8", 0.1, -128, 1, (-128, 127)),  # RELU
    ("int8", 0.1, 5, 1, (5, 127)),
    ("int8", 0.01, 0, 2, (-100, 100)),  # RELU_N1_TO_1
    ("int8", 0.04, -3, 0, None),
])
def test_fused_activation_is_the_output_clamp(dtype, scale, zp, code, expect):
    assert activation_clamp(code, Tensor("y", (1,), dtype, QParams(scale, zp)), "op") == expect


def test_fused_tanh_is_refused():
    with pytest.raises(CompileError, match="TANH"):
        activation_clamp(4, Tensor("y", (1,), "int8", QParams(0.1, 0)), "op")


def test_layout_helpers():
    assert ir_shape((1, 28, 28, 3)) == (1, 3, 28, 28) and ir_shape((1, 10)) == (1, 10)
    assert [ir_axis(a, 4) for a in (0, 1, 2, 3, -1)] == [0, 2, 3, 1, 1] and ir_axis(-1, 2) == 1
    assert order_free((1, 1, 1, 10)) and order_free((1, 5, 5, 1)) and not order_free((1, 2, 2, 3))


@pytest.mark.parametrize("name", ["mnistnet", pytest.param("mobilenet_v2", marks=pytest.mark.slow)])  # 40 s
def test_real_model_program_has_no_races(test_data, name):
    """The golden model's decoupled race checker on the compiled TFLite model (test_races.py's check)."""
    from test_races import _check

    path = test_data / "models" / MODELS[name]
    if not path.is_file():
        pytest.skip(f"{path} is not in NUX_TEST_DATA")
    enf = nux.compiler.compile(path)
    (info,) = enf.inputs()
    image = _images(1, seed=2).transpose(0, 3, 1, 2)
    _check(enf, {info.name: (image.astype(np.float32) - info.zero_point) * np.float32(info.scale)})
