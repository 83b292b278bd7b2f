"""Tiled GEMM programs: exact against NumPy/kernels in program order and under random decoupled interleavings."""

from __future__ import annotations

import numpy as np
import pytest
from nux.compiler.lower.tiled_gemm import (
    ProgramError,
    gemm_requant_reference,
    plan_gemm,
    tiled_gemm_program,
    tiled_gemm_requant_program,
)
from nux.golden.decoupled import run_decoupled
from nux.golden.machine import Machine
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


@pytest.mark.parametrize("a_tiled", [False, True])
@pytest.mark.parametrize(("M", "K", "N"), [(13, 10, 11), (40, 8, 8), (5, 3, 30), (70, 17, 9)])
def test_requant_gemm_in_order_and_decoupled(M, K, N, a_tiled):  # noqa: N803
    rng = np.random.default_rng(M * K * N)
    a, b, bias, m, s = operands(rng, M, K, N)
    zps = dict(a_zp=3, w_zp=-2)
    program, layout = tiled_gemm_requant_program(CONFIG, M, K, N, out_zp=-5, a_tiled=a_tiled, **zps)
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


@pytest.mark.parametrize("a_tiled", [False, True])
def test_int32_gemm_larger_than_the_memories(a_tiled):
    rng = np.random.default_rng(1)
    M, K, N = 100, 20, 24  # noqa: N806
    a, b, *_ = operands(rng, M, K, N)
    program, layout = tiled_gemm_program(CONFIG, M, K, N, a_zp=-7, w_zp=5, a_tiled=a_tiled)
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


def test_tiled_a_tile_loads_are_contiguous():
    """With a_tiled every A LOAD reads dim-byte rows back to back (one range the DMA can burst)."""
    M, K, N = 70, 17, 9  # noqa: N806
    program, layout = tiled_gemm_program(CONFIG, M, K, N, a_tiled=True)
    a_end = layout.a + layout.KT * M * CONFIG.dim
    a_loads = [i for i in program if i.opcode is Opcode.LOAD and layout.a <= i.dram_offset < a_end]
    assert len(a_loads) == -(-M // layout.tile_m) * -(-N // (CONFIG.dim * layout.tile_nt)) * layout.KT
    assert all(i.x_stride == CONFIG.dim and i.y_size == 1 for i in a_loads)
    a = np.arange(M * K, dtype=np.int64).reshape(M, K).astype(np.int8)
    packed = np.frombuffer(layout.pack_a(a), np.int8).reshape(layout.KT, M, CONFIG.dim)
    np.testing.assert_array_equal(packed[1, 5, :], a[5, 4:8])
    np.testing.assert_array_equal(packed[4, :, 1:], 0)  # lanes past K = 17


def test_planner_reuses_a_tiles_across_column_tiles():
    """512^3 at dim 8 (default memories): A is reused across >= 2 column tiles and both tiles fit."""
    config = NpuConfig(dim=8)
    layout = plan_gemm(config, 512, 512, 512, requant=False)
    assert layout.tile_nt >= 2
    sp = 2 * layout.tile_m + 2 * layout.tile_nt * config.dim
    assert sp <= config.sp_rows and 2 * layout.tile_m * layout.tile_nt <= config.acc_rows
    # explicit tiles are honoured
    assert (plan_gemm(config, 512, 512, 512, requant=False, tile_m=512).tile_nt) == 1
    assert plan_gemm(config, 512, 512, 512, requant=False, tile_nt=4).tile_m == 128
