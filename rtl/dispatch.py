"""Decode, dispatch-time checks, dependency tokens, the three instruction queues, SYNC and END.

`InstrChecker` evaluates every check of docs/isa.md section 5 for one instruction (combinationally, from the
registered instruction) and reports the first failing one in the spec's priority order, plus the token channels
the instruction pops and pushes. `Dispatcher` walks the program in order, keeps the program-order token counts
(BAD_DEP) and the weights-loaded bit, and hands instructions to three `QueueExec`s (load, compute, store) that
wait for runtime tokens, issue to their unit and push tokens when the unit reports completion.

Token channels are numbered L2C, C2L, C2S, S2C (producer to consumer); each has exactly one popping queue.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from nux.isa import MAX_TOKENS, ErrorCode, Mem, NpuConfig, Opcode, PoolOp, Queue, VectorOp, opcodes
from nux.rtl.fetch import FETCH_LAYOUT, INSTR_BITS
from nux.rtl.isa_layout import RTL_ISA_MINOR, instr_layout, reserved_mask

L2C, C2L, C2S, S2C = range(4)
N_CHANNELS = 4
DISPATCHER = 3  # "queue" of SYNC and END: the dispatcher runs them itself

#: queue -> (pop_prev, pop_next, push_prev, push_next) channel, None where the flag is BAD_DEP on that queue.
CHANNELS: dict[Queue, tuple[int | None, int | None, int | None, int | None]] = {
    Queue.LOAD: (None, C2L, None, L2C),
    Queue.COMPUTE: (L2C, S2C, C2L, C2S),
    Queue.STORE: (C2S, None, S2C, None),
}

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


def view(opcode: Opcode, instr) -> data.View:
    return data.View(instr_layout(opcode), instr)


def _flags(instr) -> tuple:
    """(pop_prev, pop_next, push_prev, push_next) bits of word 0."""
    return instr[4], instr[5], instr[6], instr[7]


class InstrChecker(wiring.Component):
    """All dispatch-time checks of one instruction; `code` is the first failing ErrorCode (0 when it passes).

    Also decodes where the instruction goes (`queue`: Queue value, or DISPATCHER for SYNC/END) and which token
    channels it pops and pushes (one bit per channel), and whether it preloads a weight tile.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "instr": In(INSTR_BITS),
            "arena_size": In(32),
            "tokens": In(data.ArrayLayout(9, N_CHANNELS)),  # program-order counts
            "weights_loaded": In(1),
            "code": Out(8),
            "queue": Out(2),
            "pops": Out(N_CHANNELS),
            "pushes": Out(N_CHANNELS),
            "preload": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        instr = self.instr
        opcode = instr[:4]
        illegal = Signal()
        bad_field = Signal()
        bad_dep = Signal()
        oob = Signal()
        arena = Signal()

        legal = [op.value for op in opcodes(RTL_ISA_MINOR)]
        m.d.comb += illegal.eq(1)
        with m.Switch(opcode):
            with m.Case(*legal):
                m.d.comb += illegal.eq(0)

        def reserved(op: Opcode):
            return (instr & Const(reserved_mask(op), INSTR_BITS)).any()

        def below(value, limit: int):
            return value < limit

        def row_elems(v) -> Signal:
            re = Signal(range(cfg.dim + 1), name="row_elems_eff")
            m.d.comb += re.eq(Mux(v.row_elems == 0, cfg.dim, v.row_elems))
            return re

        def max_row(base, terms):
            """base + sum((size-1) * stride): the largest row of a strided walk (sizes are >= 1 when used)."""
            total = base
            for size, stride in terms:
                total = total + (size - 1) * stride
            return total

        queue = self.queue
        pop_prev, pop_next, push_prev, push_next = _flags(instr)

        def route(q):
            """Dependency flags of a queue instruction: channel bits, and BAD_DEP for missing channels."""
            pp, pn, sp, sn = CHANNELS[q]
            missing = []
            for bit, ch, target in ((pop_prev, pp, "pops"), (pop_next, pn, "pops"),
                                    (push_prev, sp, "pushes"), (push_next, sn, "pushes")):
                if ch is None:
                    missing.append(bit)
                else:
                    m.d.comb += getattr(self, target)[ch].eq(bit)
            m.d.comb += queue.eq(q)
            return Cat(*missing).any() if missing else Const(0)

        missing_channel = Signal()
        with m.Switch(opcode):
            with m.Case(Opcode.LOAD):
                v = view(Opcode.LOAD, instr)
                m.d.comb += missing_channel.eq(route(Queue.LOAD))
                re = row_elems(v)
                esize = Mux(v.dst == Mem.ACC, 4, 1)
                m.d.comb += bad_field.eq(reserved(Opcode.LOAD) | (v.dst > Mem.LUT) | (v.row_elems > cfg.dim)
                                         | (v.x_size == 0) | (v.y_size == 0) | (v.z_size == 0))
                xn = v.x_pad_before + v.x_size + v.x_pad_after
                yn = v.y_pad_before + v.y_size + v.y_pad_after
                last = v.dst_row + v.z_size * yn * xn - 1
                limit = Mux(v.dst == Mem.SP, cfg.sp_rows, Mux(v.dst == Mem.ACC, cfg.acc_rows, cfg.lut_rows))
                m.d.comb += oob.eq(last >= limit)
                end = max_row(v.dram_offset, [(v.z_size, v.z_stride), (v.y_size, v.y_stride),
                                              (v.x_size, v.x_stride)]) + re * esize
                m.d.comb += arena.eq(end > self.arena_size)
            with m.Case(Opcode.STORE):
                v = view(Opcode.STORE, instr)
                m.d.comb += missing_channel.eq(route(Queue.STORE))
                re = row_elems(v)
                esize = Mux(v.src == Mem.ACC, 4, 1)
                m.d.comb += bad_field.eq(reserved(Opcode.STORE) | (v.src > Mem.ACC) | (v.row_elems > cfg.dim)
                                         | (v.x_size == 0) | (v.y_size == 0) | (v.z_size == 0))
                last = v.src_row + v.z_size * v.y_size * v.x_size - 1
                m.d.comb += oob.eq(last >= Mux(v.src == Mem.SP, cfg.sp_rows, cfg.acc_rows))
                end = max_row(v.dram_offset, [(v.z_size, v.z_stride), (v.y_size, v.y_stride),
                                              (v.x_size, v.x_stride)]) + re * esize
                m.d.comb += arena.eq(end > self.arena_size)
            with m.Case(Opcode.GEMM):
                v = view(Opcode.GEMM, instr)
                m.d.comb += missing_channel.eq(route(Queue.COMPUTE) | (~v.preload & ~self.weights_loaded))
                m.d.comb += self.preload.eq(v.preload)
                m.d.comb += bad_field.eq(reserved(Opcode.GEMM) | (v.x_size == 0) | (v.y_size == 0))
                a_last = max_row(v.a_base, [(v.y_size, v.a_ystride), (v.x_size, v.a_xstride)])
                m.d.comb += oob.eq((v.preload & ~below(v.w_row + cfg.dim - 1, cfg.sp_rows))
                                   | ~below(a_last, cfg.sp_rows)
                                   | ~below(v.acc_base + v.x_size * v.y_size - 1, cfg.acc_rows))
            with m.Case(Opcode.REQUANT):
                v = view(Opcode.REQUANT, instr)
                m.d.comb += missing_channel.eq(route(Queue.COMPUTE))
                m.d.comb += bad_field.eq(reserved(Opcode.REQUANT) | (v.n_rows == 0))
                m.d.comb += oob.eq(~below(v.param_row + 1, cfg.acc_rows)
                                   | ~below(v.acc_base + v.n_rows - 1, cfg.acc_rows)
                                   | ~below(v.sp_base + v.n_rows - 1, cfg.sp_rows))
            with m.Case(Opcode.VECTOR):
                v = view(Opcode.VECTOR, instr)
                m.d.comb += missing_channel.eq(route(Queue.COMPUTE))
                m.d.comb += bad_field.eq(reserved(Opcode.VECTOR) | (v.vop > VectorOp.LUT) | (v.x_size == 0)
                                         | (v.y_size == 0))
                a_last = max_row(v.a_base, [(v.y_size, v.a_ystride), (v.x_size, v.a_xstride)])
                b_last = max_row(v.b_base, [(v.y_size, v.b_ystride), (v.x_size, v.b_xstride)])
                params = Mux(v.vop == VectorOp.ADD, 6, 2)
                is_lut = v.vop == VectorOp.LUT
                m.d.comb += oob.eq(~below(a_last, cfg.sp_rows)
                                   | (~is_lut & ~below(b_last, cfg.sp_rows))
                                   | (~is_lut & ~below(v.param_row + params - 1, cfg.acc_rows))
                                   | ~below(v.out_base + v.x_size * v.y_size - 1, cfg.sp_rows))
            with m.Case(Opcode.POOL):
                v = view(Opcode.POOL, instr)
                m.d.comb += missing_channel.eq(route(Queue.COMPUTE))
                m.d.comb += bad_field.eq(reserved(Opcode.POOL) | (v.pop > PoolOp.SUM) | (v.x_size == 0)
                                         | (v.y_size == 0) | (v.win_x == 0) | (v.win_y == 0))
                a_last = max_row(v.a_base, [(v.y_size, v.a_ystride), (v.x_size, v.a_xstride),
                                            (v.win_y, v.win_ystride), (v.win_x, v.win_xstride)])
                m.d.comb += oob.eq(~below(a_last, cfg.sp_rows) | ~below(v.param_row + 1, cfg.acc_rows)
                                   | ~below(v.out_base + v.x_size * v.y_size - 1, cfg.sp_rows))
            with m.Case(Opcode.NOP):
                v = view(Opcode.NOP, instr)
                m.d.comb += bad_field.eq(reserved(Opcode.NOP) | (v.queue > Queue.STORE))
                with m.Switch(v.queue):
                    for q in Queue:
                        with m.Case(q):
                            m.d.comb += missing_channel.eq(route(q))
            with m.Case(Opcode.SYNC, Opcode.END):
                m.d.comb += [queue.eq(DISPATCHER), bad_field.eq(reserved(Opcode.SYNC))]

        # BAD_DEP: a missing channel, a pop with no token pushed earlier, a push beyond MAX_TOKENS
        # (pops are taken before pushes; one instruction never pops and pushes the same channel).
        starved = Cat(*[self.pops[c] & (self.tokens[c] == 0) for c in range(N_CHANNELS)]).any()
        full = Cat(*[self.pushes[c] & (self.tokens[c] >= MAX_TOKENS) for c in range(N_CHANNELS)]).any()
        m.d.comb += bad_dep.eq(missing_channel | starved | full)

        with m.If(illegal):
            m.d.comb += self.code.eq(ErrorCode.ILLEGAL_OPCODE)
        with m.Elif(bad_field):
            m.d.comb += self.code.eq(ErrorCode.BAD_FIELD)
        with m.Elif(bad_dep):
            m.d.comb += self.code.eq(ErrorCode.BAD_DEP)
        with m.Elif(oob):
            m.d.comb += self.code.eq(ErrorCode.SPAD_OOB)
        with m.Elif(arena):
            m.d.comb += self.code.eq(ErrorCode.ARENA_VIOLATION)
        return m


