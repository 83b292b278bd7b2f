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

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
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
    advances only after a data y run, and y runs restart at the z address.
    """

    def __init__(self):
        super().__init__({
            "start": In(1),
            "offset": In(32), "x_size": In(16), "y_size": In(16), "z_size": In(16),
            "x_stride": In(32), "y_stride": In(32), "z_stride": In(32),
            "x_pad_before": In(8), "x_pad_after": In(8), "y_pad_before": In(8), "y_pad_after": In(8),
            "rows": Out(stream.Signature(ROW_LAYOUT)),
            "x_left": Out(17),  # data rows of the current x run from the current (data) row on, itself included
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        active = Signal()
        xx, yy, z = Signal(17), Signal(17), Signal(16)
        x_addr, y_addr, z_addr = Signal(ADDR_BITS), Signal(ADDR_BITS), Signal(ADDR_BITS)
        xn = self.x_pad_before + self.x_size + self.x_pad_after
        yn = self.y_pad_before + self.y_size + self.y_pad_after
        x_data = (xx >= self.x_pad_before) & (xx < self.x_pad_before + self.x_size)
        y_data = (yy >= self.y_pad_before) & (yy < self.y_pad_before + self.y_size)
        data_row = x_data & y_data
        x_end, y_end, z_end = xx == xn - 1, yy == yn - 1, z == self.z_size - 1
        rows = self.rows
        m.d.comb += self.x_left.eq(self.x_pad_before + self.x_size - xx)
        m.d.comb += [rows.valid.eq(active), rows.payload.offset.eq(x_addr), rows.payload.pad.eq(~data_row),
                     rows.payload.last.eq(x_end & y_end & z_end)]
        with m.If(self.start):
            m.d.sync += [active.eq(1), xx.eq(0), yy.eq(0), z.eq(0), x_addr.eq(self.offset), y_addr.eq(self.offset),
                         z_addr.eq(self.offset)]
        with m.Elif(rows.valid & rows.ready):
            with m.If(~x_end):
                m.d.sync += xx.eq(xx + 1)
                with m.If(data_row):
                    m.d.sync += x_addr.eq(x_addr + self.x_stride)
            with m.Elif(~y_end):
                m.d.sync += [xx.eq(0), yy.eq(yy + 1)]
                next_y = Mux(y_data, y_addr + self.y_stride, y_addr)
                m.d.sync += [y_addr.eq(next_y), x_addr.eq(next_y)]
            with m.Elif(~z_end):
                m.d.sync += [xx.eq(0), yy.eq(0), z.eq(z + 1), z_addr.eq(z_addr + self.z_stride),
                             y_addr.eq(z_addr + self.z_stride), x_addr.eq(z_addr + self.z_stride)]
            with m.Else():
                m.d.sync += active.eq(0)
        return m


class _Geometry:
    """Beat geometry of one row access at byte address `addr`, `length` bytes, on a `data_bits` bus."""

    def __init__(self, m: Module, addr, length, data_bits: int, max_beats: int):
        B = data_bits // 8
        lb = B.bit_length() - 1
        self.first = Signal(ADDR_BITS, name="geo_first")  # aligned address of the first beat
        self.skew = Signal(lb if lb else 1, name="geo_skew")  # byte position of the row inside the first beat
        self.beats = Signal(range(max_beats + 1), name="geo_beats")
        self.split = Signal(name="geo_split")  # crosses a 4 KiB page: two bursts
        self.beats1 = Signal(range(max_beats + 1), name="geo_beats1")  # beats of the first burst
        self.to_page = to_page = Signal(range(PAGE_BYTES // B + 1), name="geo_to_page")  # beats to the page end
        m.d.comb += [
            self.first.eq(addr & ~Const(B - 1, ADDR_BITS)),
            self.skew.eq(addr[:lb] if lb else 0),
            self.beats.eq(((addr[:lb] if lb else 0) + length + B - 1) >> lb),
            to_page.eq((PAGE_BYTES - self.first[:12]) >> lb),
            self.split.eq(self.beats > to_page),
            self.beats1.eq(Mux(self.beats > to_page, to_page, self.beats)),
        ]


def _burst_beats(addr, beats_left, cap: int, lb: int):
    """Beats of a coalesced burst from aligned `addr` with `beats_left` beats of the run left: at most `cap`,
    never past the 4 KiB page."""
    to_page = (PAGE_BYTES - addr[:12]) >> lb
    capped = Mux(beats_left > cap, cap, beats_left)
    return Mux(capped > to_page, to_page, capped)


def _max_beats(config: NpuConfig) -> int:
    B = config.axi_data_bits // 8
    return (B - 1 + 4 * config.dim + B - 1) // B


def _sext32(byte):
    return Cat(byte, byte[7].replicate(24))


class LoadUnit(wiring.Component):
    """LOAD: DRAM -> SP, ACC (little-endian int32 lanes) or LUT rows, with padding and unused-lane fill."""

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
        dim, W = cfg.dim, cfg.axi_data_bits
        B = W // 8
        lb = B.bit_length() - 1
        NB = _max_beats(cfg)
        m.submodules.walker = walker = RowWalker()
        meta_layout = data.StructLayout({"pad": 1, "skew": max((B - 1).bit_length(), 1), "beats": 8,
                                         "length": 8, "last": 1})
        m.submodules.meta = meta = SyncFIFOBuffered(width=meta_layout.size, depth=META_DEPTH)
        # Instructions whose rows are still being written (the response side's copy): the next LOAD starts
        # requesting while the previous one's data is still on its way, so back-to-back LOADs leave no
        # latency bubble. `done` pulses stay in issue order (rows are written in order).
        rsp_layout = data.StructLayout({"instr": 256, "pc": 32})
        m.submodules.rsp = rsp = SyncFIFOBuffered(width=rsp_layout.size, depth=RSP_DEPTH)

        # ---- instruction latch (request side: busy until its walker has handed out the last row)
        busy = Signal()
        ins = Signal(256)
        pc = Signal(32)
        v = view(Opcode.LOAD, ins)
        accept = self.cmd.issue.valid & ~busy & rsp.w_rdy
        m.d.comb += self.cmd.issue.ready.eq(~busy & rsp.w_rdy)
        rw = data.View(rsp_layout, rsp.w_data)
        m.d.comb += [rw.instr.eq(self.cmd.issue.payload.instr), rw.pc.eq(self.cmd.issue.payload.pc),
                     rsp.w_en.eq(accept)]
        with m.If(accept):
            m.d.sync += [busy.eq(1), ins.eq(self.cmd.issue.payload.instr), pc.eq(self.cmd.issue.payload.pc)]
            iv = view(Opcode.LOAD, self.cmd.issue.payload.instr)
            m.d.comb += walker.start.eq(1)
            for name in ("x_size", "y_size", "z_size", "x_stride", "y_stride", "z_stride", "x_pad_before",
                         "x_pad_after", "y_pad_before", "y_pad_after"):
                m.d.sync += getattr(walker, name).eq(getattr(iv, name))
            m.d.comb += walker.offset.eq(iv.dram_offset)
        row_elems = Mux(v.row_elems == 0, dim, v.row_elems)
        is_acc = v.dst == Mem.ACC
        length = Signal(8)
        m.d.comb += length.eq(Mux(is_acc, row_elems << 2, row_elems))

        # ---- errors
        err = self.error
        def report(m, code, at):
            with m.If(~err.valid):
                m.d.sync += [err.valid.eq(1), err.code.eq(code), err.pc.eq(at)]

        # ---- request side: one row per walker step. A run of rows that are contiguous in DRAM (x_stride == row
        # bytes), whole beats (aligned, a multiple of the beat) and inside the arena to the run's end is read with
        # INCR bursts sized up front from the rows left in the x run (<= READ_BURST_BEATS, cut at 4 KiB pages,
        # possibly inside a row): a row whose beats an earlier burst already covers needs no AR. Any other row is
        # its own burst (two when it crosses a page). The response side only counts beats per row, so burst
        # boundaries need not match rows.
        row = walker.rows.payload
        addr = Signal(ADDR_BITS)
        m.d.comb += addr.eq(self.arena_base + row.offset)
        geo = _Geometry(m, addr, length, W, NB)
        in_arena = (row.offset + length) <= self.arena_size
        mw = data.View(meta_layout, meta.w_data)
        ar_left = Signal(2)  # bursts still to request in the AR register (a split row has two)
        second_addr = Signal(ADDR_BITS)
        second_len = Signal(8)
        rd = self.rd
        m.d.comb += rd.arvalid.eq(ar_left != 0)
        with m.If((ar_left != 0) & rd.arready):
            m.d.sync += [ar_left.eq(ar_left - 1), rd.araddr.eq(second_addr), rd.arlen.eq(second_len)]
        ar_free = (ar_left == 0) | ((ar_left == 1) & rd.arready)  # the AR register can take a burst now
        # Run rows must be a power-of-two number of beats and the cap a power of two (dividing the 4 KiB page):
        # then a burst cut inside a row is only ever a page cut, and the rest of that row always fits the next
        # burst (a 3-beat row could be cut by the cap and then again by the page: it takes the per-row path).
        cap = max(READ_BURST_BEATS, 1 << (NB - 1).bit_length())
        cover = Signal(range(cap + 1))  # beats already requested past the rows taken so far (inside a run)
        fetch = ~row.pad & in_arena
        run_ok = ((geo.skew == 0) & ((length & (B - 1)) == 0) & ((geo.beats & (geo.beats - 1)) == 0)
                  & (v.x_stride == length)
                  & ((row.offset + walker.x_left * length) <= self.arena_size))
        covered = cover >= geo.beats
        start = Signal(ADDR_BITS)  # a run's next burst: from the first beat not yet requested
        run_beats = Signal(32)
        burst = Signal(range(cap + 1))
        m.d.comb += [start.eq(geo.first + (cover << lb)), run_beats.eq(walker.x_left * geo.beats - cover),
                     burst.eq(_burst_beats(start, run_beats, cap, lb))]
        run_burst = fetch & ~covered & run_ok & ((cover != 0) | ~geo.split)
        take = Signal()
        m.d.comb += take.eq(walker.rows.valid & meta.w_rdy & (~fetch | covered | ar_free))
        with m.If(take):
            m.d.comb += [walker.rows.ready.eq(1), meta.w_en.eq(1), mw.skew.eq(geo.skew),
                         mw.beats.eq(geo.beats), mw.length.eq(length), mw.last.eq(row.last), mw.pad.eq(~fetch)]
            with m.If(~row.pad & ~in_arena):
                report(m, ErrorCode.INTERNAL, pc)
            with m.If(row.last):
                m.d.sync += busy.eq(0)
            with m.If(fetch & covered):
                m.d.sync += cover.eq(cover - geo.beats)
            with m.Elif(run_burst):
                m.d.sync += [rd.araddr.eq(start), rd.arlen.eq(burst - 1), ar_left.eq(1),
                             cover.eq(burst - (geo.beats - cover))]
            with m.Elif(fetch):
                m.d.sync += [rd.araddr.eq(geo.first), rd.arlen.eq(geo.beats1 - 1),
                             second_addr.eq(geo.first + (geo.beats1 << lb)),
                             second_len.eq(geo.beats - geo.beats1 - 1), ar_left.eq(1 + geo.split)]

        # ---- response side: collect the row's beats, realign, write the row
        mr = data.View(meta_layout, meta.r_data)
        rr = data.View(rsp_layout, rsp.r_data)
        rv = view(Opcode.LOAD, rr.instr)
        r_elems = Mux(rv.row_elems == 0, dim, rv.row_elems)
        buf = Signal(NB * W)
        beat = Signal(8)
        got = rd.rvalid & rd.rready
        last_beat = beat == mr.beats - 1
        # SP and ACC have one write port per bank, the compute unit's first (docs/rtl.md, "SP/ACC write port"). A
        # finished row writes at once when its bank is free, else waits in a write register, so the R channel keeps
        # flowing; a row finishing while the register is still held waits (its last beat, or its turn for a padding
        # row). The bank asked about (`sp_busy`/`acc_busy`) is that of the register's row, else the finishing row's.
        w_valid, w_last = Signal(), Signal()
        w_dst = Signal.like(rv.dst)
        w_addr = Signal(16)
        w_data = Signal(dim * 32)
        c_dst = Mux(w_valid, w_dst, rv.dst)
        w_busy = ((c_dst == Mem.SP) & self.sp_busy) | ((c_dst == Mem.ACC) & self.acc_busy)
        w_free = ~w_valid | ~w_busy
        m.d.comb += self.cmd.idle.eq(~busy & ~rsp.r_rdy & ~w_valid)
        ready = meta.r_rdy & rsp.r_rdy & w_free
        m.d.comb += rd.rready.eq(meta.r_rdy & rsp.r_rdy & ~mr.pad & ~(last_beat & ~w_free))
        with m.If(got):
            m.d.sync += [buf.word_select(beat[:max((NB - 1).bit_length(), 1)], W).eq(rd.rdata), beat.eq(beat + 1)]
            with m.If(rd.rresp != 0):
                report(m, ErrorCode.BUS_ERROR, rr.pc)
        row_done = Signal()
        m.d.comb += row_done.eq(ready & (mr.pad | (got & last_beat)))
        # the row's bytes: the collected beats (this cycle's beat included) shifted down by the skew
        full = Signal(NB * W)
        m.d.comb += full.eq(buf)
        with m.If(got):
            m.d.comb += full.word_select(beat[:max((NB - 1).bit_length(), 1)], W).eq(rd.rdata)
        raw = Signal(dim * 32)
        m.d.comb += raw.eq(Cat(full, Const(0, dim * 32)).bit_select(mr.skew * 8, dim * 32))
        pad_value = rv.pad_value
        sp_row = Cat(*[Mux(mr.pad | (n >= r_elems), pad_value, raw[8 * n: 8 * n + 8]) for n in range(dim)])
        acc_row = Cat(*[Mux(mr.pad | (n >= r_elems), _sext32(pad_value), raw[32 * n: 32 * n + 32])
                        for n in range(dim)])
        row_index = Signal(16)  # rows of the response-side instruction written so far
        dst_row = Signal(16)
        m.d.comb += dst_row.eq(rv.dst_row + row_index)
        row_data = Mux(rv.dst == Mem.ACC, acc_row, sp_row)
        c_addr, c_data = Mux(w_valid, w_addr, dst_row), Mux(w_valid, w_data, row_data)
        m.d.comb += [self.sp_wr.addr.eq(c_addr), self.sp_wr.data.eq(c_data[:dim * 8]),
                     self.acc_wr.addr.eq(c_addr), self.acc_wr.data.eq(c_data),
                     self.lut_wr.addr.eq(c_addr), self.lut_wr.data.eq(c_data[:dim * 8])]
        write = Signal()  # the candidate (register, else finishing row) writes now; done with an instruction's last
        m.d.comb += write.eq(~w_busy & (w_valid | row_done))
        with m.If(write):
            m.d.comb += self.cmd.done.eq(Mux(w_valid, w_last, mr.last))
            with m.Switch(c_dst):
                with m.Case(Mem.SP):
                    m.d.comb += self.sp_wr.en.eq(1)
                with m.Case(Mem.ACC):
                    m.d.comb += self.acc_wr.en.eq(1)
                with m.Case(Mem.LUT):
                    m.d.comb += self.lut_wr.en.eq(1)
        with m.If(w_valid & write):
            m.d.sync += w_valid.eq(0)
        with m.If(row_done):
            m.d.comb += meta.r_en.eq(1)
            m.d.sync += [row_index.eq(row_index + 1), beat.eq(0)]
            with m.If(w_valid | w_busy):  # not written directly: into the register
                m.d.sync += [w_valid.eq(1), w_dst.eq(rv.dst), w_addr.eq(dst_row), w_data.eq(row_data),
                             w_last.eq(mr.last)]
            with m.If(~mr.pad):
                m.d.comb += self.bytes_read.eq(mr.length)
            with m.If(mr.last):
                m.d.sync += row_index.eq(0)
                m.d.comb += rsp.r_en.eq(1)
        return m


class StoreUnit(wiring.Component):
    """STORE: SP or ACC rows -> DRAM, byte-exact with strobes; done once every write response is back.

    Rows of an x run that are contiguous in DRAM (x_stride == row bytes), whole beats (aligned, a multiple of
    the beat) and inside the arena to the run's end share INCR bursts of up to 256 beats, cut at 4 KiB pages
    (a burst may end inside a row; the next one continues the run). Other rows are written one at a time.
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
        B = W // 8
        lb = B.bit_length() - 1
        NB = _max_beats(cfg)
        m.submodules.walker = walker = RowWalker()
        wr = self.wr

        ins = Signal(256)
        pc = Signal(32)
        v = view(Opcode.STORE, ins)
        row_elems = Mux(v.row_elems == 0, dim, v.row_elems)
        is_acc = v.src == Mem.ACC
        length = Signal(8)
        m.d.comb += length.eq(Mux(is_acc, row_elems << 2, row_elems))
        err = self.error

        def report(m, code):
            with m.If(~err.valid):
                m.d.sync += [err.valid.eq(1), err.code.eq(code), err.pc.eq(pc)]

        b_out = Signal(16)
        src_row = Signal(16)
        row = walker.rows.payload
        addr = Signal(ADDR_BITS)
        last = Signal()
        offset = Signal(ADDR_BITS)
        m.d.comb += addr.eq(self.arena_base + offset)
        geo = _Geometry(m, addr, length, W, NB)
        buf = Signal(NB * W)
        strb = Signal(NB * B)
        beat = Signal(8)  # beat index within the row
        burst_left = Signal(range(MAX_BURST_BEATS + 1))  # beats of the current burst still to send
        run_rows = Signal(17)  # rows of the x run from the current row on
        coalesce = Signal()  # the current row belongs to a coalesced run
        row_bytes_ok = (geo.skew == 0) & ((length & (B - 1)) == 0) & (v.x_stride == length)
        run_beats = Signal(32)  # beats of the run from the current row's first beat on
        m.d.comb += run_beats.eq(run_rows * geo.beats)
        run_in_arena = (offset + run_rows * length) <= self.arena_size

        def burst_from(addr_, beats_left):
            return _burst_beats(addr_, beats_left, MAX_BURST_BEATS, lb)
        # AW address/length registers; SHIFT offers a row's first AW straight from its geometry (saving a cycle)
        aw_addr, aw_len = Signal(ADDR_BITS), Signal(8)
        m.d.comb += [wr.awaddr.eq(aw_addr), wr.awlen.eq(aw_len)]
        aw_sent = wr.awvalid & wr.awready
        m.d.sync += b_out.eq(b_out + aw_sent - (wr.bvalid & wr.bready))
        m.d.comb += wr.bready.eq(1)
        with m.If(wr.bvalid & (wr.bresp != 0)):
            report(m, ErrorCode.BUS_ERROR)
        m.d.comb += [self.sp_rd.addr.eq(src_row), self.acc_rd.addr.eq(src_row)]

        def read_next_row() -> None:
            m.d.comb += [walker.rows.ready.eq(1), self.sp_rd.en.eq(1), self.acc_rd.en.eq(1)]
            m.d.sync += [offset.eq(row.offset), last.eq(row.last), run_rows.eq(walker.x_left)]
            m.next = "SHIFT"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.cmd.issue.ready.eq(1), self.cmd.idle.eq(b_out == 0)]
                with m.If(self.cmd.issue.valid):
                    iv = view(Opcode.STORE, self.cmd.issue.payload.instr)
                    m.d.sync += [ins.eq(self.cmd.issue.payload.instr), pc.eq(self.cmd.issue.payload.pc),
                                 src_row.eq(iv.src_row)]
                    m.d.comb += [walker.start.eq(1), walker.offset.eq(iv.dram_offset)]
                    for name in ("x_size", "y_size", "z_size", "x_stride", "y_stride", "z_stride"):
                        m.d.sync += getattr(walker, name).eq(getattr(iv, name))
                    m.d.sync += [walker.x_pad_before.eq(0), walker.x_pad_after.eq(0),
                                 walker.y_pad_before.eq(0), walker.y_pad_after.eq(0)]
                    m.next = "ROW"
            with m.State("ROW"):  # read the next row from SP/ACC
                with m.If(walker.rows.valid):
                    read_next_row()
            with m.State("SHIFT"):  # row data arrives: place it in beat position
                row_bytes = Mux(is_acc, self.acc_rd.data, Cat(self.sp_rd.data, Const(0, dim * 24)))
                lane_mask = Signal(dim * 4)
                m.d.comb += lane_mask.eq((Const(1, dim * 4 + 1) << length) - 1)
                m.d.sync += [buf.eq(row_bytes << (geo.skew * 8)), strb.eq(lane_mask << geo.skew),
                             beat.eq(0), src_row.eq(src_row + 1)]
                with m.If(coalesce):  # inside a coalesced burst (its AW is out): more W beats
                    m.d.comb += self.bytes_written.eq(length)
                    m.next = "W"
                with m.Elif((offset + length) > self.arena_size):
                    report(m, ErrorCode.INTERNAL)
                    m.next = "NEXT"
                with m.Else():
                    m.d.comb += self.bytes_written.eq(length)
                    first_burst = Signal(range(MAX_BURST_BEATS + 1))
                    with m.If(row_bytes_ok & run_in_arena & (run_rows > 1)):
                        m.d.comb += first_burst.eq(burst_from(geo.first, run_beats))
                        m.d.sync += coalesce.eq(1)
                    with m.Else():
                        m.d.comb += first_burst.eq(geo.beats1)
                    m.d.sync += [burst_left.eq(first_burst), aw_addr.eq(geo.first), aw_len.eq(first_burst - 1)]
                    m.d.comb += [wr.awvalid.eq(1), wr.awaddr.eq(geo.first), wr.awlen.eq(first_burst - 1)]
                    with m.If(wr.awready):
                        m.next = "W"
                    with m.Else():  # held (registered, unchanged) until accepted
                        m.next = "AW"
            with m.State("AW"):
                m.d.comb += wr.awvalid.eq(1)
                with m.If(wr.awready):
                    m.next = "W"
            with m.State("W"):
                m.d.comb += [wr.wvalid.eq(1), wr.wdata.eq(buf.word_select(beat[:max((NB - 1).bit_length(), 1)], W)),
                             wr.wstrb.eq(strb.word_select(beat[:max((NB - 1).bit_length(), 1)], B)),
                             wr.wlast.eq(burst_left == 1)]
                with m.If(wr.wready):
                    m.d.sync += [beat.eq(beat + 1), burst_left.eq(burst_left - 1)]
                    next_addr = Signal(ADDR_BITS)
                    m.d.comb += next_addr.eq(geo.first + ((beat + 1) << lb))
                    with m.If(beat == geo.beats - 1):  # row done: start reading the next one at once
                        with m.If(burst_left == 1):
                            m.d.sync += coalesce.eq(0)
                        with m.If(last):
                            m.next = "DRAIN"
                        with m.Elif(walker.rows.valid):
                            read_next_row()
                        with m.Else():
                            m.next = "ROW"
                    with m.Elif(burst_left == 1):  # next burst inside the row: 4 KiB page or burst length cut
                        rest = Signal(range(MAX_BURST_BEATS + 1))
                        with m.If(coalesce):
                            m.d.comb += rest.eq(burst_from(next_addr, run_beats - beat - 1))
                        with m.Else():
                            m.d.comb += rest.eq(geo.beats - geo.beats1)
                        m.d.sync += [burst_left.eq(rest), aw_addr.eq(next_addr), aw_len.eq(rest - 1)]
                        m.next = "AW"
            with m.State("NEXT"):
                with m.If(last):
                    m.next = "DRAIN"
                with m.Else():
                    m.next = "ROW"
            with m.State("DRAIN"):  # all write responses back: the data is visible to later loads
                with m.If(b_out == 0):
                    m.d.comb += self.cmd.done.eq(1)
                    m.next = "IDLE"
        return m
