"""The MMIO register file of docs/isa.md section 6 behind an AXI4-Lite slave.

Two pieces: `AxiLiteSlave` turns AXI-Lite handshakes into one-cycle register read/write strobes (it always
answers OKAY, as the spec requires), and `RegisterFile` implements the map of `nux.isa.registers` on those
strobes. The decode is built from the declarations (`REGISTERS`, `PERF_COUNTERS`): constants and CFG_* from
`constant_registers`, TASK_* staging from `TASK_FIELDS`, read-only state from the task controller by register
name. No offset or bit position is typed here, and a register added to the ISA without a source in the register
file fails elaboration rather than reading 0.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import (
    CTRL,
    IRQ_ENABLE,
    IRQ_STATUS,
    MMIO_ADDR_BITS,
    PERF_COUNTERS,
    REGISTER,
    REGISTERS,
    TASK_FIELDS,
    Access,
    NpuConfig,
    Register,
    constant_registers,
)
from nux.isa.registers import WORD_BITS
from nux.rtl.axi import axil_signature
from nux.rtl.isa_layout import RTL_ISA_MINOR

__all__ = ["MMIO_ADDR_BITS", "TASK_LAYOUT", "CORE_REGISTERS", "AxiLiteSlave", "RegisterFile", "regbus_signature",
           "core_status_signature"]

#: The staged task descriptor (TASK_* registers), handed to the command queue on DOORBELL.
TASK_LAYOUT = data.StructLayout({name: WORD_BITS * len(regs) for name, regs in TASK_FIELDS.items()})
#: Read-only state the task controller provides (STATUS, FAULT_*, COMPLETED, ...): read-only registers that are
#: not constants. Each is a `core_status_signature` member named after the register.
CORE_REGISTERS = tuple(r for r in REGISTERS if r.access is Access.R and r.value is None and r.config is None)
DOORBELL = REGISTER["DOORBELL"]


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
    members = {r.name.lower(): In(WORD_BITS) for r in CORE_REGISTERS}
    return wiring.Signature({**members, "irq_set": In(IRQ_STATUS.width)})


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

    def _staged(self, reg: Register) -> Value:
        """The word of the staged descriptor a TASK_* register reads and writes."""
        field, word = reg.task
        return Value.cast(getattr(self.task, field))[WORD_BITS * word: WORD_BITS * (word + 1)]

    def _read_value(self, reg: Register, constants: dict[Register, int], irq: dict[Register, Signal]) -> Value:
        """What reading `reg` returns; every readable register must have a source here."""
        if reg in constants:
            return Const(constants[reg], WORD_BITS)
        if reg.task is not None:
            return self._staged(reg)
        if reg in irq:
            return irq[reg]
        if reg in CORE_REGISTERS:
            return getattr(self.core, reg.name.lower())
        raise NotImplementedError(f"the register file has no read source for {reg.name}")

    def elaborate(self, platform) -> Module:
        m = Module()
        bus, core = self.bus, self.core
        irq_enable = Signal(IRQ_ENABLE.width)
        irq_status = Signal(IRQ_STATUS.width)
        irq = {IRQ_ENABLE: irq_enable, IRQ_STATUS: irq_status}
        hi_latch = [Signal(WORD_BITS, name=f"perf_hi_{c.name.lower()}") for c in PERF_COUNTERS]
        constants = constant_registers(self.config, isa_minor=RTL_ISA_MINOR)

        def word(reg: Register) -> int:
            return reg.offset >> 2

        # ---- reads (write-only registers read 0, like undefined offsets)
        with m.Switch(bus.raddr[2:]):
            for reg in REGISTERS:
                if reg.access is not Access.W:
                    with m.Case(word(reg)):
                        m.d.comb += bus.rdata.eq(self._read_value(reg, constants, irq))
            for i, counter in enumerate(PERF_COUNTERS):
                with m.Case(counter.offset >> 2):
                    m.d.comb += bus.rdata.eq(self.perf[i][:WORD_BITS])
                    with m.If(bus.re):
                        m.d.sync += hi_latch[i].eq(self.perf[i][WORD_BITS:])
                with m.Case(counter.hi >> 2):
                    m.d.comb += bus.rdata.eq(hi_latch[i])

        # ---- writes
        strobe_mask = Signal(32)
        for b in range(4):
            m.d.comb += strobe_mask[8 * b: 8 * b + 8].eq(bus.wstrb[b].replicate(8))
        write_ctrl = Signal(32)
        with m.If(bus.we):
            with m.Switch(bus.waddr[2:]):
                with m.Case(word(CTRL)):
                    m.d.comb += write_ctrl.eq(bus.wdata)
                with m.Case(word(DOORBELL)):
                    m.d.comb += self.doorbell.eq(1)
                with m.Case(word(IRQ_ENABLE)):
                    m.d.sync += irq_enable.eq((irq_enable & ~strobe_mask) | (bus.wdata & strobe_mask))
                for regs in TASK_FIELDS.values():
                    for reg in regs:
                        with m.Case(word(reg)):
                            staged = self._staged(reg)
                            m.d.sync += staged.eq((staged & ~strobe_mask) | (bus.wdata & strobe_mask))
        m.d.comb += [self.soft_reset.eq(write_ctrl[CTRL.field("RESET").lsb]),
                     self.perf_clear.eq(write_ctrl[CTRL.field("PERF_CLEAR").lsb])]
        with m.If(self.perf_clear):  # a cleared counter must not show a stale latched high word
            m.d.sync += [latch.eq(0) for latch in hi_latch]

        # ---- IRQ_STATUS: set by the core, W1C, cleared by CTRL.RESET
        w1c = Signal(IRQ_STATUS.width)
        with m.If(bus.we & (bus.waddr[2:] == word(IRQ_STATUS))):
            m.d.comb += w1c.eq(bus.wdata & strobe_mask)
        with m.If(self.soft_reset):
            m.d.sync += irq_status.eq(0)
        with m.Else():
            m.d.sync += irq_status.eq((irq_status & ~w1c) | core.irq_set)
        m.d.comb += self.irq.eq((irq_status & irq_enable).any())
        return m
