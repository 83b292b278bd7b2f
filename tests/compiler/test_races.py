"""Every compiled NPU program passes the golden model's decoupled race checker: the outputs of random legal
interleavings of the load, compute and store queues equal the in-order run (a missing token would show)."""

from __future__ import annotations

import numpy as np
import nux.compiler
import nux.quantizer
import onnx
from compiler_rig import float_model, quantize, samples
from nux.driver import tensors as codec
from nux.enf import Enf, StepKind
from nux.executor import quantize as quantize_input
from nux.golden.decoupled import run_decoupled
from nux.golden.machine import Machine
from nux.isa import INSTR_BYTES, TEST_CONFIGS
from onnx import helper


def _image(enf: Enf, feeds: dict[str, np.ndarray]) -> np.ndarray:
    image = np.zeros(enf.arena_size, dtype=np.uint8)
    for p in enf.programs:
        image[p.offset:p.offset + len(p.code)] = np.frombuffer(p.code, np.uint8)
    image[enf.const_offset:enf.const_offset + len(enf.consts)] = np.frombuffer(enf.consts, np.uint8)
    for info in enf.inputs():
        data = codec.encode(info, quantize_input(feeds[info.name], info), enf.config.dim)
        image[info.offset:info.offset + len(data)] = np.frombuffer(data, np.uint8)
    return image


def _check(enf: Enf, feeds: dict[str, np.ndarray], seeds: int = 2) -> None:
    assert all(s.kind == StepKind.NPU for s in enf.run_steps())
    results = []
    for seed in range(-1, seeds):
        dram = _image(enf, feeds)
        machine = Machine(enf.config, dram)
        for step in enf.run_steps():
            p = enf.programs[step.index]
            if seed < 0:
                machine.run_task(p.offset, len(p.code) // INSTR_BYTES, 0, dram.size)
            else:
                run_decoupled(machine, p.offset, len(p.code) // INSTR_BYTES, 0, seed)
        results.append([dram[t.offset:t.offset + t.size].copy() for t in enf.outputs()])
    for got in results[1:]:
        for a, b in zip(results[0], got, strict=True):
            np.testing.assert_array_equal(b, a)


def test_mnist8_program_has_no_races(test_data):
    model = onnx.load(test_data / "models" / "mnist-8.onnx")
    rng = np.random.default_rng(0)
    qdq = nux.quantizer.post_training_quantization(
        model, ["Input3"], [{"Input3": rng.uniform(0, 255, (1, 1, 28, 28)).astype(np.float32)} for _ in range(4)])
    enf = nux.compiler.compile(qdq, TEST_CONFIGS[1])
    _check(enf, {"Input3": rng.uniform(0, 255, (1, 1, 28, 28)).astype(np.float32)})


def test_a_mixed_layer_program_has_no_races():
    rng = np.random.default_rng(1)
    model = float_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], group=2),
         helper.make_node("Relu", ["c"], ["r"]), helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[2, 2]),
         helper.make_node("Add", ["p", "q"], ["a"]), helper.make_node("Sigmoid", ["a"], ["s"]),
         helper.make_node("Concat", ["s", "a"], ["y"], axis=1)],
        {"x": [1, 4, 9, 9], "q": [1, 8, 8, 8]}, {"y": [1, 16, 8, 8]},
        {"w": rng.normal(0, 0.4, (8, 2, 3, 3)).astype(np.float32)})
    enf = nux.compiler.compile(quantize(model), TEST_CONFIGS[0])
    _check(enf, samples(model, 1)[0])
