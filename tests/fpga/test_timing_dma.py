"""The DMA units meet the 250 MHz budget by the delay model: each synthesized alone, worst path <= 4 ns.

Why per unit: the whole NPU takes ~25 minutes in Yosys; a unit takes seconds to a minute and this is a property
of its structure (pipeline stages, registered outputs), which a change can break without changing any result.
A unit's input ports count as path starts at time 0 here; its neighbours' outputs that feed it are registers
or a LUT or two away (the dispatch queue's FIFO output, the AXI master's slices, the task registers), which is
why the budget keeps margin below 4 ns (docs/rtl.md, "DMA").
"""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from nux.isa import NpuConfig
from nux.rtl.dma_load import LoadUnit
from nux.rtl.dma_store import StoreUnit
from nux.rtl.fpga import run_yosys
from nux.rtl.fpga_timing import analyze

pytestmark = pytest.mark.rtl
PERIOD_NS = 4.0
CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=64)


@pytest.mark.parametrize("unit", [LoadUnit, StoreUnit], ids=["load", "store"])
def test_unit_meets_250_mhz(unit, tmp_path):
    text = verilog.convert(unit(CONFIG), name="nux_npu", emit_src=False)
    report = analyze(run_yosys(text, tmp_path).netlist)
    worst = report.worst[0]
    assert worst.delay <= PERIOD_NS, f"{worst.delay} ns over {worst.levels} LUT levels: {worst.start} -> {worst.end}"
    assert report.dsp_unregistered["M"] == 0, "a multiplier in a DMA unit is a 2.8 ns combinational DSP stage"
