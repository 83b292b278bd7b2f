"""REDUCE engine (ISA 1.1): MAX / SUM / SUMSQ across the lanes and rows of each group, one row per cycle, then
either the result broadcast to an SP or ACC row or, with `post`, the RECIP / RSQRT multiplier of it.

Stand-alone this session (docs/rtl_rowunit.md says how it joins the compute queue). It talks to the memories
the way rtl/compute_vector.py's VectorEngine does: one instruction at a time (`i_valid`/`i_ready`), a row read
per cycle through `sp_rd` (src SP) or `acc_rd` (src ACC), one output row per group through `sp_wr` (dst_sp) or
`acc_wr`, and `done` one cycle after the last group's write.

Pipeline for a row whose read is issued in cycle e (L = log2(dim) adder/max tree levels):

| cycle | stage |
|---|---|
| e | group walk: row `a_base + g*a_gstride + j*a_rstride` |
| e+1 | lane values: `byte - a_zp` (SP) or the ACC word; the identity in lanes past `last_lanes` of a last row |
| e+2 | SUMSQ squares (9x9 bits) |
| e+3 .. e+2+L | tree: max or wrap32 sum of pairs, one level per cycle |
| e+3+L | group accumulator (max / wrap32 sum with the previous rows of the group) |
| e+4+L | the group's last row: result row written (post = NONE) or `r` handed to the RowOpsUnit |

Groups stream back to back. Two things hold a group's first read back (the walk simply waits, the pipeline
carries bubbles):

* **in-place hazards**: the ISA writes group g's row before group g+1 reads anything, so a read of a row that
  an earlier, not yet written group will write (same memory, address in `[out_row + written, out_row +
  issued)`) waits for that write;
* **post**: the RowOpsUnit (rtl/rowops.py) takes one `r` at a time for a few dozen cycles; group g+1 starts only
  once group g's `r` has been handed over, so the next group's rows stream while the unit works on the previous
  one and at most one `r` waits in between.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig, Opcode, ReduceOp, ReducePost
from nux.rtl.compute_walk import StridedWalk
from nux.rtl.isa_layout import INSTR_BITS, instr_layout
from nux.rtl.mem_ports import acc_read, acc_write, sp_read, sp_write
from nux.rtl.requant import INT32_MIN, byte_param
from nux.rtl.rowops import RowOpsUnit

ROW_TAG = data.StructLayout({"valid": 1, "first": 1, "end": 1})  # a row, the first / last row of its group
#: groups whose last row was read (issued), whose r went to the RowOpsUnit (handed), whose row was written;
#: rows [lo, hi) = out_row + [written, issued) are still to be written by groups whose rows were all read
GROUP_COUNTERS = data.StructLayout({"issued": 16, "handed": 16, "written": 16, "lo": 16, "hi": 16})


class ReduceEngine(wiring.Component):
    """Executes REDUCE (validated by dispatch); `done` pulses once per instruction."""

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        self.tree_levels = (dim - 1).bit_length()
        super().__init__({
            "i_valid": In(1),
            "i_instr": In(INSTR_BITS),
            "i_ready": Out(1),
            "sp_rd": sp_read(config),
            "acc_rd": acc_read(config),
            "sp_wr": sp_write(config),
            "acc_wr": acc_write(config),
            "done": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        ins = Signal(INSTR_BITS)
        rd = data.View(instr_layout(Opcode.REDUCE), ins)
        incoming = data.View(instr_layout(Opcode.REDUCE), self.i_instr)
        idle = Signal(init=1)
        m.d.comb += [self.i_ready.eq(idle), self.idle.eq(idle)]
        start = self.i_valid & idle
        with m.If(start):
            m.d.sync += [ins.eq(self.i_instr), idle.eq(0)]

        groups = Signal(GROUP_COUNTERS)
        with m.If(start):
            m.d.sync += [groups.issued.eq(0), groups.handed.eq(0), groups.written.eq(0),
                         groups.lo.eq(incoming.out_row), groups.hi.eq(incoming.out_row)]
        tag = self._walk(m, start, incoming, rd, groups)
        tag, values = self._lanes(m, tag, rd)
        r_valid, r = self._reduce(m, tag, values, rd)
        final = self._output(m, start, rd, groups, r_valid, r)
        m.d.sync += self.done.eq(final)
        with m.If(final):
            m.d.sync += idle.eq(1)
        return m

    # -------------------------------------------------------------------------------------------- issue
    def _walk(self, m: Module, start, incoming, rd, groups) -> Signal:
        """The group walk with its two hold-backs; returns the tag of the row read this cycle."""
        walk = m.submodules.walk = StridedWalk()
        m.d.comb += [
            walk.load.eq(start), walk.base.eq(incoming.a_base),
            walk.xstride.eq(incoming.a_rstride), walk.x_size.eq(incoming.group_rows),
            walk.ystride.eq(incoming.a_gstride), walk.y_size.eq(incoming.n_groups),
        ]
        streaming = Signal()
        first = Signal()  # the walk stands on the first row of a group
        with m.If(start):
            m.d.sync += [streaming.eq(1), first.eq(1)]
        same_mem = Mux(rd.src == 1, ~rd.dst_sp, rd.dst_sp)  # post != NONE implies dst ACC (dispatch checks)
        pending_write = same_mem & (walk.addr >= groups.lo) & (walk.addr < groups.hi)
        post_busy = first & (rd.post != ReducePost.NONE) & (groups.handed != groups.issued)
        go = streaming & ~pending_write & ~post_busy
        m.d.comb += walk.step.eq(go)
        with m.If(go):
            m.d.sync += first.eq(walk.x_last)
            with m.If(walk.x_last):
                m.d.sync += [groups.issued.eq(groups.issued + 1), groups.hi.eq(groups.hi + 1)]
            with m.If(walk.last):
                m.d.sync += streaming.eq(0)
        m.d.comb += [
            self.sp_rd.en.eq(go & (rd.src == 0)), self.sp_rd.addr.eq(walk.addr),
            self.acc_rd.en.eq(go & (rd.src == 1)), self.acc_rd.addr.eq(walk.addr),
        ]
        tag = Signal(ROW_TAG)
        m.d.comb += [tag.valid.eq(go), tag.first.eq(first), tag.end.eq(walk.x_last)]
        return tag

    # -------------------------------------------------------------------------------------------- lanes
    def _lanes(self, m: Module, tag, rd) -> tuple[Signal, Signal]:
        """e+1: per-lane int32 values (identity in unused lanes); e+2: squared for SUMSQ."""
        dim = self.config.dim
        lanes = data.ArrayLayout(signed(32), dim)
        t1, t2, t3 = Signal(ROW_TAG), Signal(ROW_TAG), Signal(ROW_TAG)
        m.d.sync += [t1.eq(tag), t2.eq(t1), t3.eq(t2)]
        identity = Mux(rd.rop == ReduceOp.MAX, INT32_MIN, 0)
        used = Mux(rd.last_lanes == 0, dim, rd.last_lanes)
        v2 = Signal(lanes)
        v3 = Signal(lanes)
        zp = byte_param(rd.a_zp, rd.a_signed)
        for n in range(dim):
            sp_value = byte_param(self.sp_rd.data[8 * n : 8 * n + 8], rd.a_signed) - zp  # -255..255
            value = Mux(rd.src == 1, self.acc_rd.data[32 * n : 32 * n + 32].as_signed(), sp_value)
            m.d.sync += v2[n].eq(Mux(t1.end & (used <= n), identity, value))
            square = v2[n][:9].as_signed() * v2[n][:9].as_signed()  # SUMSQ reads SP only: |v| <= 255
            m.d.sync += v3[n].eq(Mux(rd.rop == ReduceOp.SUMSQ, square, v2[n]))
        return t3, v3

    # -------------------------------------------------------------------------------------------- tree
    def _reduce(self, m: Module, tag, level, rd) -> tuple[Signal, Signal]:
        """Pairwise tree over the lanes, then the group accumulator; returns (r valid, r), valid for one
        cycle after a group's last row."""
        is_max = rd.rop == ReduceOp.MAX

        def combine(a, b):
            return Mux(is_max, Mux(a > b, a, b), (a + b)[:32].as_signed())

        values = [level[n] for n in range(self.config.dim)]
        while len(values) > 1:
            width = len(values)
            regs = [Signal(signed(32), name=f"tree{width}_{i}") for i in range((width + 1) // 2)]
            for i, reg in enumerate(regs):
                pair = values[2 * i : 2 * i + 2]
                m.d.sync += reg.eq(combine(*pair) if len(pair) == 2 else pair[0])
            nxt = Signal(ROW_TAG, name=f"tree{width}_tag")
            m.d.sync += nxt.eq(tag)
            values, tag = regs, nxt
        total = Signal(signed(32))
        r_valid = Signal()
        with m.If(tag.valid):
            m.d.sync += total.eq(Mux(tag.first, values[0], combine(total, values[0])))
        m.d.sync += r_valid.eq(tag.valid & tag.end)
        return r_valid, total

    # -------------------------------------------------------------------------------------------- output
    def _output(self, m: Module, start, rd, groups, r_valid, r):
        """Write the group's row (post = NONE) or hand r to the RowOpsUnit and write its (m, s); returns
        "the last group's row is written in this cycle"."""
        dim = self.config.dim
        rowops = m.submodules.rowops = RowOpsUnit()
        with_post = rd.post != ReducePost.NONE
        waiting = Signal()  # an r waits for the unit (at most one: see the module docstring)
        held = Signal(signed(32))
        with m.If(start):
            m.d.sync += waiting.eq(0)
        with m.If(r_valid & with_post):
            m.d.sync += [waiting.eq(1), held.eq(r)]
        hand = with_post & (r_valid | waiting) & rowops.i_ready
        m.d.comb += [
            rowops.i_valid.eq(hand),
            rowops.i_r.eq(Mux(waiting, held, r)),
            rowops.i_post.eq(rd.post),
            rowops.i_shift.eq(rd.post_shift),
        ]
        with m.If(hand):
            m.d.sync += [waiting.eq(0), groups.handed.eq(groups.handed + 1)]

        plain = ~with_post & r_valid
        write = plain | rowops.o_valid
        m.d.comb += [
            self.sp_wr.en.eq(plain & rd.dst_sp), self.sp_wr.addr.eq(groups.lo),
            self.sp_wr.data.eq(Cat(*[r[:8]] * dim)),
            self.acc_wr.en.eq(write & ~rd.dst_sp), self.acc_wr.addr.eq(groups.lo),
            self.acc_wr.data.eq(Mux(plain, Cat(*[r] * dim), Cat(rowops.o_m, rowops.o_s))),  # lanes 2.. are 0
        ]
        with m.If(write):
            m.d.sync += [groups.written.eq(groups.written + 1), groups.lo.eq(groups.lo + 1)]
        return write & (groups.written == rd.n_groups - 1)
