"""LUTW in RTL (rtl/compute_lutw.py) against the golden model, bit for bit, at every dim: the table written
through `lutw_wr`, raw-byte and `diff` indexing (every signedness, clamping at both ends), strided walks, one
row per cycle."""

from __future__ import annotations

import numpy as np
import pytest
from nux.isa import Instr, NpuConfig, Opcode
from nux.rtl.compute_lutw import LutwEngine
from rowunit_harness import check, random_state

pytestmark = pytest.mark.rtl

DIMS = (4, 8, 16, 32)


def config_for(dim: int) -> NpuConfig:
    return NpuConfig(dim=dim, sp_rows=max(64, 2 * dim), acc_rows=max(64, 2 * dim))


def random_lutw(config: NpuConfig, rng: np.random.Generator):
    """LUTW instructions with random shapes inside the ISA's BAD_FIELD and SPAD_OOB rules."""
    x_size, y_size = (int(v) for v in rng.integers(1, 5, 2))
    strides = {k: int(rng.integers(0, 4)) for k in ("a_xstride", "a_ystride", "b_xstride", "b_ystride")}

    def base(x: str) -> int:
        span = (x_size - 1) * strides[f"{x}_xstride"] + (y_size - 1) * strides[f"{x}_ystride"]
        return int(rng.integers(0, config.sp_rows - span))

    diff = int(rng.integers(0, 2))
    fields = dict(diff=diff, a_signed=int(rng.integers(0, 2)), a_base=base("a"), x_size=x_size, y_size=y_size,
                  a_xstride=strides["a_xstride"], a_ystride=strides["a_ystride"],
                  out_base=int(rng.integers(0, config.acc_rows - x_size * y_size + 1)))
    if diff:
        fields.update(b_signed=int(rng.integers(0, 2)), b_base=base("b"), b_xstride=strides["b_xstride"],
                      b_ystride=strides["b_ystride"])
    return Instr(Opcode.LUTW, **fields)


def table(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(-(1 << 31), 1 << 31, 256, dtype=np.int64).astype(np.int32)


@pytest.mark.parametrize("dim", DIMS)
def test_lutw_random_programs(dim):
    config = config_for(dim)
    rng = np.random.default_rng(dim)
    program = [random_lutw(config, rng) for _ in range(12)]
    check(LutwEngine(config), config, program, *random_state(config, rng), lutw=table(rng))


@pytest.mark.parametrize("signs", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=lambda s: f"a{s[0]}b{s[1]}")
def test_lutw_diff_clamps_every_signedness(signs):
    """SP rows holding every byte pair that clamps low, high, or lands on 0 and 255, as int8 and uint8."""
    config = config_for(8)
    rng = np.random.default_rng(5)
    sp, acc = random_state(config, rng)
    edges = np.array([0, 1, 127, 128, 129, 255, 254, 126], np.uint8)
    sp[0:8] = edges  # A: every lane a different edge byte
    for k in range(8):
        sp[8 + k] = np.roll(edges, k)  # B: every pairing across 8 rows
    a_signed, b_signed = signs
    program = [Instr(Opcode.LUTW, diff=1, a_signed=a_signed, b_signed=b_signed, a_base=0, b_base=8,
                     x_size=8, a_xstride=1, b_xstride=1, out_base=3),
               Instr(Opcode.LUTW, a_signed=a_signed, a_base=8, x_size=8, a_xstride=1, out_base=20)]
    check(LutwEngine(config), config, program, sp, acc, lutw=table(rng))


def test_lutw_streams_one_row_per_cycle():
    config = config_for(8)
    rng = np.random.default_rng(6)
    sp, acc = random_state(config, rng)
    program = [Instr(Opcode.LUTW, diff=1, a_base=0, b_base=1, x_size=n, a_xstride=1, out_base=0) for n in (1, 60)]
    cycles = check(LutwEngine(config), config, program, sp, acc, lutw=table(rng)).cycles()
    assert cycles[1] - cycles[0] == 59, cycles
