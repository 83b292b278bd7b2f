"""Load and store units: strided DRAM <-> SP/ACC/LUT row transfers over the shared AXI4 master.

Both walk rows in the order of docs/isa.md section 4 with `RowWalker` (z outermost, x innermost; LOAD adds
padding rows, which never touch DRAM). A row is `row_elems' * esize` bytes at any byte address: the load unit
reads the aligned beats that cover it and realigns; the store unit shifts the row into beat position and writes
it with byte strobes. Runs of rows that are contiguous in DRAM and whole beats share long INCR bursts (sized
from the rows left in the x run, cut at 4 KiB pages and at 32 read / 256 write beats); any other row is its own
burst, two when its beats cross a 4 KiB page (docs/rtl.md, "DMA"). Every access is checked
against the arena again (a hit is INTERNAL: dispatch should have caught it) and skipped; SLVERR/DECERR responses
are BUS_ERROR. Both report the first error with the instruction's pc and still finish the instruction, so the
queues drain and the dispatcher can stop cleanly.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from nux.isa import ErrorCode, Mem, NpuConfig, Opcode
from nux.rtl.axi import MAX_BURST_BEATS, PAGE_BYTES, read_signature, write_signature
from nux.rtl.dispatch import issue_signature, view

ADDR_BITS = 64  # arena offsets and byte addresses are computed wide enough never to wrap
ROW_LAYOUT = data.StructLayout({"offset": ADDR_BITS, "pad": 1, "last": 1})
META_DEPTH = 64  # rows in flight: covers the DRAM latency (plus the AXI slices) at one row per cycle
RSP_DEPTH = 4  # LOADs in flight in the load unit: one requesting, the others finishing
READ_BURST_BEATS = 32  # longest coalesced read burst (AXI allows 256): a few outstanding bursts cover the DRAM
# latency, and a shorter burst keeps instruction fetch (same read port, in-order DRAM) from waiting long


def error_signature() -> wiring.Signature:
    return wiring.Signature({"valid": Out(1), "code": Out(8), "pc": Out(32)})


def lut_write_signature(dim: int) -> wiring.Signature:
    """The load unit's LUT row write port (driven by the load unit, stored in the compute unit)."""
    return wiring.Signature({"addr": Out((256 // dim - 1).bit_length()), "data": Out(dim * 8), "en": Out(1)})


class RowWalker(wiring.Component):
    """Emits one row per cycle: its arena offset (data rows) or a padding flag, in LOAD/STORE order.

    Addresses are built by adding strides (no multiplier): x runs restart at the y run's address, which
    advances only after a data y run, and y runs restart at the z address. The walker latches its parameters on
    `start` together with the bounds derived from them (last index, data range), so that a step compares
    registers with registers: no adder sits between the parameters and the position registers (250 MHz).
    `x_first` marks the first data row of an x run (the units coalesce a contiguous run from there).
    """

    def __init__(self):
        super().__init__({
            "start": In(1),
            "offset": In(32), "x_size": In(16), "y_size": In(16), "z_size": In(16),
            "x_stride": In(32), "y_stride": In(32), "z_stride": In(32),
            "x_pad_before": In(8), "x_pad_after": In(8), "y_pad_before": In(8), "y_pad_after": In(8),
            "rows": Out(stream.Signature(ROW_LAYOUT)),
            "x_first": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        active = Signal()
        xx, yy, z = Signal(17, name="xx"), Signal(17, name="yy"), Signal(16, name="z")
        x_addr, y_addr, z_addr = (Signal(ADDR_BITS, name=f"{a}_addr") for a in "xyz")
        strides = [Signal(32, name=f"{a}_stride_r") for a in "xyz"]
        # per axis: index of the last row, first data index, end of the data (exclusive); latched on start
        x_last, y_last, x_lo, x_hi, y_lo, y_hi = (Signal(18, name=n) for n in
                                                  ("x_last", "y_last", "x_lo", "x_hi", "y_lo", "y_hi"))
        z_last = Signal(17)
        x_data = (xx >= x_lo) & (xx < x_hi)
        y_data = (yy >= y_lo) & (yy < y_hi)
        data_row = x_data & y_data
        x_end, y_end, z_end = xx == x_last, yy == y_last, z == z_last
        rows = self.rows
        m.d.comb += self.x_first.eq(data_row & (xx == x_lo))
        m.d.comb += [rows.valid.eq(active), rows.payload.offset.eq(x_addr), rows.payload.pad.eq(~data_row),
                     rows.payload.last.eq(x_end & y_end & z_end)]
        x_stride, y_stride, z_stride = strides
        with m.If(self.start):
            m.d.sync += [active.eq(1), xx.eq(0), yy.eq(0), z.eq(0), x_addr.eq(self.offset), y_addr.eq(self.offset),
                         z_addr.eq(self.offset), x_stride.eq(self.x_stride), y_stride.eq(self.y_stride),
                         z_stride.eq(self.z_stride),
                         x_lo.eq(self.x_pad_before), x_hi.eq(self.x_pad_before + self.x_size),
                         x_last.eq(self.x_pad_before + self.x_size + self.x_pad_after - 1),
                         y_lo.eq(self.y_pad_before), y_hi.eq(self.y_pad_before + self.y_size),
                         y_last.eq(self.y_pad_before + self.y_size + self.y_pad_after - 1),
                         z_last.eq(self.z_size - 1)]
        with m.Elif(rows.valid & rows.ready):
            with m.If(~x_end):
                m.d.sync += xx.eq(xx + 1)
                with m.If(data_row):
                    m.d.sync += x_addr.eq(x_addr + x_stride)
            with m.Elif(~y_end):
                m.d.sync += [xx.eq(0), yy.eq(yy + 1)]
                next_y = Mux(y_data, y_addr + y_stride, y_addr)
                m.d.sync += [y_addr.eq(next_y), x_addr.eq(next_y)]
            with m.Elif(~z_end):
                m.d.sync += [xx.eq(0), yy.eq(0), z.eq(z + 1), z_addr.eq(z_addr + z_stride),
                             y_addr.eq(z_addr + z_stride), x_addr.eq(z_addr + z_stride)]
            with m.Else():
                m.d.sync += active.eq(0)
        return m


def _times(a, b):
    """`a * b` for a `b` of a few bits, as a tree of shifted copies of `a`: fabric adders, not a DSP48E2 that the
    timing model counts as a 2.8 ns combinational stage."""
    terms = [Mux(b[i], a << i, 0) for i in range(len(b))]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def _min(*values):
    """The smallest of `values`: every pairwise compare side by side, then one select (not a chain)."""
    if len(values) == 1:
        return values[0]
    best = values[-1]
    for k in range(len(values) - 2, -1, -1):
        wins = [values[k] <= v for v in values[k + 1:]] + [values[k] < v for v in values[:k]]
        best = Mux(Cat(*wins).all(), values[k], best)
    return best


def _shift_up(value, skew, unit: int, width: int):
    """`value` moved up by `skew` units of `unit` bits, in `width` bits: a `skew`-way multiplexer per bit."""
    placed = [Cat(Const(0, unit * s), value, Const(0, width - unit * s - len(value))) for s in range(1 << len(skew))]
    return Array(placed)[skew]


def _max_beats(config: NpuConfig) -> int:
    B = config.axi_data_bits // 8
    return (B - 1 + 4 * config.dim + B - 1) // B


def _sext32(byte):
    return Cat(byte, byte[7].replicate(24))


def _row_length(config: NpuConfig, row_elems, is_acc):
    """Row bytes of a LOAD/STORE: row_elems' lanes (0 means dim) of 1 or 4 bytes."""
    elems = Mux(row_elems == 0, config.dim, row_elems)
    return elems, Mux(is_acc, elems << 2, elems)


def _start_walker(m: Module, walker: RowWalker, iv: data.View, pads: bool) -> None:
    """Start `walker` on the accepted instruction `iv` (it latches the parameters itself)."""
    m.d.comb += [walker.start.eq(1), walker.offset.eq(iv.dram_offset)]
    for name in ("x_size", "y_size", "z_size", "x_stride", "y_stride", "z_stride"):
        m.d.comb += getattr(walker, name).eq(getattr(iv, name))
    if pads:
        for name in ("x_pad_before", "x_pad_after", "y_pad_before", "y_pad_after"):
            m.d.comb += getattr(walker, name).eq(getattr(iv, name))


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
        self.NB = NB = _max_beats(cfg)
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
        err = self.error
        with m.If(~err.valid):
            m.d.sync += [err.valid.eq(1), err.code.eq(code), err.pc.eq(pc)]

    def _request(self, m, walker, meta, rsp, jobs, issued):
        """Instruction latch, walker, R1 and R2; returns the request side's busy flag."""
        cfg, B, lb = self.config, self.B, self.lb
        busy = Signal()
        accept = self.cmd.issue.valid & ~busy & rsp.w_rdy
        m.d.comb += self.cmd.issue.ready.eq(~busy & rsp.w_rdy)
        iv = view(Opcode.LOAD, self.cmd.issue.payload.instr)
        elems, length = _row_length(cfg, iv.row_elems, iv.dst == Mem.ACC)
        rw = data.View(self.rsp_layout, rsp.w_data)
        m.d.comb += [rw.dst.eq(iv.dst), rw.dst_row.eq(iv.dst_row), rw.pad_value.eq(iv.pad_value),
                     rw.elems.eq(elems), rw.pc.eq(self.cmd.issue.payload.pc), rsp.w_en.eq(accept)]
        # per-instruction constants of the rows the walker hands out (R0)
        i = _Stage("i", length=8, x_size=16, pc=32, stride_ok=1)  # stride_ok: x runs are contiguous whole beats
        with m.If(accept):
            m.d.sync += [busy.eq(1), i.length.eq(length), i.x_size.eq(iv.x_size), i.pc.eq(self.cmd.issue.payload.pc),
                         i.stride_ok.eq((iv.x_stride == length) & ((length & (B - 1)) == 0))]
            _start_walker(m, walker, iv, pads=True)

        # R0 -> R1: the walker goes on only with room reserved in the metadata FIFO and the job queue
        meta_free = Signal(range(META_DEPTH + 1), init=META_DEPTH)
        job_free = Signal(range(READ_JOB + 1), init=READ_JOB)
        take = Signal()
        row = walker.rows.payload
        m.d.comb += [take.eq(walker.rows.valid & (meta_free != 0) & (job_free != 0)), walker.rows.ready.eq(take)]
        with m.If(take & row.last):
            m.d.sync += busy.eq(0)
        # run_beats: beats of a whole x run of this instruction (if its rows are whole beats)
        r1 = _Stage("r1", valid=1, offset=ADDR_BITS, pad=1, last=1, x_first=1, length=8, x_size=16, pc=32,
                    stride_ok=1, run_beats=24)
        m.d.sync += r1.valid.eq(take)
        with m.If(take):
            m.d.sync += [r1.offset.eq(row.offset), r1.pad.eq(row.pad), r1.last.eq(row.last),
                         r1.x_first.eq(walker.x_first), r1.length.eq(i.length), r1.x_size.eq(i.x_size),
                         r1.stride_ok.eq(i.stride_ok), r1.pc.eq(i.pc), r1.run_beats.eq(_times(i.x_size, i.length[lb:]))]

        # R1 -> R2: DRAM address, beat geometry, arena checks (offsets past 32 bits are outside any arena)
        addr = Signal(ADDR_BITS)
        m.d.comb += addr.eq(self.arena_base + r1.offset)
        low, high = r1.offset[:32], r1.offset[32:] == 0
        in_arena = high & ((low + r1.length) <= self.arena_size)
        run_in_arena = high & ((low + (r1.run_beats << lb)) <= self.arena_size)
        skew = addr[:lb] if lb else Const(0, 1)
        cap = Const(self.cap, 24)
        r2 = _Stage("r2", valid=1, fetch=1, oob=1, run=1, last=1, first=ADDR_BITS, x_size=16, pc=32,
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
                         r2.run_beats.eq(r1.run_beats), r2.run_capped.eq(_min(r1.run_beats, cap))]

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
        row_beats = _min(r2.beats, cap) if self.NB > self.cap else r2.beats
        # first burst: min(job beats, cap, beats to the page), with the compares side by side
        m.d.comb += [jw.first.eq(r2.first), jw.beats.eq(Mux(r2.run, r2.run_beats, r2.beats)),
                     jw.nb.eq(Mux(r2.run, _min(r2.run_capped, r2.to_page), _min(row_beats, r2.to_page))),
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
        g = _Stage("gen", cont=1, sized=1, final=1, cur=ADDR_BITS, rem=24, nb=range(cap + 1))
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
            size = _min(rem, Const(cap, 24), (PAGE_BYTES >> lb) - cur[lb:12])
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
        acc_row = Cat(*[Mux(pad[n], _sext32(value), raw[32 * n: 32 * n + 32]) for n in range(dim)])
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
        self.NB = NB = _max_beats(cfg)
        m.submodules.walker = walker = RowWalker()
        wr = self.wr
        # per instruction, latched when accepted
        pc, src_row, x_size = Signal(32, name="pc"), Signal(16, name="src_row"), Signal(16, name="x_size")
        length, lane_mask = Signal(8, name="length"), Signal(dim * 4, name="lane_mask")
        is_acc, stride_ok = Signal(name="is_acc"), Signal(name="stride_ok")
        run_beats = Signal(24)  # beats of a whole x run (if its rows are whole beats); a cycle after accepting
        m.d.sync += run_beats.eq(_times(x_size, length[lb:]))
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
            return Mux(rest_big, _min(Const(MAX_BURST_BEATS, 9), tp), _min(rest[:9], tp))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.cmd.issue.ready.eq(1), self.cmd.idle.eq(~done)]
                with m.If(self.cmd.issue.valid):
                    iv = view(Opcode.STORE, self.cmd.issue.payload.instr)
                    _, i_length = _row_length(cfg, iv.row_elems, iv.src == Mem.ACC)
                    m.d.sync += [pc.eq(self.cmd.issue.payload.pc), src_row.eq(iv.src_row), x_size.eq(iv.x_size),
                                 length.eq(i_length), is_acc.eq(iv.src == Mem.ACC),
                                 lane_mask.eq((Const(1, dim * 4 + 1) << i_length) - 1),
                                 stride_ok.eq((iv.x_stride == i_length) & ((i_length & (B - 1)) == 0))]
                    _start_walker(m, walker, iv, pads=False)
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
                placed, strb = _shift_up(buf, r.skew, 8, NB * W), _shift_up(lane_mask, r.skew, 1, NB * B)
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
        err = self.error
        with m.If(~err.valid):
            m.d.sync += [err.valid.eq(1), err.code.eq(code), err.pc.eq(pc)]

    def _next_row(self, m: Module, walker: RowWalker, consume, length):
        """Stage P: the walker's next row with its DRAM address geometry, refilled as the FSM takes it."""
        B, lb = self.B, self.lb
        p = _Stage("p", valid=1, offset=ADDR_BITS, last=1, x_first=1, first=ADDR_BITS, skew=max(lb, 1),
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
        r = _Stage("r", first=ADDR_BITS, skew=max(lb, 1), beats_m1=range(self.NB), last=1, in_arena=1, run=1,
                   to_page=range(PAGE_BYTES // self.B + 1), burst1_m1=8, run_burst_m1=8, burst2=range(self.NB + 1))
        in_arena = (p.offset[32:] == 0) & ((p.offset[:32] + (run_beats << lb)) <= self.arena_size)
        run = p.x_first & stride_ok & (p.skew == 0) & (x_size > 1) & in_arena
        with m.If(consume):
            m.d.sync += [r.first.eq(p.first), r.skew.eq(p.skew), r.beats_m1.eq(p.beats - 1), r.last.eq(p.last),
                         r.in_arena.eq(p.in_arena), r.run.eq(run), r.to_page.eq(p.to_page),
                         r.run_burst_m1.eq(_min(run_beats, Const(MAX_BURST_BEATS, 24), p.to_page) - 1),
                         r.burst1_m1.eq(_min(p.beats, p.to_page) - 1), r.burst2.eq(p.beats - p.to_page)]
        return r


class _Stage:
    """A bundle of named registers (one pipeline stage), e.g. `_Stage("p", valid=1, addr=64)`."""

    def __init__(self, prefix: str, **shapes):
        for name, shape in shapes.items():
            setattr(self, name, Signal(shape, name=f"{prefix}_{name}"))
