"""`BankedMemory` reads like one Memory and never loses a write: random traffic against a Python model."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator
from nux.rtl.banked import BankedMemory

pytestmark = pytest.mark.rtl

DEPTH, WIDTH = 16, 8


def test_banked_memory_matches_a_single_memory():
    dut = BankedMemory(WIDTH, DEPTH, n_read=2)
    rng = random.Random(5)
    model = [0] * DEPTH
    stats = {"clash": 0, "both": 0}

    async def bench(ctx):
        held = [None, None]  # what each read port shows: the row read at its last enabled cycle
        for _ in range(600):
            first = (rng.random() < 0.7, rng.randrange(DEPTH), rng.randrange(256))
            second = (rng.random() < 0.7, rng.randrange(DEPTH), rng.randrange(256))
            reads = [(rng.random() < 0.8, rng.randrange(DEPTH)) for _ in range(2)]
            ctx.set(dut.first.en, first[0])
            ctx.set(dut.first.addr, first[1])
            ctx.set(dut.first.data, first[2])
            ctx.set(dut.second.addr, second[1])
            ctx.set(dut.second.data, second[2])
            busy = first[0] and (first[1] % 2 == second[1] % 2)
            assert ctx.get(dut.second_busy) == busy
            ctx.set(dut.second.en, second[0] and not busy)
            stats["clash"] += second[0] and busy
            stats["both"] += first[0] and second[0] and not busy
            for i, (en, addr) in enumerate(reads):
                ctx.set(getattr(dut, f"rd{i}").en, en)
                ctx.set(getattr(dut, f"rd{i}").addr, addr)
                if en:  # non-transparent: the value before this cycle's writes
                    held[i] = model[addr]
            await ctx.tick()
            if first[0]:
                model[first[1]] = first[2]
            if second[0] and not busy:
                model[second[1]] = second[2]
            for i in range(2):
                if held[i] is not None:
                    assert ctx.get(getattr(dut, f"rd{i}").data) == held[i]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert stats["clash"] > 50 and stats["both"] > 50  # both arbitration outcomes were exercised
