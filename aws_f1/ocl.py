"""`OclDecoder`: the shell's OCL AXI-Lite port (BAR0) -> the NPU's register window or the CL ID registers.

Windows and register offsets come from nux.isa.aws (the driver reads the same module). One access per
direction at a time, which is all a host's uncached MMIO does; addresses outside both windows answer DECERR
with all-ones data, like an unclaimed PCIe read. The shell does not forward AXI errors to the host (it logs
them in the management PF's metrics), so a wrong offset shows up as 0xFFFFFFFF.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from nux.aws.axi import RESP_DECERR, RESP_OKAY
from nux.isa.aws import CL_REGISTERS, CL_REGS_OFFSET, NPU_BAR0_OFFSET, WINDOW_BYTES, Shell, cl_register_values
from nux.rtl.axi import axil_signature as axil

OCL_ADDR_BITS = 32
NPU_ADDR_BITS = (WINDOW_BYTES - 1).bit_length()
_CL = {r.name: r.offset for r in CL_REGISTERS}


class OclDecoder(wiring.Component):
    """`s`: the OCL port (slave side); `npu`: the NPU's AXI-Lite slave (we are its master); `irq_count` in."""

    def __init__(self, shell: Shell):
        self.values = cl_register_values(shell)
        super().__init__({"s": In(axil(OCL_ADDR_BITS)), "npu": Out(axil(NPU_ADDR_BITS)), "irq_count": In(32)})

    @staticmethod
    def _window(addr) -> tuple:
        page = addr[NPU_ADDR_BITS:]
        return page == NPU_BAR0_OFFSET // WINDOW_BYTES, page == CL_REGS_OFFSET // WINDOW_BYTES

    def elaborate(self, platform) -> Module:
        m = Module()
        scratch = Signal(32)
        self._writes(m, scratch)
        self._reads(m, scratch)
        return m

    def _writes(self, m: Module, scratch: Signal) -> None:
        s, npu = self.s, self.npu
        addr, data, strb = Signal(OCL_ADDR_BITS), Signal(32), Signal(4)
        aw_owed, w_owed, resp = Signal(), Signal(), Signal(2)
        m.d.comb += [npu.awaddr.eq(addr), npu.wdata.eq(data), npu.wstrb.eq(strb),
                     npu.awvalid.eq(aw_owed), npu.wvalid.eq(w_owed)]
        with m.FSM(name="ocl_write"):
            with m.State("IDLE"):
                both = s.awvalid & s.wvalid
                m.d.comb += [s.awready.eq(both), s.wready.eq(both)]
                to_npu, to_cl = self._window(s.awaddr)
                m.d.sync += [addr.eq(s.awaddr), data.eq(s.wdata), strb.eq(s.wstrb)]
                with m.If(both & to_npu):
                    m.d.sync += [aw_owed.eq(1), w_owed.eq(1)]
                    m.next = "NPU"
                with m.Elif(both):
                    m.d.sync += resp.eq(RESP_OKAY)
                    with m.If(~to_cl):
                        m.d.sync += resp.eq(RESP_DECERR)
                    with m.Elif(s.awaddr[:NPU_ADDR_BITS] == _CL["CL_SCRATCH"]):
                        for i in range(4):
                            with m.If(s.wstrb[i]):
                                m.d.sync += scratch[8 * i:8 * i + 8].eq(s.wdata[8 * i:8 * i + 8])
                    m.next = "RESP"
            with m.State("NPU"):
                with m.If(npu.awready):
                    m.d.sync += aw_owed.eq(0)
                with m.If(npu.wready):
                    m.d.sync += w_owed.eq(0)
                with m.If((~aw_owed | npu.awready) & (~w_owed | npu.wready)):
                    m.next = "NPU_B"
            with m.State("NPU_B"):
                m.d.comb += [s.bvalid.eq(npu.bvalid), s.bresp.eq(npu.bresp), npu.bready.eq(s.bready)]
                with m.If(npu.bvalid & s.bready):
                    m.next = "IDLE"
            with m.State("RESP"):
                m.d.comb += [s.bvalid.eq(1), s.bresp.eq(resp)]
                with m.If(s.bready):
                    m.next = "IDLE"

    def _reads(self, m: Module, scratch: Signal) -> None:
        s, npu = self.s, self.npu
        addr, rdata, resp = Signal(OCL_ADDR_BITS), Signal(32), Signal(2)
        m.d.comb += npu.araddr.eq(addr)
        with m.FSM(name="ocl_read"):
            with m.State("IDLE"):
                m.d.comb += s.arready.eq(1)
                to_npu, to_cl = self._window(s.araddr)
                m.d.sync += addr.eq(s.araddr)
                with m.If(s.arvalid & to_npu):
                    m.next = "NPU_AR"
                with m.Elif(s.arvalid):
                    m.d.sync += [rdata.eq(0xFFFFFFFF), resp.eq(RESP_DECERR)]
                    with m.If(to_cl):
                        m.d.sync += [rdata.eq(0), resp.eq(RESP_OKAY)]
                        with m.Switch(s.araddr[:NPU_ADDR_BITS]):
                            for name, value in self.values.items():
                                with m.Case(_CL[name]):
                                    m.d.sync += rdata.eq(value)
                            with m.Case(_CL["CL_IRQ_COUNT"]):
                                m.d.sync += rdata.eq(self.irq_count)
                            with m.Case(_CL["CL_SCRATCH"]):
                                m.d.sync += rdata.eq(scratch)
                    m.next = "RESP"
            with m.State("NPU_AR"):
                m.d.comb += npu.arvalid.eq(1)
                with m.If(npu.arready):
                    m.next = "NPU_R"
            with m.State("NPU_R"):
                m.d.comb += [s.rvalid.eq(npu.rvalid), s.rdata.eq(npu.rdata), s.rresp.eq(npu.rresp),
                             npu.rready.eq(s.rready)]
                with m.If(npu.rvalid & s.rready):
                    m.next = "IDLE"
            with m.State("RESP"):
                m.d.comb += [s.rvalid.eq(1), s.rdata.eq(rdata), s.rresp.eq(resp)]
                with m.If(s.rready):
                    m.next = "IDLE"
