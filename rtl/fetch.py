"""Instruction fetch: reads the task's program from DRAM in short INCR bursts into a small instruction FIFO.

It reads ahead of dispatch only as far as the FIFO has room (credits count instructions requested but not yet
arrived), never past `prog_len` and never across a 4 KiB page. A beat answered with SLVERR/DECERR marks its
instruction `bus_err`, so the dispatcher reports BUS_ERROR with the index of the instruction being fetched.
`flush` (task end or fault) stops it; beats still in flight are discarded, and `idle` says when it may start
again.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from nux.isa import INSTR_BYTES, NpuConfig
from nux.rtl.axi import PAGE_BYTES, read_signature

INSTR_BITS = 8 * INSTR_BYTES
FETCH_LAYOUT = data.StructLayout({"instr": INSTR_BITS, "pc": 32, "bus_err": 1})
FIFO_DEPTH = 8
MAX_BURST_INSTRS = 4


class FetchUnit(wiring.Component):
    """Streams (instr, pc, bus_err) for pc = 0 .. prog_len-1 of the task started by `start`."""

    def __init__(self, config: NpuConfig):
        self.config = config
        self.addr_bits = config.dram_addr_bits
        super().__init__({
            "start": In(1), "prog_base": In(64), "prog_len": In(32), "flush": In(1),
            "rd": Out(read_signature(config.dram_addr_bits, config.axi_data_bits)),
            "out": Out(stream.Signature(FETCH_LAYOUT)),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        W = self.config.axi_data_bits
        beats_per_instr = INSTR_BITS // W
        rd = self.rd
        fifo = SyncFIFOBuffered(width=FETCH_LAYOUT.size, depth=FIFO_DEPTH)
        m.submodules.fifo = ResetInserter(self.flush)(fifo)
        m.d.comb += [self.out.payload.eq(fifo.r_data), self.out.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.out.ready)]

        active = Signal()  # issuing requests for the current task
        next_pc = Signal(32)  # next instruction to request
        arr_pc = Signal(32)  # next instruction to arrive
        addr = Signal(64)
        in_flight = Signal(range(FIFO_DEPTH + 1))  # instructions requested, not yet in the FIFO
        beats_out = Signal(16)  # beats requested, not yet received (also the ones being discarded)
        discard = Signal()

        with m.If(self.start):
            m.d.sync += [active.eq(1), next_pc.eq(0), arr_pc.eq(0), addr.eq(self.prog_base), discard.eq(0)]
        with m.If(self.flush):
            m.d.sync += [active.eq(0), discard.eq(1)]

        # ---- requests
        remaining = Signal(32)
        to_page = Signal(range(PAGE_BYTES // INSTR_BYTES + 1))
        credits = Signal(range(FIFO_DEPTH + 1))
        n = Signal(range(MAX_BURST_INSTRS + 1))
        m.d.comb += [remaining.eq(self.prog_len - next_pc),
                     to_page.eq((PAGE_BYTES - addr[:12]) >> 5),
                     credits.eq(FIFO_DEPTH - fifo.level - in_flight)]
        n1 = Signal.like(n)
        m.d.comb += n1.eq(Mux(remaining < MAX_BURST_INSTRS, remaining, MAX_BURST_INSTRS))
        # The next burst's size is a register, computed from the cycle before (sizing on the 32-bit remainder and
        # then advancing the counters by it was one 4.7 ns path). It is never stale when used: after a request
        # ar_pending holds for at least a cycle, and `settled` holds off the cycle after a start.
        m.d.sync += n.eq(Mux(to_page < n1, to_page, n1))
        ar_pending = Signal()
        requested = Signal.like(n)
        settled = Signal()
        m.d.sync += settled.eq(~self.start)
        pushed = Signal()
        with m.If(ar_pending):
            with m.If(rd.arready):
                m.d.sync += ar_pending.eq(0)
        with m.Elif(active & settled & ~self.flush & ~self.start & (n != 0) & (credits >= n)):
            m.d.sync += [ar_pending.eq(1), rd.araddr.eq(addr), rd.arlen.eq(n * beats_per_instr - 1),
                         next_pc.eq(next_pc + n), addr.eq(addr + n * INSTR_BYTES)]
            m.d.comb += requested.eq(n)
        m.d.comb += rd.arvalid.eq(ar_pending)

        # ---- responses: assemble beats into instructions
        shift = Signal(INSTR_BITS)
        beat = Signal(range(beats_per_instr))
        err = Signal()
        got = rd.rvalid & rd.rready
        m.d.comb += rd.rready.eq(discard | fifo.w_rdy)
        m.d.sync += beats_out.eq(beats_out + (rd.arvalid & rd.arready) * (rd.arlen + 1) - got)
        word = Signal(INSTR_BITS)
        m.d.comb += word.eq(rd.rdata if beats_per_instr == 1 else ((shift >> W) | (rd.rdata << (INSTR_BITS - W))))
        with m.If(got & ~discard):
            m.d.sync += [shift.eq(word), beat.eq(beat + 1), err.eq(err | (rd.rresp != 0))]
            with m.If(beat == beats_per_instr - 1):
                m.d.sync += [beat.eq(0), err.eq(0), arr_pc.eq(arr_pc + 1)]
                payload = data.View(FETCH_LAYOUT, fifo.w_data)
                m.d.comb += [fifo.w_en.eq(1), pushed.eq(1), payload.instr.eq(word), payload.pc.eq(arr_pc),
                             payload.bus_err.eq(err | (rd.rresp != 0))]
        with m.If(self.flush):
            m.d.sync += in_flight.eq(0)
        with m.Else():
            m.d.sync += in_flight.eq(in_flight + requested - pushed)
        with m.If(discard & (beats_out == 0) & ~ar_pending):
            m.d.sync += discard.eq(0)
        with m.If(self.start | self.flush):
            m.d.sync += [beat.eq(0), err.eq(0)]
        m.d.comb += self.idle.eq((beats_out == 0) & ~ar_pending & ~discard)
        return m
