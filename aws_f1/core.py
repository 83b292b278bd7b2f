"""`NuxClCore`: everything of the custom logic between the shell's ports and the NPU, Verilog module `nux_cl_core`.

    OCL (AXI-Lite, BAR0) ── OclDecoder ──┬── NPU registers (nux_npu s_axil)
                                         └── CL ID registers
    PCIS (512-bit AXI4, BAR4 / XDMA) ────────────────────────┐
    nux_npu m_axi (axi_data_bits) ── AxiUpsizer (→ 512) ─────┴─ AxiArbiter ── AxiSlice ── DDR (512-bit AXI4)
    nux_npu irq (level) ── IrqPulser ── irq_req / irq_ack (one-cycle pulses)

The NPU is an Instance of `nux_npu`, the module `nux rtl` writes (nux.rtl.verilog), so the FPGA runs exactly the
Verilog the simulator tests. The hand-written SystemVerilog tops (hdl/cl_nux_f1.sv, hdl/cl_nux_f2.sv) only map
these flat ports onto each shell's port names, synchronise the reset and tie off what is unused.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from nux.aws.axi import AxiSlice, axi4
from nux.aws.interconnect import AxiArbiter
from nux.aws.irq import IrqPulser
from nux.aws.ocl import NPU_ADDR_BITS, OCL_ADDR_BITS, OclDecoder
from nux.aws.upsizer import NPU_ID_BITS, WIDE_BITS, AxiUpsizer
from nux.isa import NpuConfig
from nux.isa.aws import DRAM_BASE, Shell
from nux.rtl.axi import axil_signature as axil

CORE_NAME = "nux_cl_core"
DDR_ADDR_BITS = 64
DDR_ID_BITS = 16  # sh_ddr's ID_WIDTH (F2) and the F1 shell's DDR C IDs
PCIS_ID_BITS = {Shell.F1: 6, Shell.F2: 16}

def port_groups(shell: Shell) -> dict[str, tuple[wiring.Signature, bool]]:
    """The flat port groups: prefix -> (signature from the master's view, is the core the slave?)."""
    return {
        "ocl_": (axil(OCL_ADDR_BITS), True),
        "pcis_": (axi4(DDR_ADDR_BITS, WIDE_BITS, PCIS_ID_BITS[shell]), True),
        "ddr_": (axi4(DDR_ADDR_BITS, WIDE_BITS, DDR_ID_BITS), False),
    }


def _flat(prefix: str, sig: wiring.Signature, slave: bool) -> dict:
    sig = sig.flip() if slave else sig
    return {prefix + name: member for name, member in sig.members.items()}


def _connect_flat(m: Module, outer, prefix: str, inner, sig: wiring.Signature, slave: bool) -> None:
    """Wire `outer.<prefix><name>` to the inner interface `inner` (same direction view as the flat ports)."""
    view = sig.flip() if slave else sig
    for name, member in view.members.items():
        a, b = getattr(outer, prefix + name), getattr(inner, name)
        m.d.comb += a.eq(b) if member.flow == Out else b.eq(a)


class NuxClCore(wiring.Component):
    """The CL glue plus the NPU for one NpuConfig and one shell."""

    def __init__(self, config: NpuConfig, shell: Shell):
        self.config, self.shell = config, Shell(shell)
        members = {}
        for prefix, (sig, slave) in port_groups(self.shell).items():
            members |= _flat(prefix, sig, slave)
        members |= {"irq_req": Out(1), "irq_ack": In(1)}
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        m.submodules.ocl = ocl = OclDecoder(self.shell)
        m.submodules.upsizer = up = AxiUpsizer(cfg.dram_addr_bits, cfg.axi_data_bits, DDR_ADDR_BITS, DRAM_BASE)
        m.submodules.arbiter = arb = AxiArbiter(DDR_ADDR_BITS, WIDE_BITS, (PCIS_ID_BITS[self.shell], 1),
                                                DDR_ID_BITS)
        m.submodules.ddr_slice = ddr = AxiSlice(DDR_ADDR_BITS, WIDE_BITS, DDR_ID_BITS)
        m.submodules.irq = irq = IrqPulser()

        groups = port_groups(self.shell)
        _connect_flat(m, self, "ocl_", ocl.s, *groups["ocl_"])
        _connect_flat(m, self, "pcis_", arb.s0, *groups["pcis_"])
        _connect_flat(m, self, "ddr_", ddr.m, *groups["ddr_"])
        wiring.connect(m, up.m, arb.s1)
        wiring.connect(m, arb.m, ddr.s)
        m.d.comb += [self.irq_req.eq(irq.req), irq.ack.eq(self.irq_ack), ocl.irq_count.eq(irq.count)]

        npu_regs = axil(NPU_ADDR_BITS).flip().create(path=("npu_regs",))
        npu_bus = axi4(cfg.dram_addr_bits, cfg.axi_data_bits, NPU_ID_BITS).create(path=("npu_bus",))
        wiring.connect(m, ocl.npu, npu_regs)
        wiring.connect(m, npu_bus, up.s)
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal(), "o_irq": irq.irq}
        for prefix, iface in (("s_axil_", npu_regs), ("m_axi_", npu_bus)):
            for name, member in iface.signature.members.items():
                # both interfaces are seen from the NPU's side: what flows out of them, the NPU drives
                ports[("o_" if member.flow == Out else "i_") + prefix + name] = getattr(iface, name)
        m.submodules.npu = Instance("nux_npu", **ports)
        return m
