"""Tiled GEMM programs: exact against NumPy/kernels in program order and under random decoupled interleavings."""

from __future__ import annotations

import numpy as np
import pytest
from nux.golden.decoupled import run_decoupled
from nux.golden.machine import Machine
from nux.golden.programs import (
    ProgramError,
    gemm_requant_reference,
    plan_gemm,
    tiled_gemm_program,
    tiled_gemm_requant_program,
)
from nux.isa import Instr, NpuConfig, Opcode, assemble

CONFIG = NpuConfig(dim=4, sp_rows=64, acc_rows=32)  # tiny memories force many blocks and steps
DEPS = ("pop_prev", "pop_next", "push_prev", "push_next")


def operands(rng, M, K, N):  # noqa: N803
    a = rng.integers(-128, 128, size=(M, K)).astype(np.int8)
    b = rng.integers(-128, 128, size=(K, N)).astype(np.int8)
    bias = rng.integers(-20000, 20000, size=N)
    m = rng.integers(1 << 30, (1 << 31) - 1, size=N)
    s = rng.integers(-14, -8, size=N)
    return a, b, bias, m, s


def load_task(program, layout, images) -> tuple[Machine, int]:
    """A fresh machine with the operands and the program (right after the data) in its DRAM."""
    code = assemble(program)
    dram = np.zeros(layout.end + len(code), dtype=np.uint8)
    for offset, data in images + [(layout.end, code)]:
        dram[offset : offset + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return Machine(layout.config, dram), layout.end


def result(machine, layout) -> np.ndarray:
    size = layout.M * layout.N * layout.c_itemsize
    return layout.output(machine.dram[layout.c : layout.c + size].tobytes())


@pytest.mark.parametrize(("M", "K", "N"), [(13, 10, 11), (40, 8, 8), (5, 3, 30), (70, 17, 9)])
def test_requant_gemm_in_order_and_decoupled(M, K, N):  # noqa: N803
    rng = np.random.default_rng(M * K * N)
    a, b, bias, m, s = operands(rng, M, K, N)
    zps = dict(a_zp=3, w_zp=-2)
    program, layout = tiled_gemm_requant_program(CONFIG, M, K, N, out_zp=-5, **zps)
    expected = gemm_requant_reference(a, b, bias, m, s, out_zp=-5, **zps)
    images = layout.images(a, b, bias, m, s, w_zp=-2)
    machine, base = load_task(program, layout, images)
    machine.run_task(base, len(program), 0, machine.dram.size)
    np.testing.assert_array_equal(result(machine, layout), expected)
    assert (expected > -5).any() and (expected == -5).any()  # the ReLU clamp is exercised
    for seed in range(5):
        machine, base = load_task(program, layout, images)
        run_decoupled(machine, base, len(program), 0, seed)
        np.testing.assert_array_equal(result(machine, layout), expected)


def test_int32_gemm_larger_than_the_memories():
    rng = np.random.default_rng(1)
    M, K, N = 100, 20, 24  # noqa: N806
    a, b, *_ = operands(rng, M, K, N)
    program, layout = tiled_gemm_program(CONFIG, M, K, N, a_zp=-7, w_zp=5)
    assert M * (K // 4) > CONFIG.sp_rows and M * N // 4 > CONFIG.acc_rows
    expected = (a.astype(np.int64) + 7) @ (b.astype(np.int64) - 5)
    images = layout.images(a, b, w_zp=5)
    machine, base = load_task(program, layout, images)
    machine.run_task(base, len(program), 0, machine.dram.size)
    np.testing.assert_array_equal(result(machine, layout), expected)
    machine, base = load_task(program, layout, images)
    run_decoupled(machine, base, len(program), 0, seed=5)
    np.testing.assert_array_equal(result(machine, layout), expected)


@pytest.mark.parametrize(
    "strip",
    [
        None,  # every token
        (Opcode.LOAD, "pop_next"),  # a load overwrites an SP/ACC buffer the compute queue still reads
        (Opcode.GEMM, "pop_prev"),  # compute reads a buffer before its load finished
        (Opcode.STORE, "pop_prev"),  # a store reads the output before REQUANT wrote it
        (Opcode.REQUANT, "pop_next"),  # REQUANT overwrites an output buffer not yet stored
    ],
)
def test_decoupled_executor_catches_a_missing_token(strip):
    """Program order still gives the right answer without the token; some legal interleaving must not."""
    rng = np.random.default_rng(2)
    M, K, N = 24, 12, 8  # noqa: N806
    a, b, bias, m, s = operands(rng, M, K, N)
    program, layout = tiled_gemm_requant_program(CONFIG, M, K, N)
    if strip is None:
        racy = [i if i.opcode in (Opcode.SYNC, Opcode.END) else i.replace(**dict.fromkeys(DEPS, 0)) for i in program]
    else:
        racy = [i.replace(**{strip[1]: 0}) if i.opcode is strip[0] else i for i in program]
    assert racy != program
    expected = gemm_requant_reference(a, b, bias, m, s)
    images = layout.images(a, b, bias, m, s)
    machine, base = load_task(racy, layout, images)
    machine.run_task(base, len(racy), 0, machine.dram.size)
    np.testing.assert_array_equal(result(machine, layout), expected)
    wrong = 0
    for seed in range(20):
        machine, base = load_task(racy, layout, images)
        run_decoupled(machine, base, len(racy), 0, seed)
        wrong += not np.array_equal(result(machine, layout), expected)
    assert wrong > 0


def test_bad_requests_are_refused():
    with pytest.raises(ProgramError, match="do not fit"):
        plan_gemm(CONFIG, 64, 8, 8, requant=True, tile_m=64)
    with pytest.raises(ProgramError, match=">= 1"):
        tiled_gemm_program(CONFIG, 0, 8, 8)
    with pytest.raises(ProgramError, match="int8"):
        tiled_gemm_requant_program(CONFIG, 8, 8, 8, out_zp=200)
    _, layout = tiled_gemm_program(CONFIG, 8, 8, 8)
    with pytest.raises(ProgramError, match="shape"):
        layout.images(np.zeros((8, 7), dtype=np.int8), np.zeros((8, 8), dtype=np.int8))
    assert Instr("end") in tiled_gemm_program(CONFIG, 8, 8, 8)[0]
