"""`AxiArbiter`: two 512-bit AXI4 masters (the host's PCIS window and the NPU) onto one DDR slave.

Addresses pass unchanged. The top ID bit of the slave side names the master, the lower bits carry the master's
own ID, truncated to fit (PCIS IDs are small: 0x00-0x03 for XDMA channels, 0x20 for host BAR accesses), and R/B are
routed back by that bit, beat by beat, so the slave may interleave read data of the two masters. AR and AW are
granted round-robin, and a grant is held while the slave has not taken the request (AXI forbids changing a
valid request). W beats follow the order in which AW bursts were granted (a small FIFO of grants), so a master
whose W arrives before its AW was granted simply waits.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out
from nux.aws.axi import CHANNELS, axi4

W_ORDER_DEPTH = 8  # AW bursts granted whose W beats have not all passed


class AxiArbiter(wiring.Component):
    """Masters `s0` (priority on ties after a grant to `s1`) and `s1`; slave port `m` with `id_bits` IDs."""

    def __init__(self, addr_bits: int, data_bits: int, id_bits: tuple[int, int], out_id_bits: int):
        self.out_id_bits = out_id_bits
        super().__init__({"s0": In(axi4(addr_bits, data_bits, id_bits[0])),
                          "s1": In(axi4(addr_bits, data_bits, id_bits[1])),
                          "m": Out(axi4(addr_bits, data_bits, out_id_bits))})

    def _grant(self, m: Module, prefix: str, allow=1) -> tuple[Signal, Signal]:
        """Round-robin grant for the AR or AW channel while `allow`: the chosen master (held until accepted) and
        whether its request is accepted this cycle."""
        s0, s1, out = self.s0, self.s1, self.m
        payload, valid, ready, _ = CHANNELS[prefix]
        v0, v1 = getattr(s0, valid), getattr(s1, valid)
        prefer1 = Signal(name=f"{prefix}_prefer1")  # s1 wins a tie next time
        held = Signal(name=f"{prefix}_held")
        held_sel = Signal(name=f"{prefix}_held_sel")
        sel = Signal(name=f"{prefix}_sel")
        m.d.comb += sel.eq(Mux(held, held_sel, Mux(v0 & v1, prefer1, v1)))
        src_valid = Mux(sel, v1, v0) & allow
        accepted = src_valid & getattr(out, ready)
        m.d.sync += [held.eq(src_valid & ~getattr(out, ready)), held_sel.eq(sel)]
        with m.If(accepted):
            m.d.sync += prefer1.eq(~sel)
        id_name = payload[0]
        for name in payload[1:]:
            m.d.comb += getattr(out, name).eq(Mux(sel, getattr(s1, name), getattr(s0, name)))
        low = Mux(sel, getattr(s1, id_name), getattr(s0, id_name))[: self.out_id_bits - 1]
        m.d.comb += [getattr(out, id_name).eq(low | (sel << (self.out_id_bits - 1))),
                     getattr(out, valid).eq(src_valid),
                     getattr(s0, ready).eq(getattr(out, ready) & allow & ~sel),
                     getattr(s1, ready).eq(getattr(out, ready) & allow & sel)]
        return sel, accepted

    def _route_back(self, m: Module, prefix: str) -> None:
        """R or B: to the master named by the top ID bit."""
        payload, valid, ready, _ = CHANNELS[prefix]
        out = self.m
        to1 = getattr(out, payload[0])[self.out_id_bits - 1]
        for port, mine in ((self.s0, ~to1), (self.s1, to1)):
            m.d.comb += getattr(port, payload[0]).eq(getattr(out, payload[0])[: self.out_id_bits - 1])
            for name in payload[1:]:
                m.d.comb += getattr(port, name).eq(getattr(out, name))
            m.d.comb += getattr(port, valid).eq(getattr(out, valid) & mine)
        m.d.comb += getattr(out, ready).eq(Mux(to1, getattr(self.s1, ready), getattr(self.s0, ready)))

    def elaborate(self, platform) -> Module:
        m = Module()
        self._grant(m, "ar")
        self._route_back(m, "r")
        self._route_back(m, "b")
        m.submodules.order = order = SyncFIFO(width=1, depth=W_ORDER_DEPTH)
        # an AW is granted only while its W order can be recorded
        aw_sel, aw_accepted = self._grant(m, "aw", allow=order.w_rdy)
        m.d.comb += [order.w_data.eq(aw_sel), order.w_en.eq(aw_accepted)]
        w_sel = order.r_data[0]
        payload = CHANNELS["w"][0]
        out = self.m
        for name in payload:
            m.d.comb += getattr(out, name).eq(Mux(w_sel, getattr(self.s1, name), getattr(self.s0, name)))
        w_valid = Mux(w_sel, self.s1.wvalid, self.s0.wvalid)
        m.d.comb += [out.wvalid.eq(w_valid & order.r_rdy),
                     self.s0.wready.eq(out.wready & order.r_rdy & ~w_sel),
                     self.s1.wready.eq(out.wready & order.r_rdy & w_sel),
                     order.r_en.eq(out.wvalid & out.wready & out.wlast)]
        return m