class QueueExec(wiring.Component):
    """One in-order instruction queue: FIFO, token waits, issue, completion tracking, token pushes.

    The head instruction leaves when every channel it pops holds a runtime token (it takes them at once) and,
    unless it is a NOP, its unit accepts it. Each leaving instruction is recorded in a completion FIFO; entries
    retire in order, a unit instruction on one of the unit's `done` pulses (counted, so pulses may arrive in
    bursts), a NOP as soon as it reaches the head. Retiring pushes the instruction's tokens.
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
        pop_prev, pop_next, push_prev, push_next = _flags(head.instr)
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
        r_push_prev, r_push_next, r_nop = inflight.r_data[0], inflight.r_data[1], inflight.r_data[2]
        retire = inflight.r_rdy & (r_nop | (pending != 0) | unit.done)
        m.d.comb += [inflight.r_en.eq(retire), self.retired.eq(retire)]
        m.d.sync += pending.eq(pending + unit.done - (retire & ~r_nop))
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
        queues = {q: QueueExec(q, 16 if q == Queue.COMPUTE else 32) for q in Queue}
        for q, qe in queues.items():
            m.submodules[f"{q.name.lower()}_queue"] = qe
        units = {Queue.LOAD: self.load, Queue.COMPUTE: self.compute, Queue.STORE: self.store}
        for q, qe in queues.items():
            wiring.connect(m, qe.unit, wiring.flipped(units[q]))

        # ---- runtime tokens
        tokens = [Signal(TOKEN_BITS, name=f"tokens_{i}") for i in range(N_CHANNELS)]
        for c in range(N_CHANNELS):
            pushed = Cat(*[qe.tok_push[c] for qe in queues.values()]).any()
            popped = Cat(*[qe.tok_pop[c] for qe in queues.values()]).any()
            m.d.sync += tokens[c].eq(tokens[c] + pushed - popped)
        avail = Cat(*[t != 0 for t in tokens])
        for qe in queues.values():
            m.d.comb += qe.tok_avail.eq(avail)
        all_idle = Cat(*[qe.idle for qe in queues.values()]).all()
        m.d.comb += self.stall.eq(Cat(*[queues[q].stalled for q in Queue]))

        # ---- program-order state
        dep = [Signal(9, name=f"dep_{i}") for i in range(N_CHANNELS)]
        weights_loaded = Signal()
        pc = Signal(32)
        instr = Signal(INSTR_BITS)
        bus_err = Signal()
        m.d.comb += [checker.instr.eq(instr), checker.arena_size.eq(self.arena_size),
                     checker.weights_loaded.eq(weights_loaded)]
        for c in range(N_CHANNELS):
            m.d.comb += checker.tokens[c].eq(dep[c])

        rt_err = Signal()
        rt_code = Signal(8)
        rt_pc = Signal(32)
        with m.If(self.unit_error & ~rt_err):
            m.d.sync += [rt_err.eq(1), rt_code.eq(self.unit_error_code), rt_pc.eq(self.unit_error_pc)]
        code = Signal(8)
        err_pc = Signal(32)
        dispatcher_retired = Signal()
        m.d.comb += self.instret.eq(queues[Queue.LOAD].retired + queues[Queue.COMPUTE].retired
                                    + queues[Queue.STORE].retired + dispatcher_retired)
        target = Signal(2)

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
                    m.d.sync += [pc.eq(0), weights_loaded.eq(0), rt_err.eq(0)] + [d.eq(0) for d in dep]
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += self.running.eq(1)
                with m.If(rt_err):
                    m.next = "DRAIN"
                with m.Elif(pc == self.prog_len):
                    fail(m, ErrorCode.PROGRAM_OVERRUN, pc)
                with m.Elif(self.fetched.valid):
                    m.d.comb += self.fetched.ready.eq(1)
                    m.d.sync += [instr.eq(self.fetched.payload.instr), bus_err.eq(self.fetched.payload.bus_err)]
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.running.eq(1)
                with m.If(rt_err):
                    m.next = "DRAIN"
                with m.Elif(bus_err):
                    fail(m, ErrorCode.BUS_ERROR, pc)
                with m.Elif(checker.code != 0):
                    fail(m, checker.code, pc)
                with m.Else():
                    for c in range(N_CHANNELS):
                        m.d.sync += dep[c].eq(dep[c] - checker.pops[c] + checker.pushes[c])
                    with m.If(checker.preload):
                        m.d.sync += weights_loaded.eq(1)
                    m.d.sync += target.eq(checker.queue)
                    with m.Switch(checker.queue):
                        with m.Case(DISPATCHER):
                            m.next = "DRAIN_OP"
                        with m.Default():  # straight into the queue when it has room (2 cycles/instruction)
                            offer(checker.queue)
            with m.State("ISSUE"):  # the queue was full: keep offering
                m.d.comb += self.running.eq(1)
                offer(target)
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
