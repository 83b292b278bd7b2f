"""Dispatch: checks, dependency tokens, the three instruction queues, SYNC and END.

`InstrChecker` (rtl/dispatch_check.py) evaluates the checks of docs/isa.md section 5 that depend on the
instruction alone, in a pipeline between fetch and the dispatcher, and says which token channels it pops and
pushes. `Dispatcher` walks the program in order, keeps the program-order token counts
(BAD_DEP) and the weights-loaded bit, and hands instructions to three `QueueExec`s (load, compute, store) that
wait for runtime tokens, issue to their unit and push tokens when the unit reports completion.

Token channels are numbered L2C, C2L, C2S, S2C (producer to consumer); each has exactly one popping queue.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from nux.isa import MAX_TOKENS, ErrorCode, NpuConfig, Opcode, Queue
from nux.rtl.dispatch_check import CHANNELS, CHECKED_LAYOUT, DISPATCHER, N_CHANNELS, InstrChecker, dispatch_code, flags
from nux.rtl.dispatch_check import view as view  # re-exported: the DMA units decode with it
from nux.rtl.fetch import FETCH_LAYOUT, INSTR_BITS

ISSUE_LAYOUT = data.StructLayout({"instr": INSTR_BITS, "pc": 32})
QUEUE_DEPTH = 8
INFLIGHT_DEPTH = 8
TOKEN_BITS = 12  # runtime counts may exceed MAX_TOKENS by the queue depths (pops lag pushes)


def issue_signature(pc_bits: int = 32) -> wiring.Signature:
    """Queue -> unit: one instruction at a time (stream), completion pulses in issue order, idle level."""
    return wiring.Signature({
        "issue": Out(stream.Signature(data.StructLayout({"instr": INSTR_BITS, "pc": pc_bits}))),
        "done": In(1),
        "idle": In(1),
    })


class QueueExec(wiring.Component):
    """One in-order instruction queue: FIFO, token waits, issue, completion tracking, token pushes.

    The head instruction leaves when every channel it pops holds a runtime token (it takes them at once) and,
    unless it is a NOP, its unit accepts it. Each leaving instruction is recorded in a completion FIFO; entries
    retire in order, a unit instruction on one of the unit's `done` pulses (registered, so one cycle later, and
    counted, so pulses may arrive in bursts), a NOP as soon as it reaches the head. Retiring pushes the
    instruction's tokens.
    """

    def __init__(self, queue: Queue, pc_bits: int = 32):
        self.queue_kind = queue
        super().__init__({
            "push": In(stream.Signature(ISSUE_LAYOUT)),
            "unit": Out(issue_signature(pc_bits)),
            "tok_avail": In(N_CHANNELS),
            "tok_pop": Out(N_CHANNELS),
            "tok_push": Out(N_CHANNELS),
            "idle": Out(1),
            "retired": Out(1),
            "stalled": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=ISSUE_LAYOUT.size, depth=QUEUE_DEPTH)
        m.submodules.inflight = inflight = SyncFIFO(width=3, depth=INFLIGHT_DEPTH)
        m.d.comb += [fifo.w_data.eq(self.push.payload), fifo.w_en.eq(self.push.valid),
                     self.push.ready.eq(fifo.w_rdy)]
        head = data.View(ISSUE_LAYOUT, fifo.r_data)
        pop_prev, pop_next, push_prev, push_next = flags(head.instr)
        is_nop = head.instr[:4] == Opcode.NOP
        pp, pn, sp, sn = CHANNELS[self.queue_kind]

        need = Signal(N_CHANNELS)
        for bit, ch in ((pop_prev, pp), (pop_next, pn)):
            if ch is not None:
                m.d.comb += need[ch].eq(bit)
        can_go = Signal()
        m.d.comb += can_go.eq(fifo.r_rdy & ((need & ~self.tok_avail) == 0) & inflight.w_rdy)
        unit = self.unit
        m.d.comb += [unit.issue.payload.instr.eq(head.instr), unit.issue.payload.pc.eq(head.pc),
                     unit.issue.valid.eq(can_go & ~is_nop)]
        leave = can_go & (is_nop | unit.issue.ready)
        m.d.comb += [fifo.r_en.eq(leave), inflight.w_en.eq(leave),
                     inflight.w_data.eq(Cat(push_prev, push_next, is_nop)),
                     self.stalled.eq(fifo.r_rdy & ((need & ~self.tok_avail) != 0))]
        with m.If(leave):
            m.d.comb += self.tok_pop.eq(need)

        pending = Signal(range(INFLIGHT_DEPTH + 2))
        done = Signal()  # the unit's pulse, registered: its completion logic does not run on into the token counts
        m.d.sync += done.eq(unit.done)
        r_push_prev, r_push_next, r_nop = inflight.r_data[0], inflight.r_data[1], inflight.r_data[2]
        retire = inflight.r_rdy & (r_nop | (pending != 0) | done)
        m.d.comb += [inflight.r_en.eq(retire), self.retired.eq(retire)]
        m.d.sync += pending.eq(pending + done - (retire & ~r_nop))
        pushes = [Const(0, 1)] * N_CHANNELS  # whole-vector assignment: channels this queue lacks are tied to 0
        for bit, ch in ((r_push_prev, sp), (r_push_next, sn)):
            if ch is not None:
                pushes[ch] = retire & bit
        m.d.comb += self.tok_push.eq(Cat(*pushes))
        m.d.comb += self.idle.eq(~fifo.r_rdy & ~inflight.r_rdy & unit.idle)
        return m


class Dispatcher(wiring.Component):
    """Runs one task's instruction stream: check, route, SYNC/END, and the stop-on-error drain.

    An instruction that fails a check is not dispatched; the dispatcher waits until everything already
    dispatched has completed, then reports the error with the instruction's index. A runtime error reported by
    a DMA unit (BUS_ERROR, INTERNAL) stops dispatch the same way.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "start": In(1), "prog_len": In(32), "arena_size": In(32),
            "fetched": In(stream.Signature(FETCH_LAYOUT)),
            "finished": Out(1), "error": Out(1), "error_code": Out(8), "error_pc": Out(32),
            "unit_error": In(1), "unit_error_code": In(8), "unit_error_pc": In(32),
            "load": Out(issue_signature()), "compute": Out(issue_signature(16)), "store": Out(issue_signature()),
            "instret": Out(3), "stall": Out(3), "running": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.checker = checker = InstrChecker(self.config)
        wiring.connect(m, wiring.flipped(self.fetched), checker.fetched)
        m.d.comb += [checker.arena_size.eq(self.arena_size), checker.flush.eq(self.finished | self.error)]
        queues = {q: QueueExec(q, 16 if q == Queue.COMPUTE else 32) for q in Queue}
        for q, qe in queues.items():
            m.submodules[f"{q.name.lower()}_queue"] = qe
        units = {Queue.LOAD: self.load, Queue.COMPUTE: self.compute, Queue.STORE: self.store}
        for q, qe in queues.items():
            wiring.connect(m, qe.unit, wiring.flipped(units[q]))

        # ---- runtime tokens
        # `avail[c]` is `tokens[c] != 0` kept in a register of its own (updated with the count, so always equal
        # to it): the queues' issue logic starts from a flip-flop instead of a count compare (the token count
        # -> load walker start path was 5.40 ns at dim 8)
        tokens = [Signal(TOKEN_BITS, name=f"tokens_{i}") for i in range(N_CHANNELS)]
        avail = Signal(N_CHANNELS, name="tokens_avail")
        for c in range(N_CHANNELS):
            pushed = Cat(*[qe.tok_push[c] for qe in queues.values()]).any()
            popped = Cat(*[qe.tok_pop[c] for qe in queues.values()]).any()
            m.d.sync += tokens[c].eq(tokens[c] + pushed - popped)
            m.d.sync += avail[c].eq(pushed | Mux(popped, tokens[c] > 1, tokens[c] != 0))
        for qe in queues.values():
            m.d.comb += qe.tok_avail.eq(avail)
        all_idle = Cat(*[qe.idle for qe in queues.values()]).all()
        m.d.comb += self.stall.eq(Cat(*[queues[q].stalled for q in Queue]))

        # ---- program-order state
        dep = [Signal(9, name=f"dep_{i}") for i in range(N_CHANNELS)]
        dep_empty = Signal(N_CHANNELS, init=(1 << N_CHANNELS) - 1)  # dep[c] == 0 and == MAX_TOKENS, registered
        dep_full = Signal(N_CHANNELS)
        weights_loaded = Signal()
        pc = Signal(32)
        chk = Signal(CHECKED_LAYOUT)  # the instruction being dispatched, with its verdict fields
        instr = chk.instr
        check_code = dispatch_code(m, chk, dep_empty, dep_full, weights_loaded)

        rt_err = Signal()
        rt_code = Signal(8)
        rt_pc = Signal(32)
        with m.If(self.unit_error & ~rt_err):
            m.d.sync += [rt_err.eq(1), rt_code.eq(self.unit_error_code), rt_pc.eq(self.unit_error_pc)]
        code = Signal(8)
        err_pc = Signal(32)
        dispatcher_retired = Signal()
        # registered: retiring hangs on the units' idle levels, and the 64-bit INSTRET adder follows
        m.d.sync += self.instret.eq(queues[Queue.LOAD].retired + queues[Queue.COMPUTE].retired
                                    + queues[Queue.STORE].retired + dispatcher_retired)

        for qe in queues.values():
            m.d.comb += [qe.push.payload.instr.eq(instr), qe.push.payload.pc.eq(pc)]

        def offer(queue_sel) -> None:
            """Present the instruction to queue `queue_sel`; on to the next one when it is taken."""
            m.next = "ISSUE"
            for q, qe in queues.items():
                with m.If(queue_sel == q):
                    m.d.comb += qe.push.valid.eq(1)
                    with m.If(qe.push.ready):
                        m.d.sync += pc.eq(pc + 1)
                        m.next = "FETCH"

        def fail(m, error_code, at_pc):
            m.d.sync += [code.eq(error_code), err_pc.eq(at_pc)]
            m.next = "DRAIN"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [pc.eq(0), weights_loaded.eq(0), rt_err.eq(0), dep_empty.eq(dep_empty.init),
                                 dep_full.eq(0)] + [d.eq(0) for d in dep]
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += self.running.eq(1)
                with m.If(rt_err):
                    m.next = "DRAIN"
                with m.Elif(pc == self.prog_len):
                    fail(m, ErrorCode.PROGRAM_OVERRUN, pc)
                with m.Elif(checker.out.valid):
                    m.d.comb += checker.out.ready.eq(1)
                    m.d.sync += chk.eq(checker.out.payload)
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.running.eq(1)
                with m.If(rt_err):
                    m.next = "DRAIN"
                with m.Elif(chk.bus_err):
                    fail(m, ErrorCode.BUS_ERROR, pc)
                with m.Elif(check_code != 0):
                    fail(m, check_code, pc)
                with m.Else():
                    for c in range(N_CHANNELS):
                        count = (dep[c] - chk.pops[c] + chk.pushes[c])[:9]
                        m.d.sync += [dep[c].eq(count), dep_empty[c].eq(count == 0),
                                     dep_full[c].eq(count >= MAX_TOKENS)]
                    with m.If(chk.preload):
                        m.d.sync += weights_loaded.eq(1)
                    with m.Switch(chk.queue):
                        with m.Case(DISPATCHER):
                            m.next = "DRAIN_OP"
                        with m.Default():  # straight into the queue when it has room (2 cycles/instruction)
                            offer(chk.queue)
            with m.State("ISSUE"):  # the queue was full: keep offering
                m.d.comb += self.running.eq(1)
                offer(chk.queue)
            with m.State("DRAIN_OP"):  # SYNC or END: wait for every queue to drain
                m.d.comb += self.running.eq(1)
                with m.If(rt_err):
                    m.next = "DRAIN"
                with m.Elif(all_idle):
                    m.d.comb += dispatcher_retired.eq(1)
                    m.d.sync += pc.eq(pc + 1)
                    with m.If(instr[:4] == Opcode.END):
                        m.d.comb += self.finished.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("DRAIN"):  # stop on error once what was dispatched has completed
                m.d.comb += self.running.eq(1)
                with m.If(all_idle):
                    m.d.comb += [self.error.eq(1), self.error_code.eq(Mux(rt_err, rt_code, code)),
                                 self.error_pc.eq(Mux(rt_err, rt_pc, err_pc))]
                    m.next = "IDLE"
        return m
