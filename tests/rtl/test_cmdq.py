"""Task controller (amaranth.sim): command-queue depth and overflow, BAD_TASK rules, STATUS/COMPLETED/FAULT_*.

The engine side is played by the bench (it finishes or faults tasks on command), so queue behaviour that is
timing-dependent on the real NPU (a doorbell while the queue is full) is tested exactly.
"""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator
from nux.isa import STATUS, ErrorCode, Irq, NpuConfig, Status
from nux.rtl.cmdq import TaskController

QUEUED, ERROR_CODE = STATUS.field("QUEUED"), STATUS.field("ERROR_CODE")

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128, cmdq_depth=2, dram_addr_bits=20)
GOOD = dict(prog_base=0x1000, prog_len=4, arena_base=0x1000, arena_size=0x1000, tag=1)
pytestmark = pytest.mark.rtl


def run(bench) -> None:
    dut = TaskController(CONFIG)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def testbench(ctx):
        ctx.set(dut.engine.ready, 1)
        await bench(ctx, dut)

    sim.add_testbench(testbench)
    sim.run()


async def doorbell(ctx, dut, **task) -> None:
    for name, value in {**GOOD, **task}.items():
        ctx.set(getattr(dut.task, name), value)
    ctx.set(dut.doorbell, 1)
    await ctx.tick()
    ctx.set(dut.doorbell, 0)


async def wait_start(ctx, dut, limit: int = 10) -> dict:
    for _ in range(limit):
        _, _, start, run = await ctx.tick().sample(dut.engine.start, dut.engine.run)
        if start:
            return {"prog_base": run.prog_base, "prog_len": run.prog_len, "arena_base": run.arena_base,
                    "arena_size": run.arena_size}
    raise AssertionError("no task started")


async def pulse(ctx, signal) -> None:
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)
    await ctx.tick()


def test_queue_depth_overflow_and_completion():
    async def bench(ctx, dut):
        ctx.set(dut.engine.ready, 0)  # hold the engine: everything stays queued
        await doorbell(ctx, dut, tag=11)
        await doorbell(ctx, dut, tag=12)
        assert ctx.get(dut.regs.cmdq_free) == 0
        await doorbell(ctx, dut, tag=13)  # dropped
        status = ctx.get(dut.regs.status)
        assert status & Status.CMDQ_OVERFLOW and status & Status.BUSY and QUEUED.get(status) == 2
        ctx.set(dut.engine.ready, 1)
        run = await wait_start(ctx, dut)
        assert run == {k: GOOD[k] for k in run}
        assert ctx.get(dut.regs.cmdq_free) == 1 and QUEUED.get(ctx.get(dut.regs.status)) == 2  # 1 queued + 1 running
        ctx.set(dut.engine.finished, 1)
        _, _, irq = await ctx.tick().sample(dut.regs.irq_set)
        ctx.set(dut.engine.finished, 0)
        assert irq == Irq.DONE
        await wait_start(ctx, dut)
        assert (ctx.get(dut.regs.completed), ctx.get(dut.regs.last_tag)) == (1, 11)
        await pulse(ctx, dut.engine.finished)
        assert (ctx.get(dut.regs.completed), ctx.get(dut.regs.last_tag)) == (2, 12)
        for _ in range(5):
            _, _, start = await ctx.tick().sample(dut.engine.start)
            assert not start, "the dropped task must not run"
        assert ctx.get(dut.regs.status) & 0xFF == Status.CMDQ_OVERFLOW  # idle, overflow sticky

    run(bench)


@pytest.mark.parametrize("task", [
    dict(prog_base=0x1008),                                      # not 32-byte aligned
    dict(prog_len=0),
    dict(arena_base=0xFF000, arena_size=0x2000, prog_base=0xFF000),  # past 2^20
    dict(prog_base=0x0FE0),                                      # starts before the arena
    dict(prog_len=0x81),                                         # ends past the arena
    dict(prog_base=0x1_0000_1000),                               # high word set
], ids=["misaligned", "len0", "address-space", "before-arena", "past-arena", "high-word"])
def test_bad_task_stops_the_queue(task):
    async def bench(ctx, dut):
        await doorbell(ctx, dut, tag=21, **task)
        await doorbell(ctx, dut, tag=22)
        for _ in range(5):
            _, _, start, irq = await ctx.tick().sample(dut.engine.start, dut.regs.irq_set)
            assert not start, "no task may start after BAD_TASK"
            if irq:
                assert irq == Irq.ERROR
        status = ctx.get(dut.regs.status)
        assert status & Status.ERROR and ERROR_CODE.get(status) == ErrorCode.BAD_TASK
        assert (ctx.get(dut.regs.fault_pc), ctx.get(dut.regs.fault_tag)) == (0, 21)
        assert status & Status.BUSY and QUEUED.get(status) == 1  # the second task waits until CTRL.RESET

    run(bench)


def test_engine_fault_is_recorded():
    async def bench(ctx, dut):
        await doorbell(ctx, dut, tag=31)
        await wait_start(ctx, dut)
        ctx.set(dut.engine.error, 1)
        ctx.set(dut.engine.error_code, ErrorCode.SPAD_OOB)
        ctx.set(dut.engine.error_pc, 3)
        await ctx.tick()
        ctx.set(dut.engine.error, 0)
        await ctx.tick()
        status = ctx.get(dut.regs.status)
        assert status == Status.ERROR | ErrorCode.SPAD_OOB << 8
        assert (ctx.get(dut.regs.fault_pc), ctx.get(dut.regs.fault_tag), ctx.get(dut.regs.completed)) == (3, 31, 0)

    run(bench)
