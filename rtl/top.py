"""`NuxNpu(config)`: the whole NPU, Verilog module `nux_npu` (ports of docs/isa.md section 7).

Block structure (docs/rtl.md has the picture): AXI-Lite -> RegisterFile -> TaskController -> FetchUnit ->
Dispatcher -> {load, compute, store} queues -> LoadUnit / ComputeUnit / StoreUnit, which share the SP and ACC
memories owned here and one AXI4 master (`AxiMaster`). CTRL.RESET holds the core (everything that holds task
state) in reset while `AxiMaster` drains outstanding bus transactions; the register file and perf counters stay
out of that reset, as the spec keeps IRQ_ENABLE, staging registers and counters across CTRL.RESET.
"""

from __future__ import annotations

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out
from nux.isa import ConfigError, NpuConfig
from nux.rtl.axi import AxiMaster, axi4_signature, axil_signature, connect_flat
from nux.rtl.axil import MMIO_ADDR_BITS, AxiLiteSlave, RegisterFile
from nux.rtl.banked import BankedMemory
from nux.rtl.cmdq import TaskController
from nux.rtl.compute import ComputeUnit
from nux.rtl.dispatch import Dispatcher
from nux.rtl.dma_load import LoadUnit
from nux.rtl.dma_store import StoreUnit
from nux.rtl.fetch import INSTR_BITS, FetchUnit
from nux.rtl.perf import PerfCounters


class RtlConfigError(ConfigError):
    """An NpuConfig the ISA accepts but this RTL cannot build."""


def check_rtl_config(config: NpuConfig) -> None:
    """Refuse configurations the RTL does not implement (with the reason)."""
    if config.axi_data_bits > INSTR_BITS:
        raise RtlConfigError(
            f"axi_data_bits={config.axi_data_bits}: the RTL fetches one instruction per beat at most, so the AXI "
            f"data width must be <= {INSTR_BITS} bits"
        )


def _addr_bits(rows: int) -> int:
    return (rows - 1).bit_length()


def top_members(config: NpuConfig) -> dict:
    """Flat port members: s_axil_* (slave), m_axi_* (master), irq."""
    members = {f"s_axil_{n}": mem for n, mem in axil_signature(MMIO_ADDR_BITS).flip().members.items()}
    members |= {f"m_axi_{n}": mem
                for n, mem in axi4_signature(config.dram_addr_bits, config.axi_data_bits).members.items()}
    members["irq"] = Out(1)
    return members


