"""The load unit: LOAD, DRAM -> SP/ACC/LUT rows (shared row walking and helpers in rtl/dma.py)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out
from nux.isa import ErrorCode, Mem, NpuConfig, Opcode
from nux.rtl.axi import PAGE_BYTES, read_signature
from nux.rtl.dispatch import issue_signature, view
from nux.rtl.dma import (
    ADDR_BITS,
    RowWalker,
    Stage,
    error_signature,
    lut_write_signature,
    max_beats,
    min_of,
    report_error,
    row_length,
    sext32,
    start_walker,
    times_small,
)

META_DEPTH = 64  # rows in flight: covers the DRAM latency (plus the AXI slices) at one row per cycle
RSP_DEPTH = 4  # LOADs in flight in the load unit: one requesting, the others finishing
READ_BURST_BEATS = 32  # longest coalesced read burst (AXI allows 256): a few outstanding bursts cover the DRAM
# latency, and a shorter burst keeps instruction fetch (same read port, in-order DRAM) from waiting long

READ_JOB = 4  # AR jobs (a row, or a coalesced run) queued between the row pipeline and the AR generator
WRITE_QUEUE = 4  # finished rows between realignment and the SP/ACC write port: covers the 3-cycle credit loop


class LoadUnit(wiring.Component):
    """LOAD: DRAM -> SP, ACC (little-endian int32 lanes) or LUT rows, with padding and unused-lane fill.

    Pipelined for 250 MHz (docs/rtl.md, "DMA"): request side walker -> R1 (row + per-instruction constants) ->
    R2 (address geometry, arena checks) -> metadata FIFO and AR jobs -> AR generator; response side beats ->
    S1 (collected row) -> realignment and padding -> write queue -> SP/ACC/LUT write port. The stages after the
    walker and after a row's last beat never stall: the walker and the R channel go on only with credits for the
    space behind them, so no ready signal runs back through the pipeline.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        sp_bits, acc_bits = (config.sp_rows - 1).bit_length(), (config.acc_rows - 1).bit_length()
        super().__init__({
            "cmd": In(issue_signature()),
            "arena_base": In(64), "arena_size": In(32),
            "rd": Out(read_signature(config.dram_addr_bits, config.axi_data_bits)),
            "sp_wr": In(WritePort.Signature(addr_width=sp_bits, shape=dim * 8)),
            "acc_wr": In(WritePort.Signature(addr_width=acc_bits, shape=dim * 32)),
            "lut_wr": Out(lut_write_signature(dim)),
            # the compute unit writes SP / ACC this cycle: it owns the memory's one write port, the row waits
            "sp_busy": In(1), "acc_busy": In(1),
            "error": Out(error_signature()),
            "bytes_read": Out(16),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        W = cfg.axi_data_bits
        self.B = B = W // 8
        self.lb = B.bit_length() - 1
        self.NB = NB = max_beats(cfg)
        self.cap = READ_BURST_BEATS
        m.submodules.walker = walker = RowWalker()
        self.meta_layout = data.StructLayout({"pad": 1, "skew": max((B - 1).bit_length(), 1),
                                              "beats_m1": max((NB - 1).bit_length(), 1), "length": 8, "last": 1})
        m.submodules.meta = meta = SyncFIFOBuffered(width=self.meta_layout.size, depth=META_DEPTH)
        # The response side's copy of each LOAD in flight: the next LOAD starts requesting while the previous
        # one's data is still on its way, so back-to-back LOADs leave no latency bubble.
        self.rsp_layout = data.StructLayout({"dst": 2, "dst_row": 16, "pad_value": 8, "elems": 8, "pc": 32})
        m.submodules.rsp = rsp = SyncFIFOBuffered(width=self.rsp_layout.size, depth=RSP_DEPTH)
        self.job_layout = data.StructLayout({"first": ADDR_BITS, "beats": 24, "nb": range(self.cap + 1), "more": 1})
        # unbuffered (LUTRAM read): a cycle less from a LOAD's issue to its first AR
        m.submodules.jobs = jobs = SyncFIFO(width=self.job_layout.size, depth=READ_JOB)
        issued = Signal(range(self.cap + 1))  # beats requested this cycle
        busy = self._request(m, walker, meta, rsp, jobs, issued)
        self._bursts(m, jobs, issued)
        self._response(m, meta, rsp, busy)
        return m

    def _report(self, m: Module, code, pc) -> None:
        report_error(m, self.error, code, pc)

    def _request(self, m, walker, meta, rsp, jobs, issued):
        """Instruction latch, walker, R1 and R2; returns the request side's busy flag."""
        cfg, B, lb = self.config, self.B, self.lb
        busy = Signal()
        accept = self.cmd.issue.valid & ~busy & rsp.w_rdy
        m.d.comb += self.cmd.issue.ready.eq(~busy & rsp.w_rdy)
        iv = view(Opcode.LOAD, self.cmd.issue.payload.instr)
        elems, length = row_length(cfg, iv.row_elems, iv.dst == Mem.ACC)
        rw = data.View(self.rsp_layout, rsp.w_data)
        m.d.comb += [rw.dst.eq(iv.dst), rw.dst_row.eq(iv.dst_row), rw.pad_value.eq(iv.pad_value),
                     rw.elems.eq(elems), rw.pc.eq(self.cmd.issue.payload.pc), rsp.w_en.eq(accept)]
        # per-instruction constants of the rows the walker hands out (R0)
        i = Stage("i", length=8, x_size=16, pc=32, stride_ok=1)  # stride_ok: x runs are contiguous whole beats
        with m.If(accept):
            m.d.sync += [busy.eq(1), i.length.eq(length), i.x_size.eq(iv.x_size), i.pc.eq(self.cmd.issue.payload.pc),
                         i.stride_ok.eq((iv.x_stride == length) & ((length & (B - 1)) == 0))]
            start_walker(m, walker, iv, pads=True)

        # R0 -> R1: the walker goes on only with room reserved in the metadata FIFO and the job queue
        meta_free = Signal(range(META_DEPTH + 1), init=META_DEPTH)
        job_free = Signal(range(READ_JOB + 1), init=READ_JOB)
        take = Signal()
        row = walker.rows.payload
        m.d.comb += [take.eq(walker.rows.valid & (meta_free != 0) & (job_free != 0)), walker.rows.ready.eq(take)]
        with m.If(take & row.last):
            m.d.sync += busy.eq(0)
        # run_beats: beats of a whole x run of this instruction (if its rows are whole beats)
        r1 = Stage("r1", valid=1, offset=ADDR_BITS, pad=1, last=1, x_first=1, length=8, x_size=16, pc=32,
                    stride_ok=1, run_beats=24)
        m.d.sync += r1.valid.eq(take)
        with m.If(take):
            m.d.sync += [r1.offset.eq(row.offset), r1.pad.eq(row.pad), r1.last.eq(row.last),
                         r1.x_first.eq(walker.x_first), r1.length.eq(i.length), r1.x_size.eq(i.x_size),
                         r1.stride_ok.eq(i.stride_ok), r1.pc.eq(i.pc),
                         r1.run_beats.eq(times_small(i.x_size, i.length[lb:]))]

        # R1 -> R2: DRAM address, beat geometry, arena checks (offsets past 32 bits are outside any arena)
        addr = Signal(ADDR_BITS)
        m.d.comb += addr.eq(self.arena_base + r1.offset)
        low, high = r1.offset[:32], r1.offset[32:] == 0
        in_arena = high & ((low + r1.length) <= self.arena_size)
        run_in_arena = high & ((low + (r1.run_beats << lb)) <= self.arena_size)
        skew = addr[:lb] if lb else Const(0, 1)
        cap = Const(self.cap, 24)
        r2 = Stage("r2", valid=1, fetch=1, oob=1, run=1, last=1, first=ADDR_BITS, x_size=16, pc=32,
                    skew=self.meta_layout["skew"].shape, length=8, beats=range(self.NB + 1),
                    to_page=range(PAGE_BYTES // B + 1),  # beats from the row's first beat to the 4 KiB page end
                    run_beats=24, run_capped=range(self.cap + 1))
        m.d.sync += r2.valid.eq(r1.valid)
        with m.If(r1.valid):
            m.d.sync += [r2.first.eq(addr & ~Const(B - 1, ADDR_BITS)), r2.skew.eq(skew),
                         r2.beats.eq((skew + r1.length + B - 1) >> lb), r2.to_page.eq((PAGE_BYTES >> lb) - addr[lb:12]),
                         r2.fetch.eq(~r1.pad & in_arena), r2.oob.eq(~r1.pad & ~in_arena),
                         r2.run.eq(r1.x_first & r1.stride_ok & (skew == 0) & run_in_arena),
                         r2.length.eq(r1.length), r2.last.eq(r1.last), r2.x_size.eq(r1.x_size), r2.pc.eq(r1.pc),
                         r2.run_beats.eq(r1.run_beats), r2.run_capped.eq(min_of(r1.run_beats, cap))]

        # R2: metadata for the response side, an AR job per row or per coalesced x run
        mw = data.View(self.meta_layout, meta.w_data)
        m.d.comb += [meta.w_en.eq(r2.valid), mw.pad.eq(~r2.fetch), mw.skew.eq(r2.skew), mw.beats_m1.eq(r2.beats - 1),
                     mw.length.eq(r2.length), mw.last.eq(r2.last)]
        with m.If(r2.valid & r2.oob):
            self._report(m, ErrorCode.INTERNAL, r2.pc)
        in_run = Signal()  # the row's beats were requested with its x run's first row
        run_left = Signal(16)
        push = Signal()
        jw = data.View(self.job_layout, jobs.w_data)
        row_beats = min_of(r2.beats, cap) if self.NB > self.cap else r2.beats
        # first burst: min(job beats, cap, beats to the page), with the compares side by side
        m.d.comb += [jw.first.eq(r2.first), jw.beats.eq(Mux(r2.run, r2.run_beats, r2.beats)),
                     jw.nb.eq(Mux(r2.run, min_of(r2.run_capped, r2.to_page), min_of(row_beats, r2.to_page))),
                     jw.more.eq(Mux(r2.run, (r2.run_beats > cap) | (r2.run_beats > r2.to_page),
                                    (r2.beats > cap) | (r2.beats > r2.to_page))),
                     push.eq(r2.valid & r2.fetch & ~in_run), jobs.w_en.eq(push)]
        with m.If(r2.valid & in_run):
            m.d.sync += run_left.eq(run_left - 1)
            with m.If(run_left == 1):
                m.d.sync += in_run.eq(0)
        with m.Elif(push & r2.run & (r2.x_size > 1)):
            m.d.sync += [in_run.eq(1), run_left.eq(r2.x_size - 1)]
        m.d.sync += [meta_free.eq(meta_free - take + meta.r_en),
                     job_free.eq(job_free - take + (r2.valid & ~push) + jobs.r_en)]
        # beats of rows pushed to the metadata FIFO not yet requested; a burst counts a cycle after it went out
        # (a registered `issued`: the gate below is not in a loop with its own adder)
        self.owed = owed = Signal(signed(16))
        issued_r = Signal.like(issued)
        m.d.sync += [issued_r.eq(issued), owed.eq(owed + Mux(r2.valid & r2.fetch, r2.beats, 0) - issued_r)]
        return busy

    def _bursts(self, m, jobs, issued):
        """AR generator: a job's bursts from its first beat on, at most `cap` beats, never across 4 KiB.

        The first burst of a job was sized in R2; a job that needs more (a coalesced run, a row across a page)
        sizes each further burst a cycle before issuing it. A burst goes out only while some row in the metadata
        FIFO still needs beats (`owed` > 0, which counts a burst a cycle late), so the unit requests at most two
        bursts ahead of its rows: a short lead keeps instruction fetch, which shares the in-order read port, from
        waiting long.
        """
        rd, lb, cap = self.rd, self.lb, self.cap
        hd = data.View(self.job_layout, jobs.r_data)
        ar_valid = Signal()
        m.d.comb += rd.arvalid.eq(ar_valid)
        ar_free = ~ar_valid | rd.arready
        go = ar_free & (self.owed > 0)
        g = Stage("gen", cont=1, sized=1, final=1, cur=ADDR_BITS, rem=24, nb=range(cap + 1))
        cont, sized, final, cur, rem, nb = g.cont, g.sized, g.final, g.cur, g.rem, g.nb
        issue_new = ~cont & jobs.r_rdy & go
        issue_cont = cont & sized & go
        m.d.comb += issued.eq(Mux(issue_new, hd.nb, Mux(issue_cont, nb, 0)))
        with m.If(issue_new):
            m.d.comb += jobs.r_en.eq(1)
            m.d.sync += [rd.araddr.eq(hd.first), rd.arlen.eq(hd.nb - 1), ar_valid.eq(1)]
            with m.If(hd.more):
                m.d.sync += [cont.eq(1), sized.eq(0), cur.eq(hd.first + (hd.nb << lb)), rem.eq(hd.beats - hd.nb)]
        with m.Elif(issue_cont):
            m.d.sync += [rd.araddr.eq(cur), rd.arlen.eq(nb - 1), ar_valid.eq(1), cur.eq(cur + (nb << lb)),
                         rem.eq(rem - nb), sized.eq(0)]
            with m.If(final):
                m.d.sync += cont.eq(0)
        with m.Elif(rd.arready):
            m.d.sync += ar_valid.eq(0)
        with m.If(cont & ~sized):
            size = min_of(rem, Const(cap, 24), (PAGE_BYTES >> lb) - cur[lb:12])
            m.d.sync += [nb.eq(size), final.eq(rem == size), sized.eq(1)]

    def _response(self, m, meta, rsp, busy):
        """Beats -> S1 (the collected row) -> realign + pad -> write queue -> SP/ACC/LUT; `done` registered."""
        cfg, rd, W, NB = self.config, self.rd, self.config.axi_data_bits, self.NB
        dim = cfg.dim
        mr = data.View(self.meta_layout, meta.r_data)
        rr = data.View(self.rsp_layout, rsp.r_data)
        buf = Signal(NB * W)
        beat = Signal(self.meta_layout["beats_m1"].shape)
        wfree = Signal(range(WRITE_QUEUE + 1), init=WRITE_QUEUE)  # rows S1 and the write queue can still take
        base = meta.r_rdy & rsp.r_rdy
        last_beat = beat == mr.beats_m1
        room = wfree != 0
        m.d.comb += rd.rready.eq(base & ~mr.pad & (~last_beat | room))
        got = rd.rvalid & rd.rready
        row_done = Signal()
        m.d.comb += row_done.eq(base & room & (mr.pad | (rd.rvalid & last_beat)))
        full = Signal(NB * W)  # the collected beats, this cycle's included
        m.d.comb += full.eq(buf)
        with m.If(got):
            m.d.sync += [buf.word_select(beat, W).eq(rd.rdata), beat.eq(beat + 1)]
            m.d.comb += full.word_select(beat, W).eq(rd.rdata)
            with m.If(rd.rresp != 0):
                self._report(m, ErrorCode.BUS_ERROR, rr.pc)

        # S1: the row as collected, with what realignment and padding need
        s1 = Signal(name="s1_valid")
        s1_data = Signal(NB * W)
        s1_skew = Signal.like(mr.skew)
        s1_pad = Signal(dim)  # lanes that get pad_value
        s1_value, s1_dst, s1_addr, s1_last = (Signal(w, name=f"s1_{n}") for n, w in
                                              (("value", 8), ("dst", 2), ("addr", 16), ("last", 1)))
        row_index = Signal(16)  # rows of the response-side instruction finished so far
        bytes_read = Signal(16)
        m.d.sync += [s1.eq(row_done), bytes_read.eq(Mux(row_done & ~mr.pad, mr.length, 0))]
        m.d.comb += self.bytes_read.eq(bytes_read)
        with m.If(row_done):
            m.d.comb += meta.r_en.eq(1)
            m.d.sync += [s1_data.eq(full), s1_skew.eq(mr.skew), s1_value.eq(rr.pad_value), s1_dst.eq(rr.dst),
                         s1_addr.eq(rr.dst_row + row_index), s1_last.eq(mr.last), row_index.eq(row_index + 1),
                         beat.eq(0)]
            m.d.sync += [s1_pad[n].eq(mr.pad | (rr.elems <= n)) for n in range(dim)]
            with m.If(mr.last):
                m.d.sync += row_index.eq(0)
                m.d.comb += rsp.r_en.eq(1)
        write = self._write_queue(m, s1, s1_data, s1_skew, s1_pad, s1_value, s1_dst, s1_addr, s1_last)
        m.d.sync += wfree.eq(wfree - row_done + write)
        m.d.comb += self.cmd.idle.eq(~busy & ~rsp.r_rdy & (wfree == WRITE_QUEUE) & ~self.cmd.done)

    def _write_queue(self, m, s1, s1_data, skew, pad, value, dst, addr, last):
        """Realign and pad S1's row into the write queue; write its head when the bank is free. Returns `write`."""
        dim, B = self.config.dim, self.B
        raw_bytes = [s1_data[8 * i: 8 * i + 8] for i in range(len(s1_data) // 8)]
        raw = Array([Cat(*raw_bytes[s: s + 4 * dim]) for s in range(B)])[skew]
        sp_row = Cat(*[Mux(pad[n], value, raw[8 * n: 8 * n + 8]) for n in range(dim)])
        acc_row = Cat(*[Mux(pad[n], sext32(value), raw[32 * n: 32 * n + 32]) for n in range(dim)])
        layout = data.StructLayout({"data": dim * 32, "addr": 16, "dst": 2, "last": 1})
        # unbuffered (LUTRAM read): a cycle less from a row's last beat to its write
        m.submodules.writes = wq = SyncFIFO(width=layout.size, depth=WRITE_QUEUE)
        ww, q = data.View(layout, wq.w_data), data.View(layout, wq.r_data)
        m.d.comb += [wq.w_en.eq(s1), ww.data.eq(Mux(dst == Mem.ACC, acc_row, sp_row)), ww.addr.eq(addr),
                     ww.dst.eq(dst), ww.last.eq(last)]
        # SP and ACC have one write port per bank, the compute unit's first (docs/rtl.md, "SP/ACC write port"):
        # the head row writes when the compute unit is not writing its bank this cycle
        w_busy = ((q.dst == Mem.SP) & self.sp_busy) | ((q.dst == Mem.ACC) & self.acc_busy)
        write = Signal()
        m.d.comb += [write.eq(wq.r_rdy & ~w_busy), wq.r_en.eq(write),
                     self.sp_wr.addr.eq(q.addr), self.sp_wr.data.eq(q.data[:dim * 8]),
                     self.acc_wr.addr.eq(q.addr), self.acc_wr.data.eq(q.data),
                     self.lut_wr.addr.eq(q.addr), self.lut_wr.data.eq(q.data[:dim * 8])]
        with m.If(write):
            with m.Switch(q.dst):
                with m.Case(Mem.SP):
                    m.d.comb += self.sp_wr.en.eq(1)
                with m.Case(Mem.ACC):
                    m.d.comb += self.acc_wr.en.eq(1)
                with m.Case(Mem.LUT):
                    m.d.comb += self.lut_wr.en.eq(1)
        done = Signal()  # registered toward the dispatcher: its token counters start a fresh path
        m.d.sync += done.eq(write & q.last)
        m.d.comb += self.cmd.done.eq(done)
        return write
