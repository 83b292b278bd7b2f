"""Command queue and task controller: doorbells in, one task at a time out, completion and error status back.

The task descriptor is checked here (BAD_TASK, docs/isa.md section 2) before the fetch/dispatch engine sees it,
so the engine only ever runs a program that lies inside its arena. COMPLETED, LAST_TAG, FAULT_* and STATUS live
here because they change exactly when a task starts, ends or faults.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out
from nux.isa import ErrorCode, Irq, NpuConfig, Status
from nux.isa.registers import STATUS_ERROR_SHIFT, STATUS_QUEUED_SHIFT
from nux.rtl.axil import TASK_LAYOUT, core_status_signature

#: What the fetch/dispatch engine needs of a task (the tag stays here).
RUN_LAYOUT = data.StructLayout({"prog_base": 64, "prog_len": 32, "arena_base": 64, "arena_size": 32})


def engine_signature() -> wiring.Signature:
    """Task controller -> engine (start a task) and engine -> controller (it finished or faulted)."""
    return wiring.Signature({
        "ready": In(1), "start": Out(1), "run": Out(RUN_LAYOUT),
        "finished": In(1), "error": In(1), "error_code": In(8), "error_pc": In(32),
    })


def task_ends(task: data.View) -> tuple:
    """(arena end, program end): the sums BAD_TASK compares, on mathematical (unbounded) integers."""
    return task.arena_base + task.arena_size, task.prog_base + (task.prog_len << 5)


def bad_task(task: data.View, arena_end, prog_end, dram_addr_bits: int):
    """The BAD_TASK condition of docs/isa.md section 2, given the task's `task_ends`."""
    return ((task.prog_base[:5] != 0) | (task.prog_len == 0) | (arena_end > (1 << dram_addr_bits))
            | (task.prog_base < task.arena_base) | (prog_end > arena_end))


class TaskController(wiring.Component):
    """Queues doorbells (cmdq_depth deep), starts tasks in order, records completion and faults.

    After a fault it stops starting tasks until it is reset (CTRL.RESET resets the whole core).
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "doorbell": In(1),
            "task": In(TASK_LAYOUT),
            "regs": In(core_status_signature()),
            "engine": Out(engine_signature()),
            "running": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        m.submodules.fifo = fifo = SyncFIFO(width=TASK_LAYOUT.size, depth=cfg.cmdq_depth)
        head = data.View(TASK_LAYOUT, fifo.r_data)
        cur_tag = Signal(32)
        error = Signal()
        error_code = Signal(8)
        overflow = Signal()
        completed, last_tag, fault_pc, fault_tag = (self.regs.completed, self.regs.last_tag, self.regs.fault_pc,
                                                    self.regs.fault_tag)
        running = self.running
        regs = self.regs

        # The head task moves to `staged`, whose BAD_TASK sums are registered a cycle later: 64-bit adds and
        # compares straight from the queue's storage into the start logic were one 4.45 ns path.
        staged = data.View(TASK_LAYOUT, Signal(TASK_LAYOUT.size))
        staged_valid = Signal()
        summed = Signal()  # the sums below are those of `staged`
        ends = [Signal(66, name="arena_end"), Signal(66, name="prog_end")]
        waiting = Signal(range(cfg.cmdq_depth + 1))
        m.d.comb += waiting.eq(fifo.level + staged_valid)
        full = waiting == cfg.cmdq_depth
        m.d.comb += [fifo.w_data.eq(self.task.as_value()), fifo.w_en.eq(self.doorbell & ~full)]
        with m.If(self.doorbell & full):
            m.d.sync += overflow.eq(1)
        with m.If(~staged_valid & fifo.r_rdy):
            m.d.comb += fifo.r_en.eq(1)
            m.d.sync += [staged.eq(head), staged_valid.eq(1)]
        m.d.sync += [e.eq(v) for e, v in zip(ends, task_ends(staged), strict=True)] + [summed.eq(staged_valid)]

        m.d.sync += self.engine.start.eq(0)  # a registered pulse: `run` is valid when the engine sees it
        with m.If(~running & ~error & staged_valid & summed & self.engine.ready):
            m.d.sync += staged_valid.eq(0)
            with m.If(bad_task(staged, *ends, cfg.dram_addr_bits)):
                m.d.sync += [error.eq(1), error_code.eq(ErrorCode.BAD_TASK), fault_pc.eq(0),
                             fault_tag.eq(staged.tag)]
                m.d.comb += regs.irq_set.eq(Irq.ERROR)
            with m.Else():
                m.d.sync += [self.engine.start.eq(1), running.eq(1), cur_tag.eq(staged.tag),
                             self.engine.run.prog_base.eq(staged.prog_base),
                             self.engine.run.prog_len.eq(staged.prog_len),
                             self.engine.run.arena_base.eq(staged.arena_base),
                             self.engine.run.arena_size.eq(staged.arena_size)]
        with m.If(running & self.engine.finished):
            m.d.sync += [running.eq(0), completed.eq(completed + 1), last_tag.eq(cur_tag)]
            m.d.comb += regs.irq_set.eq(Irq.DONE)
        with m.If(running & self.engine.error):
            m.d.sync += [running.eq(0), error.eq(1), error_code.eq(self.engine.error_code),
                         fault_pc.eq(self.engine.error_pc), fault_tag.eq(cur_tag)]
            m.d.comb += regs.irq_set.eq(Irq.ERROR)

        queued = Signal(9)
        m.d.comb += queued.eq(waiting + running)
        busy = queued != 0
        m.d.comb += [
            regs.status.eq(busy * Status.BUSY | error * Status.ERROR | overflow * Status.CMDQ_OVERFLOW
                           | (error_code << STATUS_ERROR_SHIFT)
                           | (queued[:8] << STATUS_QUEUED_SHIFT)),
            regs.cmdq_free.eq(cfg.cmdq_depth - waiting),
        ]
        return m
