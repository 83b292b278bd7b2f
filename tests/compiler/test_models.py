"""Whole models: the guide's ExampleNet and mnist-8 (scikit-learn digits) compiled and run on the golden device,
and both run on the Verilator build of the RTL (`sim`, dim 8) equal to golden bit for bit."""

from __future__ import annotations

import numpy as np
import nux.compiler
import onnx
import pytest
from compiler_rig import placements
from example_net import export_example_net
from nux.executor import Executor
from nux.isa import TEST_CONFIGS
from nux.quantizer import post_training_quantization
from nux.reference import onnx_session, run_session

SIM_CONFIG = TEST_CONFIGS[1]  # dim 8, the build other sim tests use (cached)
MNIST_TEST = 200  # images of the held-out digits split run through the NPU


@pytest.fixture(scope="module")
def example_net():
    rng = np.random.default_rng(0)
    calibration = [{"input": rng.random((1, 3, 224, 224), dtype=np.float32)} for _ in range(2)]
    qdq = post_training_quantization(export_example_net(), ["input"], calibration)
    return qdq, calibration[0]


@pytest.fixture(scope="module")
def mnist(test_data):
    import digits

    images, labels = digits.digits()
    x = digits.mnist_images(images)
    model = onnx.load(test_data / "models" / "mnist-8.onnx")
    qdq = post_training_quantization(model, ["Input3"], [{"Input3": s[None]} for s in x[:200]])
    return qdq, x[digits.TRAIN:digits.TRAIN + MNIST_TEST], labels[digits.TRAIN:digits.TRAIN + MNIST_TEST]


def test_example_net_on_golden_within_one_step(example_net):
    qdq, x = example_net
    enf = nux.compiler.compile(qdq)
    assert [p for p in placements(enf).values()].count("npu") >= 3  # the three Convs
    with Executor(enf, "golden") as ex:
        ours = ex.run(x)["output"]
    ref = run_session(onnx_session(qdq), x)["output"]
    steps = np.abs(ours.astype(np.float64) - ref) / enf.outputs()[0].scale
    assert np.mean(steps <= 1.001) >= 0.99, float(steps.max())


def test_mnist8_top1_matches_onnxruntime_qdq(mnist):
    qdq, x, labels = mnist
    enf = nux.compiler.compile(qdq)
    assert enf.meta["report"]["npu_macs_fraction"] > 0.99
    with Executor(enf, "golden") as ex:
        ours = ex.run({"Input3": x})["Plus214_Output_0"]  # 200 inferences in turn, stacked
    session = onnx_session(qdq)
    ref = np.concatenate([run_session(session, {"Input3": s[None]})["Plus214_Output_0"] for s in x])
    top1 = 100 * np.mean(ours.argmax(1) == labels)
    ref_top1 = 100 * np.mean(ref.argmax(1) == labels)
    assert ref_top1 > 80 and abs(top1 - ref_top1) <= 0.5, (top1, ref_top1)


@pytest.mark.rtl
@pytest.mark.parametrize("which", ["example_net", "mnist"])
def test_sim_equals_golden_bit_for_bit(which, request):
    """The guide's ExampleNet at 224 x 224 (35 s on the sim here) and two mnist-8 inferences."""
    qdq, x, *_ = request.getfixturevalue(which)
    feeds = x if which == "example_net" else {"Input3": x[:2]}
    enf = nux.compiler.compile(qdq, SIM_CONFIG, isa_minor=0)  # the RTL implements ISA 1.0
    results, perf = {}, {}
    for device, options in (("golden", {}), ("sim", {"progress": False, "dram_size": 1 << 24})):
        with Executor(enf, device, **options) as ex:
            results[device] = ex.run(feeds)  # equal dequantized outputs <=> equal integers
            perf[device] = ex.last_perf
    for name, value in results["golden"].items():
        np.testing.assert_array_equal(results["sim"][name], value)
    assert perf["sim"]["CYCLES"] > 0 and perf["sim"]["MACS"] == perf["golden"]["MACS"] > 0
