"""The store unit: STORE, SP/ACC rows -> DRAM (shared row walking and helpers in rtl/dma.py)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out
from nux.isa import ErrorCode, Mem, NpuConfig, Opcode
from nux.rtl.axi import MAX_BURST_BEATS, PAGE_BYTES, write_signature
from nux.rtl.dispatch import issue_signature, view
from nux.rtl.dma import (
    ADDR_BITS,
    RowWalker,
    Stage,
    error_signature,
    max_beats,
    min_of,
    report_error,
    row_length,
    shift_up,
    start_walker,
    times_small,
)


class StoreUnit(wiring.Component):
    """STORE: SP or ACC rows -> DRAM, byte-exact with strobes; done once every write response is back.

    Rows of an x run that are contiguous in DRAM (x_stride == row bytes), whole beats (aligned, a multiple of
    the beat) and inside the arena to the run's end share INCR bursts of up to 256 beats, cut at 4 KiB pages
    (a burst may end inside a row; the next one continues the run). Other rows are written one at a time.
    For 250 MHz every AW field comes from a register: a stage after the walker (P) computes the next row's
    address geometry while the current row is written, and each further burst is sized a beat ahead.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        sp_bits, acc_bits = (config.sp_rows - 1).bit_length(), (config.acc_rows - 1).bit_length()
        super().__init__({
            "cmd": In(issue_signature()),
            "arena_base": In(64), "arena_size": In(32),
            "wr": Out(write_signature(config.dram_addr_bits, config.axi_data_bits)),
            "sp_rd": In(ReadPort.Signature(addr_width=sp_bits, shape=dim * 8)),
            "acc_rd": In(ReadPort.Signature(addr_width=acc_bits, shape=dim * 32)),
            "error": Out(error_signature()),
            "bytes_written": Out(16),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        dim, W = cfg.dim, cfg.axi_data_bits
        self.B = B = W // 8
        self.lb = lb = B.bit_length() - 1
        self.NB = NB = max_beats(cfg)
        m.submodules.walker = walker = RowWalker()
        wr = self.wr
        # per instruction, latched when accepted
        pc, src_row, x_size = Signal(32, name="pc"), Signal(16, name="src_row"), Signal(16, name="x_size")
        length, lane_mask = Signal(8, name="length"), Signal(dim * 4, name="lane_mask")
        is_acc, stride_ok = Signal(name="is_acc"), Signal(name="stride_ok")
        run_beats = Signal(24)  # beats of a whole x run (if its rows are whole beats); a cycle after accepting
        m.d.sync += run_beats.eq(times_small(x_size, length[lb:]))
        b_out = Signal(16)
        aw_sent = wr.awvalid & wr.awready
        m.d.sync += b_out.eq(b_out + aw_sent - (wr.bvalid & wr.bready))
        m.d.comb += wr.bready.eq(1)
        with m.If(wr.bvalid & (wr.bresp != 0)):
            self._report(m, ErrorCode.BUS_ERROR, pc)
        m.d.comb += [self.sp_rd.addr.eq(src_row), self.acc_rd.addr.eq(src_row)]
        consume = Signal()
        p = self._next_row(m, walker, consume, length)
        r = self._row_regs(m, p, consume, x_size, stride_ok, run_beats)
        aw_addr, aw_len = Signal(ADDR_BITS, name="aw_addr"), Signal(8, name="aw_len")
        aw_pending = Signal()  # a coalesced run's next burst starts with the next row: its AW is in the registers
        buf = Signal(dim * 32)  # the row as read (SP rows zero-extended)
        beat = Signal(range(max(NB, 2)))  # beat index within the row
        burst_left = Signal(range(MAX_BURST_BEATS + 1))  # beats of the current burst still to send
        coalesce = Signal()  # the current row belongs to a coalesced run
        rest = Signal(24)  # beats of the coalesced run after the one being sent
        rest_big = Signal()  # rest > 256
        nxt = Signal(ADDR_BITS)  # address of the beat after the one being sent
        tp = Signal(range(PAGE_BYTES // B + 1))  # beats from `nxt` to the 4 KiB page end
        m.d.comb += [wr.awaddr.eq(aw_addr), wr.awlen.eq(aw_len)]
        done = Signal()
        m.d.sync += done.eq(0)
        m.d.comb += self.cmd.done.eq(done)

        def read_next_row() -> None:
            m.d.comb += [consume.eq(1), self.sp_rd.en.eq(1), self.acc_rd.en.eq(1)]
            m.next = "SHIFT"

        def size_next_burst() -> Value:
            """The coalesced run's next burst from `nxt` on: at most 256 beats, never across 4 KiB."""
            return Mux(rest_big, min_of(Const(MAX_BURST_BEATS, 9), tp), min_of(rest[:9], tp))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.cmd.issue.ready.eq(1), self.cmd.idle.eq(~done)]
                with m.If(self.cmd.issue.valid):
                    iv = view(Opcode.STORE, self.cmd.issue.payload.instr)
                    _, i_length = row_length(cfg, iv.row_elems, iv.src == Mem.ACC)
                    m.d.sync += [pc.eq(self.cmd.issue.payload.pc), src_row.eq(iv.src_row), x_size.eq(iv.x_size),
                                 length.eq(i_length), is_acc.eq(iv.src == Mem.ACC),
                                 lane_mask.eq((Const(1, dim * 4 + 1) << i_length) - 1),
                                 stride_ok.eq((iv.x_stride == i_length) & ((i_length & (B - 1)) == 0))]
                    start_walker(m, walker, iv, pads=False)
                    m.d.comb += [walker.x_pad_before.eq(0), walker.x_pad_after.eq(0),
                                 walker.y_pad_before.eq(0), walker.y_pad_after.eq(0)]
                    m.next = "ROW"
            with m.State("ROW"):  # read the next row from SP/ACC
                with m.If(p.valid):
                    read_next_row()
            with m.State("SHIFT"):  # row data arrives: place it in beat position
                row_bytes = Mux(is_acc, self.acc_rd.data, Cat(self.sp_rd.data, Const(0, dim * 24)))
                m.d.sync += [buf.eq(row_bytes), beat.eq(0), src_row.eq(src_row + 1), nxt.eq(r.first + B),
                             tp.eq(Mux(r.to_page == 1, PAGE_BYTES >> lb, r.to_page - 1))]
                with m.If(coalesce & ~aw_pending):  # inside a coalesced burst (its AW is out): more W beats
                    m.d.comb += self.bytes_written.eq(length)
                    m.next = "W"
                with m.Elif(coalesce):  # the run's next burst starts here: its AW was sized in W
                    m.d.comb += [self.bytes_written.eq(length), wr.awvalid.eq(1)]
                    m.d.sync += aw_pending.eq(0)
                    with m.If(wr.awready):
                        m.next = "W"
                    with m.Else():
                        m.next = "AW"
                with m.Elif(~r.in_arena):
                    self._report(m, ErrorCode.INTERNAL, pc)
                    m.next = "NEXT"
                with m.Else():  # offer the row's first AW at once (saving a cycle), from registers
                    m.d.comb += [self.bytes_written.eq(length), wr.awvalid.eq(1), wr.awaddr.eq(r.first),
                                 wr.awlen.eq(Mux(r.run, r.run_burst_m1, r.burst1_m1))]
                    m.d.sync += [burst_left.eq(Mux(r.run, r.run_burst_m1, r.burst1_m1) + 1), aw_addr.eq(r.first),
                                 aw_len.eq(Mux(r.run, r.run_burst_m1, r.burst1_m1))]
                    with m.If(r.run):
                        m.d.sync += [coalesce.eq(1), rest.eq(run_beats - 1), rest_big.eq(run_beats > 257)]
                    with m.If(wr.awready):
                        m.next = "W"
                    with m.Else():  # held (registered, unchanged) until accepted
                        m.next = "AW"
            with m.State("AW"):
                m.d.comb += wr.awvalid.eq(1)
                with m.If(wr.awready):
                    m.next = "W"
            with m.State("W"):
                # the row moves into beat position here, after the register: the SP/ACC read (UltraRAM / block
                # RAM clock-to-out) then only feeds `buf`
                placed, strb = shift_up(buf, r.skew, 8, NB * W), shift_up(lane_mask, r.skew, 1, NB * B)
                m.d.comb += [wr.wvalid.eq(1), wr.wdata.eq(placed.word_select(beat, W)),
                             wr.wstrb.eq(strb.word_select(beat, B)), wr.wlast.eq(burst_left == 1)]
                with m.If(wr.wready):
                    m.d.sync += [beat.eq(beat + 1), burst_left.eq(burst_left - 1), nxt.eq(nxt + B),
                                 tp.eq(Mux(tp == 1, PAGE_BYTES >> lb, tp - 1))]
                    with m.If(coalesce):
                        m.d.sync += [rest.eq(rest - 1), rest_big.eq(rest > 257)]
                    with m.If((burst_left == 1) & coalesce):  # the run's next burst, if any, from the next beat
                        next_burst = size_next_burst()
                        m.d.sync += [burst_left.eq(next_burst), aw_addr.eq(nxt), aw_len.eq(next_burst - 1)]
                    with m.If(beat == r.beats_m1):  # row done: start reading the next one at once
                        with m.If((burst_left == 1) & coalesce):
                            with m.If(rest == 0):
                                m.d.sync += coalesce.eq(0)
                            with m.Else():
                                m.d.sync += aw_pending.eq(1)
                        with m.If(r.last):
                            m.next = "DRAIN"
                        with m.Elif(p.valid):
                            read_next_row()
                        with m.Else():
                            m.next = "ROW"
                    with m.Elif(burst_left == 1):  # next burst inside the row: 4 KiB page or burst length cut
                        with m.If(~coalesce):
                            m.d.sync += [burst_left.eq(r.burst2), aw_addr.eq(nxt), aw_len.eq(r.burst2 - 1)]
                        m.next = "AW"
            with m.State("NEXT"):
                with m.If(r.last):
                    m.next = "DRAIN"
                with m.Else():
                    m.next = "ROW"
            with m.State("DRAIN"):  # all write responses back: the data is visible to later loads
                with m.If(b_out == 0):
                    m.d.sync += done.eq(1)
                    m.next = "IDLE"
        return m

    def _report(self, m: Module, code, pc) -> None:
        report_error(m, self.error, code, pc)

    def _next_row(self, m: Module, walker: RowWalker, consume, length):
        """Stage P: the walker's next row with its DRAM address geometry, refilled as the FSM takes it."""
        B, lb = self.B, self.lb
        p = Stage("p", valid=1, offset=ADDR_BITS, last=1, x_first=1, first=ADDR_BITS, skew=max(lb, 1),
                   beats=range(self.NB + 1), to_page=range(PAGE_BYTES // B + 1), in_arena=1)
        row = walker.rows.payload
        load = walker.rows.valid & (~p.valid | consume)
        m.d.comb += walker.rows.ready.eq(load)
        addr = Signal(ADDR_BITS)
        m.d.comb += addr.eq(self.arena_base + row.offset)
        skew = addr[:lb] if lb else Const(0, 1)
        with m.If(load):
            m.d.sync += [p.valid.eq(1), p.offset.eq(row.offset), p.last.eq(row.last), p.x_first.eq(walker.x_first),
                         p.first.eq(addr & ~Const(B - 1, ADDR_BITS)), p.skew.eq(skew),
                         p.beats.eq((skew + length + B - 1) >> lb), p.to_page.eq((PAGE_BYTES >> lb) - addr[lb:12]),
                         p.in_arena.eq((row.offset[32:] == 0) & ((row.offset[:32] + length) <= self.arena_size))]
        with m.Elif(consume):
            m.d.sync += p.valid.eq(0)
        return p

    def _row_regs(self, m: Module, p, consume, x_size, stride_ok, run_beats):
        """The row being written, taken from P: its first burst is sized here, a cycle before its AW."""
        lb = self.lb
        # burst lengths minus one, ready for AWLEN; a run's first burst and a lone row's, side by side
        r = Stage("r", first=ADDR_BITS, skew=max(lb, 1), beats_m1=range(self.NB), last=1, in_arena=1, run=1,
                   to_page=range(PAGE_BYTES // self.B + 1), burst1_m1=8, run_burst_m1=8, burst2=range(self.NB + 1))
        in_arena = (p.offset[32:] == 0) & ((p.offset[:32] + (run_beats << lb)) <= self.arena_size)
        run = p.x_first & stride_ok & (p.skew == 0) & (x_size > 1) & in_arena
        with m.If(consume):
            m.d.sync += [r.first.eq(p.first), r.skew.eq(p.skew), r.beats_m1.eq(p.beats - 1), r.last.eq(p.last),
                         r.in_arena.eq(p.in_arena), r.run.eq(run), r.to_page.eq(p.to_page),
                         r.run_burst_m1.eq(min_of(run_beats, Const(MAX_BURST_BEATS, 24), p.to_page) - 1),
                         r.burst1_m1.eq(min_of(p.beats, p.to_page) - 1), r.burst2.eq(p.beats - p.to_page)]
        return r

