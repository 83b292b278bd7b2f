"""The MMIO register file of docs/isa.md section 6 behind an AXI4-Lite slave.

Two pieces: `AxiLiteSlave` turns AXI-Lite handshakes into one-cycle register read/write strobes (it always
answers OKAY, as the spec requires), and `RegisterFile` implements the map of `nux.isa.registers` on those
strobes. The map comes from `REG` / `PERF`, never from offsets typed here, so a register added to the ISA shows
up as a missing case rather than a silent mismatch.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import ISA_VERSION, NPU_ID, PERF_COUNTERS, REG, Ctrl, Irq, NpuConfig
from nux.rtl.axi import axil_signature

MMIO_ADDR_BITS = 12

#: The staged task descriptor (TASK_* registers), handed to the command queue on DOORBELL.
TASK_LAYOUT = data.StructLayout({
    "prog_base": 64, "prog_len": 32, "arena_base": 64, "arena_size": 32, "tag": 32,
})

_STAGING = {  # register -> (field of TASK_LAYOUT, word within it)
    "TASK_PROG_BASE_LO": ("prog_base", 0), "TASK_PROG_BASE_HI": ("prog_base", 1),
    "TASK_PROG_LEN": ("prog_len", 0),
    "TASK_ARENA_BASE_LO": ("arena_base", 0), "TASK_ARENA_BASE_HI": ("arena_base", 1),
    "TASK_ARENA_SIZE": ("arena_size", 0), "TASK_TAG": ("tag", 0),
}


def regbus_signature() -> wiring.Signature:
    """A simple register bus from the slave adapter's side: write and read strobes, read data back."""
    return wiring.Signature({
        "we": Out(1), "waddr": Out(MMIO_ADDR_BITS), "wdata": Out(32), "wstrb": Out(4),
        "re": Out(1), "raddr": Out(MMIO_ADDR_BITS), "rdata": In(32),
    })


class AxiLiteSlave(wiring.Component):
    """AXI4-Lite slave: accepts AW and W together, one access at a time, responses always OKAY.

    A write is performed in the cycle both AW and W are accepted; a read samples `regs.rdata` in the cycle AR is
    accepted (the register file may apply a read side effect, e.g. latching a perf counter's high word).
    """

    def __init__(self):
        super().__init__({"axil": In(axil_signature(MMIO_ADDR_BITS)), "regs": Out(regbus_signature())})

    def elaborate(self, platform) -> Module:
        m = Module()
        bus, regs = self.axil, self.regs
        bvalid, rvalid = Signal(), Signal()
        rdata = Signal(32)
        accept_w = bus.awvalid & bus.wvalid & ~bvalid
        accept_r = bus.arvalid & ~rvalid
        m.d.comb += [
            bus.awready.eq(accept_w), bus.wready.eq(accept_w), bus.bvalid.eq(bvalid), bus.bresp.eq(0),
            bus.arready.eq(accept_r), bus.rvalid.eq(rvalid), bus.rresp.eq(0), bus.rdata.eq(rdata),
            regs.we.eq(accept_w), regs.waddr.eq(bus.awaddr), regs.wdata.eq(bus.wdata), regs.wstrb.eq(bus.wstrb),
            regs.re.eq(accept_r), regs.raddr.eq(bus.araddr),
        ]
        with m.If(accept_w):
            m.d.sync += bvalid.eq(1)
        with m.Elif(bus.bready):
            m.d.sync += bvalid.eq(0)
        with m.If(accept_r):
            m.d.sync += [rvalid.eq(1), rdata.eq(regs.rdata)]
        with m.Elif(bus.rready):
            m.d.sync += rvalid.eq(0)
        return m


def core_status_signature() -> wiring.Signature:
    """What the task controller reports to the register file (register-file side)."""
    return wiring.Signature({
        "status": In(32), "fault_pc": In(32), "fault_tag": In(32), "completed": In(32), "last_tag": In(32),
        "cmdq_free": In(32), "irq_set": In(2),
    })


