"""Shared by tests/rtl/test_compute_reduce.py and test_compute_lutw.py: a stand-alone ISA 1.1 engine wired to
SP and ACC memories, run on a list of instructions, compared with the golden Machine bit for bit.

The engines (ReduceEngine, LutwEngine) are not in the compute unit yet, so this harness plays the compute unit:
it owns the memories, connects every read/write port the engine declares (by name: `sp_rd*`, `acc_rd`, `sp_wr`,
`acc_wr`), fills the LUTW through `lutw_wr` as the load unit will, and issues one instruction at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from nux.golden.checks import check_fields, check_rows
from nux.golden.machine import Machine
from nux.golden.units import execute
from nux.isa import Instr, NpuConfig


def pack(row, bits: int) -> int:
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (bits * n) for n, v in enumerate(row))


def unpack(word: int, bits: int, dim: int) -> list[int]:
    return [(word >> (bits * n)) & ((1 << bits) - 1) for n in range(dim)]


class Harness(wiring.Component):
    """`engine` with SP and ACC memories on every port it declares."""

    def __init__(self, engine: wiring.Component, config: NpuConfig, sp: np.ndarray, acc: np.ndarray):
        self.engine = engine
        self.sp = Memory(shape=config.dim * 8, depth=config.sp_rows, init=[pack(r, 8) for r in sp])
        self.acc = Memory(shape=config.dim * 32, depth=config.acc_rows, init=[pack(r, 32) for r in acc])
        super().__init__({})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.engine, m.submodules.sp, m.submodules.acc = self.engine, self.sp, self.acc
        for name in self.engine.signature.members:
            mem = self.sp if name.startswith("sp_") else self.acc if name.startswith("acc_") else None
            if mem is not None:
                port = mem.read_port() if "_rd" in name else mem.write_port()
                wiring.connect(m, getattr(self.engine, name), port)
        return m


@dataclass
class Run:
    """What one simulation observed: final memories, and per instruction its issue and done cycles."""

    sp: np.ndarray
    acc: np.ndarray
    issued: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)

    def cycles(self) -> list[int]:
        """Cycles from each instruction's issue to its done pulse."""
        return [d - i for i, d in zip(self.issued, self.done, strict=True)]


def simulate(engine: wiring.Component, config: NpuConfig, program: list[Instr], sp: np.ndarray, acc: np.ndarray,
             lutw: np.ndarray | None = None, max_cycles: int = 10_000) -> Run:
    """Run `program` on `engine` (one instruction at a time, as soon as it is ready); after the last issue
    the engine has `max_cycles` to finish."""
    dut = Harness(engine, config, sp, acc)
    dim = config.dim
    issued: list[int] = []
    done: list[int] = []
    final: dict[str, np.ndarray] = {}

    async def monitor(ctx):
        cycle = 0
        async for _clk, _rst, pulse in ctx.tick().sample(engine.done):
            if pulse:
                done.append(cycle)
            cycle += 1

    async def driver(ctx):
        cycle = 0
        if lutw is not None:
            for r in range(len(lutw) // dim):
                ctx.set(engine.lutw_wr, {"addr": r, "data": pack(lutw[r * dim : (r + 1) * dim], 32), "en": 1})
                await ctx.tick()
                cycle += 1
            ctx.set(engine.lutw_wr.en, 0)
        for ins in program:
            ctx.set(engine.i_instr, int.from_bytes(ins.encode(), "little"))
            ctx.set(engine.i_valid, 1)
            while not ctx.get(engine.i_ready):
                await ctx.tick()
                cycle += 1
            issued.append(cycle)
            await ctx.tick()
            cycle += 1
        ctx.set(engine.i_valid, 0)
        for _ in range(max_cycles):
            if len(done) == len(program) and ctx.get(engine.idle):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"engine did not finish: {len(done)}/{len(program)} done")
        for _ in range(3):  # a stray late done pulse would show up here
            await ctx.tick()
        final["sp"] = np.array([unpack(ctx.get(dut.sp.data[i]), 8, dim) for i in range(config.sp_rows)], np.uint8)
        final["acc"] = np.array([unpack(ctx.get(dut.acc.data[i]), 32, dim) for i in range(config.acc_rows)],
                                np.uint32).view(np.int32)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(monitor)
    sim.add_testbench(driver)
    sim.run()
    return Run(final["sp"], final["acc"], issued, done)


def golden(config: NpuConfig, program: list[Instr], sp: np.ndarray, acc: np.ndarray,
           lutw: np.ndarray | None = None) -> Machine:
    """The golden Machine after `program`, every instruction checked (BAD_FIELD, SPAD_OOB) first."""
    machine = Machine(config, np.zeros(64, np.uint8))
    machine.sp[:], machine.acc[:] = sp, acc
    if lutw is not None:
        machine.lutw[:] = lutw
    for pc, ins in enumerate(program):
        check_fields(ins, config, pc)
        check_rows(ins, config, pc)
        execute(machine, ins, 0, pc, None)
    return machine


def random_state(config: NpuConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random SP bytes and ACC words (full int32 range)."""
    sp = rng.integers(0, 256, (config.sp_rows, config.dim), dtype=np.uint8)
    acc = rng.integers(-(1 << 31), 1 << 31, (config.acc_rows, config.dim), dtype=np.int64).astype(np.int32)
    return sp, acc


def check(engine: wiring.Component, config: NpuConfig, program: list[Instr], sp: np.ndarray, acc: np.ndarray,
          lutw: np.ndarray | None = None) -> Run:
    """Simulate and compare every SP and ACC row with the golden model."""
    ref = golden(config, program, sp, acc, lutw)
    run = simulate(engine, config, program, sp, acc, lutw)
    assert len(run.done) == len(program), f"{len(run.done)} done pulses for {len(program)} instructions"
    bad_sp = np.nonzero((run.sp != ref.sp).any(axis=1))[0]
    bad_acc = np.nonzero((run.acc != ref.acc).any(axis=1))[0]
    assert not bad_sp.size and not bad_acc.size, (
        f"SP rows {bad_sp.tolist()[:8]} ACC rows {bad_acc.tolist()[:8]} differ\n"
        + "\n".join(f"{i}: {p}" for i, p in enumerate(program))
        + (f"\nACC row {bad_acc[0]}: rtl {run.acc[bad_acc[0]]} golden {ref.acc[bad_acc[0]]}" if bad_acc.size else "")
        + (f"\nSP row {bad_sp[0]}: rtl {run.sp[bad_sp[0]]} golden {ref.sp[bad_sp[0]]}" if bad_sp.size else "")
    )
    return run
