"""`AxiUpsizer`: the NPU's narrow AXI4 master (32..256 bits) onto the shell's 512-bit DDR bus.

This is how nux reaches 512-bit AXI: the NPU fetches at most one instruction per beat and so refuses
axi_data_bits above 256, and the shell's DDR and PCIS ports are 512 bits wide.

A narrow burst of n beats starting in 512-bit lane `lane0` becomes one wide burst of ceil((lane0 + n) / R) beats
(R = 512 / narrow width) at the 64-byte-aligned address, AxSIZE = 64 bytes. It never crosses 4 KiB because the
narrow burst does not. Outstanding bursts are remembered in FIFOs (lane0, n, ID); the wide side uses one ID so
that its responses come back in order, and the narrow responses carry the original IDs again. `offset` is added
to every address (the DDR address of NPU device address 0).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out
from nux.aws.axi import axi4, beat_size
from nux.rtl.axi import BURST_INCR

WIDE_BITS = 512
NPU_ID_BITS = 4
OUTSTANDING = 4  # bursts in flight per direction (the NPU has at most a few)


class AxiUpsizer(wiring.Component):
    """Narrow AXI4 slave port `s` (the NPU) -> 512-bit AXI4 master port `m` (ID 0, addresses + `offset`)."""

    def __init__(self, addr_bits: int, narrow_bits: int, wide_addr_bits: int = 64, offset: int = 0):
        if WIDE_BITS % narrow_bits or narrow_bits > WIDE_BITS // 2:
            raise ValueError(f"AxiUpsizer: narrow width {narrow_bits} must divide {WIDE_BITS} at least twice")
        self.addr_bits, self.narrow_bits, self.offset = addr_bits, narrow_bits, offset
        self.ratio = WIDE_BITS // narrow_bits
        super().__init__({"s": In(axi4(addr_bits, narrow_bits, NPU_ID_BITS)),
                          "m": Out(axi4(wide_addr_bits, WIDE_BITS, 1))})

    # lane of the first beat, narrow beats, wide beats - 1, aligned wide address
    def _split(self, m: Module, addr, length):
        lane_bits = (self.ratio - 1).bit_length()
        lane0 = Signal(lane_bits)
        beats = Signal(9)
        wide_len = Signal(8)
        m.d.comb += [lane0.eq(addr[beat_size(self.narrow_bits):][:lane_bits]), beats.eq(length + 1),
                     wide_len.eq(((lane0 + beats + self.ratio - 1) >> lane_bits) - 1)]
        return lane0, beats, wide_len, (addr + self.offset) & ~(WIDE_BITS // 8 - 1)

    def elaborate(self, platform) -> Module:
        m = Module()
        self._read(m)
        self._write(m)
        return m

    def _cursor(self, m: Module, head_lane0, head_beats, step):
        """Lane of the current narrow beat of the head burst, and whether it is the burst's last; `step` = it moved."""
        lane = Signal(len(head_lane0))
        sent = Signal(9)  # narrow beats of the head burst already moved
        started = Signal()
        cur_lane = Signal(len(head_lane0))
        m.d.comb += cur_lane.eq(lane)
        with m.If(~started):
            m.d.comb += cur_lane.eq(head_lane0)
        last = Signal()
        m.d.comb += last.eq((sent + 1) == head_beats)
        with m.If(step):
            m.d.sync += [lane.eq(cur_lane + 1), started.eq(1), sent.eq(sent + 1)]
            with m.If(last):
                m.d.sync += [started.eq(0), sent.eq(0)]
        return cur_lane, last

    def _read(self, m: Module) -> None:
        s, w = self.s, self.m
        lane0, beats, wide_len, wide_addr = self._split(m, s.araddr, s.arlen)
        lane_bits = len(lane0)
        m.submodules.rq = rq = SyncFIFO(width=NPU_ID_BITS + lane_bits + 9, depth=OUTSTANDING)
        m.d.comb += [w.araddr.eq(wide_addr), w.arlen.eq(wide_len), w.arsize.eq(beat_size(WIDE_BITS)),
                     w.arburst.eq(BURST_INCR), w.arid.eq(0),
                     w.arvalid.eq(s.arvalid & rq.w_rdy), s.arready.eq(w.arready & rq.w_rdy),
                     rq.w_en.eq(s.arvalid & w.arready & rq.w_rdy), rq.w_data.eq(lane0 | (beats << lane_bits) |
                                                                     (s.arid << (lane_bits + 9)))]
        head_lane0, head_beats, head_id = rq.r_data[:lane_bits], rq.r_data[lane_bits:][:9], rq.r_data[lane_bits + 9:]
        cur_lane, last = self._cursor(m, head_lane0, head_beats, s.rvalid & s.rready)
        m.d.comb += [s.rid.eq(head_id), s.rresp.eq(w.rresp), s.rlast.eq(last),
                     s.rdata.eq(w.rdata.word_select(cur_lane, self.narrow_bits)),
                     s.rvalid.eq(w.rvalid & rq.r_rdy),
                     w.rready.eq(s.rready & rq.r_rdy & ((cur_lane == self.ratio - 1) | last))]
        m.d.comb += rq.r_en.eq(s.rvalid & s.rready & last)

    def _write(self, m: Module) -> None:
        s, w = self.s, self.m
        lane0, beats, wide_len, wide_addr = self._split(m, s.awaddr, s.awlen)
        lane_bits = len(lane0)
        m.submodules.wq = wq = SyncFIFO(width=lane_bits + 9, depth=OUTSTANDING)
        m.submodules.bq = bq = SyncFIFO(width=NPU_ID_BITS, depth=OUTSTANDING)
        room = wq.w_rdy & bq.w_rdy
        take = s.awvalid & w.awready & room
        m.d.comb += [w.awaddr.eq(wide_addr), w.awlen.eq(wide_len), w.awsize.eq(beat_size(WIDE_BITS)),
                     w.awburst.eq(BURST_INCR), w.awid.eq(0),
                     w.awvalid.eq(s.awvalid & room), s.awready.eq(w.awready & room),
                     wq.w_en.eq(take), wq.w_data.eq(lane0 | (beats << lane_bits)),
                     bq.w_en.eq(take), bq.w_data.eq(s.awid)]

        # W: collect narrow beats into one wide beat; send it when its last lane (or the burst's last beat) comes
        head_lane0, head_beats = wq.r_data[:lane_bits], wq.r_data[lane_bits:]
        step = s.wvalid & s.wready
        cur_lane, last = self._cursor(m, head_lane0, head_beats, step)
        nb = self.narrow_bits
        buf_data = Signal(WIDE_BITS)
        buf_strb = Signal(WIDE_BITS // 8)
        closes = (cur_lane == self.ratio - 1) | last
        data, strb = Signal(WIDE_BITS), Signal(WIDE_BITS // 8)
        m.d.comb += [data.eq(buf_data), strb.eq(buf_strb)]
        m.d.comb += [data.word_select(cur_lane, nb).eq(s.wdata), strb.word_select(cur_lane, nb // 8).eq(s.wstrb)]
        m.d.comb += [w.wdata.eq(data), w.wstrb.eq(strb), w.wlast.eq(last),
                     w.wvalid.eq(s.wvalid & wq.r_rdy & closes),
                     s.wready.eq(wq.r_rdy & (~closes | w.wready))]
        with m.If(step):
            with m.If(closes):
                m.d.sync += buf_strb.eq(0)
            with m.Else():
                m.d.sync += [buf_data.eq(data), buf_strb.eq(strb)]
        m.d.comb += wq.r_en.eq(step & last)

        # B: one wide response per burst, in order
        m.d.comb += [s.bid.eq(bq.r_data), s.bresp.eq(w.bresp), s.bvalid.eq(w.bvalid & bq.r_rdy),
                     w.bready.eq(s.bready & bq.r_rdy), bq.r_en.eq(w.bvalid & s.bready)]
