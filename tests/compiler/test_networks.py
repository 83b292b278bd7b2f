"""Whole networks at CI sizes: a ResNet-18-like and a MobileNet-v2-like network (random weights, tests/networks.py)
quantized by nux.quantizer, compiled with fallback allowed, must place every Conv/Gemm MAC on the NPU, run on the
golden device within one output quantization step of the reference, and keep that result under random legal
interleavings of the load, compute and store queues (the race checker)."""

from __future__ import annotations

import nux.compiler
import pytest
from compiler_rig import assert_close_in_steps, samples
from networks import mobilenetv2, quantized, resnet
from nux.isa import TEST_CONFIGS
from test_races import _check as check_races

CONFIG = TEST_CONFIGS[1]  # dim 8
NETS = {
    # stem 7x7/2 + maxpool, two basic blocks per stage, 1x1/2 shortcuts at each downsampling, GAP, FC
    "resnet18": (resnet, 64, {"stages": ((8, 2, 1), (16, 2, 2), (24, 2, 2), (32, 2, 2)), "bottleneck": False,
                              "stem": 8, "classes": 100}),
    # expand + ReLU6, depthwise 3x3 at stride 1 and 2, project, residual Adds, 1x1 head, GAP, FC
    "mobilenetv2": (mobilenetv2, 32, {"stages": ((1, 8, 1, 1), (6, 8, 2, 2), (6, 16, 2, 2), (4, 16, 2, 1)),
                                      "stem": 8, "head": 32, "classes": 100}),
}


@pytest.fixture(scope="module", params=list(NETS))
def network(request):
    builder, size, sizes = NETS[request.param]
    qdq = quantized(builder, size, **sizes)
    return qdq, nux.compiler.compile(qdq, CONFIG, fallback=True)


def test_every_conv_and_gemm_mac_is_on_the_npu(network):
    _, enf = network
    report = enf.meta["report"]
    heavy = [r for r in report["layers"] if r["op"] in ("Conv", "Gemm", "MatMul")]
    assert len(heavy) > 10 and all(r["placement"] == "npu" for r in heavy), \
        [(r["name"], r["reason"]) for r in heavy if r["placement"] != "npu"]
    assert report["host_macs"] == 0 and report["npu_macs"] == sum(r["macs"] for r in heavy) > 0


def test_outputs_within_one_step_of_the_reference(network):
    qdq, enf = network
    for feeds in samples(qdq, 2, seed=7):
        assert_close_in_steps(enf, qdq, feeds)  # message: (output, measured rate within 1 step, max steps)


def test_programs_have_no_races(network):
    qdq, enf = network
    check_races(enf, samples(qdq, 1, seed=3)[0], seeds=1)