class NuxNpu(wiring.Component):
    """The NPU top level for one NpuConfig."""

    def __init__(self, config: NpuConfig):
        check_rtl_config(config)
        self.config = config
        super().__init__(top_members(config))

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        aborting = Signal()
        core_rst = Signal()

        def core(name: str, unit):
            m.submodules[name] = ResetInserter(core_rst)(unit)
            return unit

        m.submodules.axil = slave = AxiLiteSlave()
        m.submodules.regs = regs = RegisterFile(cfg)
        # the core is reset from the very edge that clears the perf counters (`rst` resets everything anyway)
        m.d.comb += core_rst.eq(aborting | regs.soft_reset)
        m.submodules.perf = perf = PerfCounters(cfg)
        m.submodules.axi = axim = AxiMaster(cfg.dram_addr_bits, cfg.axi_data_bits, n_readers=2)
        ctl = core("ctl", TaskController(cfg))
        fetch = core("fetch", FetchUnit(cfg))
        disp = core("dispatch", Dispatcher(cfg))
        load = core("load", LoadUnit(cfg))
        store = core("store", StoreUnit(cfg))
        cu = core("compute", ComputeUnit(cfg))

        # ---- bus ports
        connect_flat(m, self, "s_axil_", slave.axil, slave.axil.signature)
        connect_flat(m, self, "m_axi_", axim.bus, axim.bus.signature)
        m.d.comb += self.irq.eq(regs.irq)
        wiring.connect(m, slave.regs, regs.bus)
        wiring.connect(m, axim.rd0, fetch.rd)
        wiring.connect(m, axim.rd1, load.rd)
        wiring.connect(m, axim.wr, store.wr)

        # ---- soft reset: hold the core in reset until the bus is quiet
        with m.If(regs.soft_reset):
            m.d.sync += aborting.eq(1)
        with m.Elif(aborting & axim.quiet):
            m.d.sync += aborting.eq(0)
        m.d.comb += axim.abort.eq(core_rst)

        # ---- tasks
        m.d.comb += [ctl.doorbell.eq(regs.doorbell), ctl.task.eq(regs.task)]
        wiring.connect(m, ctl.regs, regs.core)
        run = ctl.engine.run
        m.d.comb += [
            ctl.engine.ready.eq(fetch.idle),
            fetch.start.eq(ctl.engine.start), fetch.prog_base.eq(run.prog_base), fetch.prog_len.eq(run.prog_len),
            fetch.flush.eq(disp.finished | disp.error),
            disp.start.eq(ctl.engine.start), disp.prog_len.eq(run.prog_len), disp.arena_size.eq(run.arena_size),
            ctl.engine.finished.eq(disp.finished), ctl.engine.error.eq(disp.error),
            ctl.engine.error_code.eq(disp.error_code), ctl.engine.error_pc.eq(disp.error_pc),
        ]
        wiring.connect(m, fetch.out, disp.fetched)
        for unit in (load, store):
            m.d.comb += [unit.arena_base.eq(run.arena_base), unit.arena_size.eq(run.arena_size)]
        wiring.connect(m, disp.load, load.cmd)
        wiring.connect(m, disp.store, store.cmd)
        m.d.comb += [cu.issue.payload.eq(disp.compute.issue.payload), cu.issue.valid.eq(disp.compute.issue.valid),
                     disp.compute.issue.ready.eq(cu.issue.ready), disp.compute.done.eq(cu.done),
                     disp.compute.idle.eq(cu.idle)]
        with m.If(load.error.valid):
            m.d.comb += [disp.unit_error.eq(1), disp.unit_error_code.eq(load.error.code),
                         disp.unit_error_pc.eq(load.error.pc)]
        with m.Elif(store.error.valid):
            m.d.comb += [disp.unit_error.eq(1), disp.unit_error_code.eq(store.error.code),
                         disp.unit_error_pc.eq(store.error.pc)]

        # ---- on-chip memories: one write port per bank, the compute unit first (docs/rtl.md, "SP/ACC write port")
        m.submodules.sp = sp = BankedMemory(cfg.dim * 8, cfg.sp_rows, n_read=3)
        m.submodules.acc = acc = BankedMemory(cfg.dim * 32, cfg.acc_rows, n_read=2)
        for port, user in ((sp.rd0, cu.sp_rd_a), (sp.rd1, cu.sp_rd_b), (sp.rd2, store.sp_rd), (acc.rd0, cu.acc_rd),
                           (acc.rd1, store.acc_rd), (sp.first, cu.sp_wr), (sp.second, load.sp_wr),
                           (acc.first, cu.acc_wr), (acc.second, load.acc_wr)):
            wiring.connect(m, port, user)
        m.d.comb += [load.sp_busy.eq(sp.second_busy), load.acc_busy.eq(acc.second_busy)]
        m.d.comb += [cu.lut_wr.addr.eq(load.lut_wr.addr), cu.lut_wr.data.eq(load.lut_wr.data),
                     cu.lut_wr.en.eq(load.lut_wr.en)]

        # ---- perf
        m.d.comb += [perf.running.eq(ctl.running & ~core_rst), perf.array_row.eq(cu.array_row & ~core_rst),
                     perf.bytes_read.eq(load.bytes_read), perf.bytes_written.eq(store.bytes_written),
                     perf.instret.eq(disp.instret), perf.stall.eq(disp.stall), perf.clear.eq(regs.perf_clear),
                     regs.perf.eq(perf.counters)]
        return m
