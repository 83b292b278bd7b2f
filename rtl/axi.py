"""AXI4 / AXI4-Lite signatures with flat member names, and the one AXI4 master port shared by the DMA clients.

Member names are flat (`awaddr`, `rdata`, ...) so that the top level can expose them as `m_axi_awaddr`, the
names cocotbext-axi's `from_prefix` and the AWS shells expect (docs/isa.md section 7). Internally the fetch and
load units each get a simplified read channel (`read_signature`: AR address/length, R data) and the store unit a
simplified write channel; `AxiMaster` gives them IDs, arbitrates AR, routes R by ID and keeps the bus legal while
the core is held in reset by CTRL.RESET (outstanding transactions are completed and discarded, docs/isa.md
section 6).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

ID_BITS = 4
BURST_INCR = 1
MAX_BURST_BEATS = 256
PAGE_BYTES = 4096  # AXI bursts must not cross a 4 KiB boundary


def axi4_signature(addr_bits: int, data_bits: int) -> wiring.Signature:
    """Full AXI4 from the master's side, flat member names without prefix."""
    strb = data_bits // 8
    return wiring.Signature({
        "awid": Out(ID_BITS), "awaddr": Out(addr_bits), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
        "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(strb), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
        "bid": In(ID_BITS), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "arid": Out(ID_BITS), "araddr": Out(addr_bits), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
        "arvalid": Out(1), "arready": In(1),
        "rid": In(ID_BITS), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    })


def axil_signature(addr_bits: int = 12) -> wiring.Signature:
    """AXI4-Lite from the master's side (the register file takes it flipped, as a slave)."""
    return wiring.Signature({
        "awaddr": Out(addr_bits), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(addr_bits), "arvalid": Out(1), "arready": In(1),
        "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
    })


def read_signature(addr_bits: int, data_bits: int) -> wiring.Signature:
    """A client's read channel (client = master side): INCR bursts of full-width beats."""
    return wiring.Signature({
        "araddr": Out(addr_bits), "arlen": Out(8), "arvalid": Out(1), "arready": In(1),
        "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1), "rready": Out(1),
    })


def write_signature(addr_bits: int, data_bits: int) -> wiring.Signature:
    """A client's write channel (client = master side); W beats of a burst follow its AW handshake."""
    return wiring.Signature({
        "awaddr": Out(addr_bits), "awlen": Out(8), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
    })


def connect_flat(m: Module, outer: object, prefix: str, inner: object, signature: wiring.Signature) -> None:
    """Connect `inner.<name>` to `outer.<prefix><name>` for every member, in the member's direction.

    Used at the top level to expose internal interfaces under flat, prefixed port names.
    """
    for name, member in signature.members.items():
        a, b = getattr(outer, prefix + name), getattr(inner, name)
        m.d.comb += (a.eq(b) if member.flow == Out else b.eq(a))


