"""Dispatch-time checks of docs/isa.md section 5, as a pipeline: one instruction in per cycle, its verdict out
`CHECK_LATENCY` cycles later.

Why a pipeline: the row and arena bounds multiply 16- and 32-bit fields and compare 50-bit sums; done in one cycle
that was 15 LUT levels (6.55 ns by nux.rtl.fpga_timing, against 4 ns at 250 MHz). Here every stage holds at most
one multiplier (a 16-bit slice, one DSP48E2) or one adder level, and everything that depends only on the
instruction is settled before the dispatcher sees it. What depends on program-order state (token counts, the
weight tile) is a few gates, left to `dispatch_code`, which the dispatcher evaluates on its registered copy.

The spec's check order (ILLEGAL_OPCODE, BAD_FIELD, BAD_DEP, SPAD_OOB, ARENA_VIOLATION) is kept by carrying the
verdict in two parts, `early` (the first two) and `late` (the last two), with BAD_DEP decided between them.
Bounds computed for an instruction whose fields are bad (a size of 0) are garbage, but then BAD_FIELD wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import ErrorCode, Mem, NpuConfig, Opcode, PoolOp, Queue, VectorOp, opcodes
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

#: What the checker hands the dispatcher per instruction.
CHECKED_LAYOUT = data.StructLayout({
    "instr": INSTR_BITS,
    "bus_err": 1,
    "early": 8,  # ILLEGAL_OPCODE or BAD_FIELD, else 0
    "late": 8,  # SPAD_OOB or ARENA_VIOLATION, else 0
    "missing": 1,  # BAD_DEP from the instruction alone: a flag for a channel its queue lacks
    "needs_tile": 1,  # a GEMM without preload: BAD_DEP unless a weight tile was loaded before it
    "queue": 2,  # Queue value, or DISPATCHER
    "pops": N_CHANNELS,
    "pushes": N_CHANNELS,
    "preload": 1,
})

SUM_STAGE = 5  # every bound is summed by then (the widest: LOAD/STORE's arena end, 8 operands from stage 2)
CHECK_LATENCY = SUM_STAGE + 1  # the compares feed the output register
SAT_BITS = 17  # products of sizes saturate here: every row limit is <= 2**16 (NpuConfig)


def view(opcode: Opcode, instr) -> data.View:
    return data.View(instr_layout(opcode), instr)


def flags(instr) -> tuple:
    """(pop_prev, pop_next, push_prev, push_next) bits of word 0."""
    return instr[4], instr[5], instr[6], instr[7]


def dispatch_code(m: Module, chk: data.View, empty, full, weights_loaded) -> Signal:
    """The first failing check (0: passes) of a checked instruction, given which program-order token counts are
    0 (`empty`) and MAX_TOKENS (`full`), one bit per channel (the dispatcher keeps them as registers).

    BAD_DEP here: a missing channel, a pop with no token pushed earlier, a push beyond MAX_TOKENS (pops are taken
    before pushes; one instruction never pops and pushes the same channel), a GEMM with no weight tile.
    """
    starved = (chk.pops & empty).any()
    over = (chk.pushes & full).any()
    bad_dep = chk.missing | (chk.needs_tile & ~weights_loaded) | starved | over
    code = Signal(8, name="check_code")
    m.d.comb += code.eq(Mux(chk.early != 0, chk.early, Mux(bad_dep, ErrorCode.BAD_DEP, chk.late)))
    return code


@dataclass(frozen=True)
class _At:
    """A value and the pipeline stage it is valid at (0: the incoming instruction, combinationally)."""

    value: Value
    stage: int


class _Stages:
    """Builds the bound arithmetic one register stage at a time; every value carries the stage it is valid at."""

    def __init__(self, m: Module):
        self.m = m

    def reg(self, x: _At, name: str) -> _At:
        if isinstance(x.value, (int, Const)):  # a constant needs no register
            return _At(x.value, x.stage + 1)
        sig = Signal(Value.cast(x.value).shape(), name=name)
        self.m.d.sync += sig.eq(x.value)
        return _At(sig, x.stage + 1)

    def at(self, x: _At, stage: int, name: str) -> Value:
        """`x` delayed to `stage`."""
        assert x.stage <= stage, (x, stage)
        while x.stage < stage:
            x = self.reg(x, name)
        return x.value

    def sum(self, terms: list[_At], name: str) -> _At:
        """A balanced adder tree, one adder level per stage: a wide add is one carry chain per cycle."""
        while len(terms) > 1:
            stage = max(t.stage for t in terms)
            vals = [self.at(t, stage, name) for t in terms]
            pairs = [vals[i] + vals[i + 1] if i + 1 < len(vals) else vals[i] for i in range(0, len(vals), 2)]
            terms = [self.reg(_At(v, stage), name) for v in pairs]
        return terms[0]

    def walk_end(self, base, terms, tail, name: str) -> _At:
        """base + sum((size - 1) * stride) + tail: past the last row (tail 1) or byte of a strided walk.

        Strides are cut into 16-bit slices so that each product is one DSP48E2 (27 x 18 signed).
        """
        ops = [_At(base, 0), _At(tail, 0)]
        for k, (size, stride) in enumerate(terms):
            n = self.reg(_At((size - 1)[:len(size)], 0), f"{name}_n{k}")
            for lo in range(0, len(stride), 16):
                s = self.reg(_At(stride[lo:lo + 16], 0), f"{name}_s{k}_{lo}")
                product = self.reg(_At(n.value * s.value, 1), f"{name}_p{k}_{lo}")
                ops.append(_At(product.value << lo, product.stage))
        return self.sum(ops, name)

    def count_end(self, base, sizes, name: str) -> _At:
        """base + the product of sizes: one past the last row of a run of whole rows.

        Between multiplies the running product saturates (a sticky bit above SAT_BITS): every row limit is at most
        2**16 and, whenever SPAD_OOB decides the verdict, every size is >= 1, so a saturated product still lands
        beyond the limit, and each multiply stays one DSP48E2.
        """
        prod = self.reg(_At(sizes[0], 0), f"{name}_f0")
        for k, size in enumerate(sizes[1:], 1):
            if len(prod.value) > SAT_BITS:
                p = prod.value
                prod = self.reg(_At(Cat(p[:SAT_BITS], p[SAT_BITS:].any()), prod.stage), f"{name}_sat{k}")
            factor = self.at(_At(size, 0), prod.stage, f"{name}_f{k}")
            prod = self.reg(_At(prod.value * factor, prod.stage), f"{name}_prod{k}")
        return self.sum([_At(base, 0), prod], name)


class InstrChecker(wiring.Component):
    """Checks each fetched instruction and passes it on with its verdict fields (CHECKED_LAYOUT).

    The stages move together: when the output is held, everything holds. `flush` (task end or fault) empties the
    pipeline. `arena_size` is read at the compare stage; it is constant while a task runs.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "fetched": In(stream.Signature(FETCH_LAYOUT)),
            "out": Out(stream.Signature(CHECKED_LAYOUT)),
            "arena_size": In(32),
            "flush": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.out.valid | self.out.ready), self.fetched.ready.eq(advance)]
        valid = Signal(CHECK_LATENCY)
        with m.If(self.flush):
            m.d.sync += valid.eq(0)
        with m.Elif(advance):
            m.d.sync += valid.eq(Cat(self.fetched.valid, valid[:-1]))
        m.d.comb += self.out.valid.eq(valid[-1])

        stages = Module()
        m.submodules.stages = EnableInserter(advance)(stages)
        st = _Stages(stages)
        instr = self.fetched.payload.instr
        out = self.out.payload
        fields = self._decode(st, instr) | {"instr": _At(instr, 0), "bus_err": _At(self.fetched.payload.bus_err, 0)}
        for name, value in fields.items():
            stages.d.sync += getattr(out, name).eq(st.at(value, SUM_STAGE, name))
        oob, arena = self._bounds(st, instr)
        late = Signal(8)
        stages.d.comb += late.eq(Mux(oob, ErrorCode.SPAD_OOB, Mux(arena, ErrorCode.ARENA_VIOLATION, 0)))
        stages.d.sync += out.late.eq(late)
        return m

    def _decode(self, st: _Stages, instr) -> dict[str, _At]:
        """Everything but the bounds: the early verdict (at stage 1), the queue and the token channels (stage 0)."""
        m = st.m
        opcode = instr[:4]
        missing, queue, preload, needs_tile = Signal(), Signal(2), Signal(), Signal()
        pops, pushes = Signal(N_CHANNELS), Signal(N_CHANNELS)

        def route(q: Queue):
            """Channel bits of a queue instruction's flags; a flag for a channel the queue lacks is BAD_DEP."""
            lacking = []
            for bit, ch, target in zip(flags(instr), CHANNELS[q], (pops, pops, pushes, pushes), strict=True):
                if ch is None:
                    lacking.append(bit)
                else:
                    m.d.comb += target[ch].eq(bit)
            m.d.comb += [queue.eq(q), missing.eq(Cat(*lacking).any() if lacking else 0)]

        with m.Switch(opcode):
            with m.Case(Opcode.NOP):
                with m.Switch(view(Opcode.NOP, instr).queue):
                    for q in Queue:
                        with m.Case(q):
                            route(q)
            with m.Case(Opcode.SYNC, Opcode.END):
                m.d.comb += queue.eq(DISPATCHER)
            for op, q in ((Opcode.LOAD, Queue.LOAD), (Opcode.STORE, Queue.STORE)):
                with m.Case(op):
                    route(q)
            with m.Case(Opcode.GEMM):
                route(Queue.COMPUTE)
                m.d.comb += [preload.eq(view(Opcode.GEMM, instr).preload),
                             needs_tile.eq(~view(Opcode.GEMM, instr).preload)]
            with m.Case(Opcode.REQUANT, Opcode.VECTOR, Opcode.POOL):
                route(Queue.COMPUTE)

        # BAD_FIELD per opcode in stage 1, the opcode's pick in stage 2: the reserved-bit masks are wide ORs
        opcode1 = st.reg(_At(opcode, 0), "opcode1")
        bad = [(op, st.reg(_At(flag, 0), f"bad_{op.name.lower()}")) for op, flag in self._bad_fields(instr).items()]
        bad_field = Cat(*[(opcode1.value == op) & flag.value for op, flag in bad]).any()
        legal = Cat(*[opcode1.value == op for op in opcodes(RTL_ISA_MINOR)]).any()
        early = Mux(~legal, ErrorCode.ILLEGAL_OPCODE, Mux(bad_field, ErrorCode.BAD_FIELD, 0))
        return {"early": _At(early, 1), "missing": _At(missing, 0), "needs_tile": _At(needs_tile, 0),
                "queue": _At(queue, 0), "pops": _At(pops, 0), "pushes": _At(pushes, 0), "preload": _At(preload, 0)}

    def _bad_fields(self, instr) -> dict[Opcode, Value]:
        """BAD_FIELD of the instruction read as each opcode: reserved bits set, undefined enum values, sizes of 0."""
        dim = self.config.dim

        def reserved(op: Opcode):
            return (instr & Const(reserved_mask(op), INSTR_BITS)).any()

        def zero(v, *names):
            return Cat(*[getattr(v, n) == 0 for n in names]).any()

        ld, st, gm = view(Opcode.LOAD, instr), view(Opcode.STORE, instr), view(Opcode.GEMM, instr)
        rq, vc, pl, nop = (view(Opcode.REQUANT, instr), view(Opcode.VECTOR, instr), view(Opcode.POOL, instr),
                           view(Opcode.NOP, instr))
        return {
            Opcode.LOAD: reserved(Opcode.LOAD) | (ld.dst > Mem.LUT) | (ld.row_elems > dim)
            | zero(ld, "x_size", "y_size", "z_size"),
            Opcode.STORE: reserved(Opcode.STORE) | (st.src > Mem.ACC) | (st.row_elems > dim)
            | zero(st, "x_size", "y_size", "z_size"),
            Opcode.GEMM: reserved(Opcode.GEMM) | zero(gm, "x_size", "y_size"),
            Opcode.REQUANT: reserved(Opcode.REQUANT) | zero(rq, "n_rows"),
            Opcode.VECTOR: reserved(Opcode.VECTOR) | (vc.vop > VectorOp.LUT) | zero(vc, "x_size", "y_size"),
            Opcode.POOL: reserved(Opcode.POOL) | (pl.pop > PoolOp.SUM) | zero(pl, "x_size", "y_size", "win_x", "win_y"),
            Opcode.NOP: reserved(Opcode.NOP) | (nop.queue > Queue.STORE),
            Opcode.SYNC: reserved(Opcode.SYNC),
            Opcode.END: reserved(Opcode.END),
        }

    def _bounds(self, st: _Stages, instr) -> tuple[Value, Value]:
        """(SPAD_OOB, ARENA_VIOLATION) of the instruction at SUM_STAGE, combinationally from that stage."""
        cfg = self.config
        sp, acc = cfg.sp_rows, cfg.acc_rows
        one = Const(1)
        ld, gm, rq = view(Opcode.LOAD, instr), view(Opcode.GEMM, instr), view(Opcode.REQUANT, instr)
        vc, pl = view(Opcode.VECTOR, instr), view(Opcode.POOL, instr)
        xn = (ld.x_pad_before + ld.x_size + ld.x_pad_after)[:17]  # < 2**17: keeps sat * xn one DSP48E2
        yn = (ld.y_pad_before + ld.y_size + ld.y_pad_after)[:17]
        esize_shift = Mux(ld.dst == Mem.ACC, 2, 0)
        row_elems = Mux(ld.row_elems == 0, cfg.dim, ld.row_elems)
        ld_limit = Mux(ld.dst == Mem.SP, sp, Mux(ld.dst == Mem.ACC, acc, cfg.lut_rows))
        is_lut = vc.vop == VectorOp.LUT
        params = Mux(vc.vop == VectorOp.ADD, 6, 2)

        def walk(v, base, pairs, name):
            return st.walk_end(base, [(getattr(v, s), getattr(v, t)) for s, t in pairs], one, name)

        a_walk = [("y_size", "a_ystride"), ("x_size", "a_xstride")]
        # opcode -> [(condition, end, limit)]: SPAD_OOB when condition and end > limit (end is one past the last row)
        checks = {
            Opcode.LOAD: [(one, st.count_end(ld.dst_row, [ld.z_size, yn, xn], "ld_rows"), ld_limit)],
            Opcode.STORE: [(one, st.count_end(ld.dst_row, [ld.z_size, ld.y_size, ld.x_size], "st_rows"),
                            Mux(ld.dst == Mem.SP, sp, acc))],
            Opcode.GEMM: [(gm.preload, st.count_end(gm.w_row, [Const(cfg.dim)], "gm_w"), sp),
                          (one, walk(gm, gm.a_base, a_walk, "gm_a"), sp),
                          (one, st.count_end(gm.acc_base, [gm.x_size, gm.y_size], "gm_acc"), acc)],
            Opcode.REQUANT: [(one, st.count_end(rq.param_row, [Const(2)], "rq_param"), acc),
                             (one, st.count_end(rq.acc_base, [rq.n_rows], "rq_acc"), acc),
                             (one, st.count_end(rq.sp_base, [rq.n_rows], "rq_sp"), sp)],
            Opcode.VECTOR: [(one, walk(vc, vc.a_base, a_walk, "vc_a"), sp),
                            (~is_lut, walk(vc, vc.b_base, [("y_size", "b_ystride"), ("x_size", "b_xstride")],
                                           "vc_b"), sp),
                            (~is_lut, st.count_end(vc.param_row, [params], "vc_param"), acc),
                            (one, st.count_end(vc.out_base, [vc.x_size, vc.y_size], "vc_out"), sp)],
            Opcode.POOL: [(one, walk(pl, pl.a_base, a_walk + [("win_y", "win_ystride"), ("win_x", "win_xstride")],
                                     "pl_a"), sp),
                          (one, st.count_end(pl.param_row, [Const(2)], "pl_param"), acc),
                          (one, st.count_end(pl.out_base, [pl.x_size, pl.y_size], "pl_out"), sp)],
        }
        opcode = st.at(_At(instr[:4], 0), SUM_STAGE, "op")
        oob = Const(0)
        for op, items in checks.items():
            hits = [st.at(_At(cond, 0), SUM_STAGE, "cond")
                    & (st.at(end, SUM_STAGE, "end") > st.at(_At(limit, 0), SUM_STAGE, "limit"))
                    for cond, end, limit in items]
            oob = oob | (opcode == op) & Cat(*hits).any()
        arena_end = st.walk_end(ld.dram_offset, [(ld.z_size, ld.z_stride), (ld.y_size, ld.y_stride),
                                                 (ld.x_size, ld.x_stride)], row_elems << esize_shift, "arena")
        is_dma = (opcode == Opcode.LOAD) | (opcode == Opcode.STORE)
        return oob, is_dma & (st.at(arena_end, SUM_STAGE, "arena") > self.arena_size)
