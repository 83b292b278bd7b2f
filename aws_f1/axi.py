"""AXI4 signatures with a chosen ID width, the channel table the glue is written against, and a register slice.

The NPU's own AXI4 port (nux.rtl.axi) has fixed 4-bit IDs; the shell's ports have 16-bit (F2, F1 DDR) or 6-bit
(F1 PCIS) IDs, so the CL glue needs the ID width as a parameter. Member names are the flat AXI names, as in
nux.rtl.axi, so the Verilog ports read `pcis_awaddr`, `ddr_rdata`, ...
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

RESP_OKAY = 0
RESP_DECERR = 3

#: channel -> (payload members, valid, ready, flows master-to-slave?)
CHANNELS: dict[str, tuple[tuple[str, ...], str, str, bool]] = {
    "aw": (("awid", "awaddr", "awlen", "awsize", "awburst"), "awvalid", "awready", True),
    "w": (("wdata", "wstrb", "wlast"), "wvalid", "wready", True),
    "b": (("bid", "bresp"), "bvalid", "bready", False),
    "ar": (("arid", "araddr", "arlen", "arsize", "arburst"), "arvalid", "arready", True),
    "r": (("rid", "rdata", "rresp", "rlast"), "rvalid", "rready", False),
}


def axi4(addr_bits: int, data_bits: int, id_bits: int) -> wiring.Signature:
    """Full AXI4 (INCR bursts, no lock/cache/prot/qos: the AWS shells carry none) from the master's side."""
    return wiring.Signature({
        "awid": Out(id_bits), "awaddr": Out(addr_bits), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
        "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
        "bid": In(id_bits), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "arid": Out(id_bits), "araddr": Out(addr_bits), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
        "arvalid": Out(1), "arready": In(1),
        "rid": In(id_bits), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    })


def beat_size(data_bits: int) -> int:
    """AxSIZE of a full-width beat."""
    return (data_bits // 8).bit_length() - 1


class AxiSlice(wiring.Component):
    """A two-entry register slice on all five channels: every valid and ready that leaves it comes from a flop.

    Placed between the interconnect and the DDR controller, where the 512-bit buses cross the die; full
    throughput (one beat per cycle) because each channel holds two entries.
    """

    def __init__(self, addr_bits: int, data_bits: int, id_bits: int):
        sig = axi4(addr_bits, data_bits, id_bits)
        super().__init__({"s": In(sig), "m": Out(sig)})

    def elaborate(self, platform) -> Module:
        m = Module()
        for name, (payload, valid, ready, forward) in CHANNELS.items():
            src, dst = (self.s, self.m) if forward else (self.m, self.s)
            width = sum(len(getattr(src, p)) for p in payload)
            m.submodules[name] = fifo = SyncFIFO(width=width, depth=2)
            m.d.comb += [fifo.w_data.eq(Cat(*(getattr(src, p) for p in payload))),
                         fifo.w_en.eq(getattr(src, valid)), getattr(src, ready).eq(fifo.w_rdy),
                         Cat(*(getattr(dst, p) for p in payload)).eq(fifo.r_data),
                         getattr(dst, valid).eq(fifo.r_rdy), fifo.r_en.eq(getattr(dst, ready))]
        return m