class AxiMaster(wiring.Component):
    """The NPU's single AXI4 master: `n_readers` read clients (client i uses ID i) and one write client.

    AR and AW pass through one-entry register slices, so a request the slave has not accepted yet stays valid
    even if its client is reset. While `abort` is high the clients see no handshakes; the port drains: R and B
    beats are accepted and dropped, and W beats still owed for accepted AW bursts are sent with all strobes off.
    `quiet` is high when nothing is outstanding, so the core may leave reset.
    """

    def __init__(self, addr_bits: int, data_bits: int, n_readers: int):
        self.addr_bits, self.data_bits, self.n_readers = addr_bits, data_bits, n_readers
        members = {
            "bus": Out(axi4_signature(addr_bits, data_bits)),
            "wr": In(write_signature(addr_bits, data_bits)),
            "abort": In(1),
            "quiet": Out(1),
        }
        for i in range(n_readers):
            members[f"rd{i}"] = In(read_signature(addr_bits, data_bits))
        super().__init__(members)

    def readers(self) -> list:
        return [getattr(self, f"rd{i}") for i in range(self.n_readers)]

    def elaborate(self, platform) -> Module:
        m = Module()
        bus, wr, abort = self.bus, self.wr, self.abort
        size = (self.data_bits // 8).bit_length() - 1
        m.d.comb += [bus.arsize.eq(size), bus.awsize.eq(size), bus.arburst.eq(BURST_INCR), bus.awburst.eq(BURST_INCR)]

        # ---- AR: fixed-priority arbiter (reader 0 first) into a one-entry slice
        ar_full = Signal()
        ar_take = Signal()  # a client's AR enters the slice this cycle
        slice_free = ~ar_full | bus.arready
        m.d.comb += bus.arvalid.eq(ar_full)
        with m.If(bus.arready):
            m.d.sync += ar_full.eq(0)
        granted = Signal(range(max(self.n_readers, 2)))
        with m.If(slice_free & ~abort):
            for i, rd in reversed(list(enumerate(self.readers()))):
                with m.If(rd.arvalid):
                    m.d.comb += [granted.eq(i), ar_take.eq(1)]
        for i, rd in enumerate(self.readers()):
            m.d.comb += rd.arready.eq(ar_take & (granted == i))
            with m.If(ar_take & (granted == i)):
                m.d.sync += [bus.arid.eq(i), bus.araddr.eq(rd.araddr), bus.arlen.eq(rd.arlen), ar_full.eq(1)]

        # ---- R: route by ID; drop while aborting
        r_out = Signal(16)
        r_done = bus.rvalid & bus.rready & bus.rlast
        m.d.sync += r_out.eq(r_out + ar_take - r_done)
        m.d.comb += bus.rready.eq(abort)
        for i, rd in enumerate(self.readers()):
            mine = bus.rid == i
            m.d.comb += [rd.rdata.eq(bus.rdata), rd.rresp.eq(bus.rresp), rd.rlast.eq(bus.rlast),
                         rd.rvalid.eq(bus.rvalid & mine & ~abort)]
            with m.If(mine & rd.rready & ~abort):
                m.d.comb += bus.rready.eq(1)

        # ---- AW slice, W pass-through (or filler beats while aborting), B
        aw_full = Signal()
        aw_take = Signal()
        m.d.comb += [bus.awvalid.eq(aw_full), aw_take.eq(wr.awvalid & (~aw_full | bus.awready) & ~abort),
                     wr.awready.eq(aw_take), bus.awid.eq(0)]
        with m.If(bus.awready):
            m.d.sync += aw_full.eq(0)
        with m.If(aw_take):
            m.d.sync += [bus.awaddr.eq(wr.awaddr), bus.awlen.eq(wr.awlen), aw_full.eq(1)]
        w_owed = Signal(16)  # beats of accepted AW bursts not yet sent
        w_beat = bus.wvalid & bus.wready
        m.d.sync += w_owed.eq(w_owed + (aw_take * (wr.awlen + 1)) - w_beat)
        with m.If(abort):
            m.d.comb += [bus.wvalid.eq(w_owed != 0), bus.wlast.eq(w_owed == 1), bus.wstrb.eq(0), bus.wdata.eq(0)]
        with m.Else():
            m.d.comb += [bus.wvalid.eq(wr.wvalid), bus.wlast.eq(wr.wlast), bus.wstrb.eq(wr.wstrb),
                         bus.wdata.eq(wr.wdata), wr.wready.eq(bus.wready)]
        b_out = Signal(16)
        m.d.sync += b_out.eq(b_out + aw_take - (bus.bvalid & bus.bready))
        m.d.comb += [bus.bready.eq(abort | wr.bready), wr.bresp.eq(bus.bresp), wr.bvalid.eq(bus.bvalid & ~abort)]

        m.d.comb += self.quiet.eq(~ar_full & ~aw_full & (r_out == 0) & (w_owed == 0) & (b_out == 0))
        return m