class RegisterFile(wiring.Component):
    """Registers of docs/isa.md section 6: ID/CFG constants, CTRL, staging + DOORBELL, IRQ, status, perf.

    Holds only what software writes (staging registers, IRQ_ENABLE, IRQ_STATUS) and the perf high-word latches;
    everything else is read from the task controller and the perf counters. `soft_reset` (CTRL.RESET) clears
    IRQ_STATUS here; the top resets the core with it.
    """

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "bus": In(regbus_signature()),
            "core": Out(core_status_signature()),
            "perf": In(data.ArrayLayout(64, len(PERF_COUNTERS))),
            "task": Out(TASK_LAYOUT),
            "doorbell": Out(1),
            "soft_reset": Out(1),
            "perf_clear": Out(1),
            "irq": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, bus, core = self.config, self.bus, self.core
        irq_enable = Signal(2)
        irq_status = Signal(2)
        hi_latch = [Signal(32, name=f"perf_hi_{name.lower()}") for name, *_ in PERF_COUNTERS]

        def word(name: str) -> int:
            return REG[name] >> 2

        constants = {
            "ID": NPU_ID, "VERSION": (ISA_VERSION[0] << 16) | ISA_VERSION[1], "CFG_DIM": cfg.dim,
            "CFG_SP_ROWS": cfg.sp_rows, "CFG_ACC_ROWS": cfg.acc_rows, "CFG_AXI_DATA_BITS": cfg.axi_data_bits,
            "CFG_DRAM_ADDR_BITS": cfg.dram_addr_bits, "CFG_CMDQ_DEPTH": cfg.cmdq_depth,
        }
        from_core = {
            "STATUS": core.status, "FAULT_PC": core.fault_pc, "FAULT_TAG": core.fault_tag,
            "COMPLETED": core.completed, "LAST_TAG": core.last_tag, "CMDQ_FREE": core.cmdq_free,
        }

        # ---- reads
        with m.Switch(bus.raddr[2:]):
            for name, value in constants.items():
                with m.Case(word(name)):
                    m.d.comb += bus.rdata.eq(Const(value, 32))
            for name, sig in from_core.items():
                with m.Case(word(name)):
                    m.d.comb += bus.rdata.eq(sig)
            for name, (field, half) in _STAGING.items():
                with m.Case(word(name)):
                    m.d.comb += bus.rdata.eq(Value.cast(getattr(self.task, field))[32 * half: 32 * half + 32])
            with m.Case(word("IRQ_ENABLE")):
                m.d.comb += bus.rdata.eq(irq_enable)
            with m.Case(word("IRQ_STATUS")):
                m.d.comb += bus.rdata.eq(irq_status)
            for i, (_, offset, _, _) in enumerate(PERF_COUNTERS):
                with m.Case(offset >> 2):
                    m.d.comb += bus.rdata.eq(self.perf[i][:32])
                    with m.If(bus.re):
                        m.d.sync += hi_latch[i].eq(self.perf[i][32:])
                with m.Case((offset >> 2) + 1):
                    m.d.comb += bus.rdata.eq(hi_latch[i])

        # ---- writes
        strobe_mask = Signal(32)
        for b in range(4):
            m.d.comb += strobe_mask[8 * b: 8 * b + 8].eq(bus.wstrb[b].replicate(8))
        write_ctrl = Signal(32)
        with m.If(bus.we):
            with m.Switch(bus.waddr[2:]):
                with m.Case(word("CTRL")):
                    m.d.comb += write_ctrl.eq(bus.wdata)
                with m.Case(word("DOORBELL")):
                    m.d.comb += self.doorbell.eq(1)
                with m.Case(word("IRQ_ENABLE")):
                    m.d.sync += irq_enable.eq((irq_enable & ~strobe_mask) | (bus.wdata & strobe_mask))
                for name, (field, half) in _STAGING.items():
                    with m.Case(word(name)):
                        reg = Value.cast(getattr(self.task, field))[32 * half: 32 * half + 32]
                        m.d.sync += reg.eq((reg & ~strobe_mask) | (bus.wdata & strobe_mask))
        m.d.comb += [self.soft_reset.eq(write_ctrl[Ctrl.RESET.bit_length() - 1]),
                     self.perf_clear.eq(write_ctrl[Ctrl.PERF_CLEAR.bit_length() - 1])]
        with m.If(self.perf_clear):  # a cleared counter must not show a stale latched high word
            m.d.sync += [latch.eq(0) for latch in hi_latch]

        # ---- IRQ_STATUS: set by the core, W1C, cleared by CTRL.RESET
        w1c = Signal(2)
        with m.If(bus.we & (bus.waddr[2:] == word("IRQ_STATUS"))):
            m.d.comb += w1c.eq(bus.wdata & strobe_mask)
        with m.If(self.soft_reset):
            m.d.sync += irq_status.eq(0)
        with m.Else():
            m.d.sync += irq_status.eq((irq_status & ~w1c) | core.irq_set)
        m.d.comb += self.irq.eq((irq_status & irq_enable).any())
        assert Irq.DONE == 1 and Irq.ERROR == 2  # irq_set bit order
        return m
