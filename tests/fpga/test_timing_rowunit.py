"""The ISA 1.1 row units synthesized alone (Yosys synth_xilinx xcup, dim 8) fit 250 MHz by the delay model of
nux.rtl.fpga_timing: the worst register-to-register path is at most 4.0 ns, and the multipliers land in DSPs.

Each unit's ports are top-level I/O here, so paths from and to the memories start and end at the port (the
memories' own clock-to-out and setup are the top's business when the units are wired in)."""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from nux.isa import NpuConfig
from nux.rtl.compute_lutw import LutwEngine
from nux.rtl.compute_reduce import ReduceEngine
from nux.rtl.fpga import run_yosys, top_cells
from nux.rtl.fpga_timing import analyze
from nux.rtl.rowops import RowOpsUnit

pytestmark = pytest.mark.rtl

PERIOD_NS = 4.0
CONFIG = NpuConfig(dim=8, sp_rows=4096, acc_rows=1024)
UNITS = {
    "rowops": (RowOpsUnit, 4),  # one 32x32 SRDHM = four 17x17 partial products
    "reduce": (lambda: ReduceEngine(CONFIG), 4),  # its RowOpsUnit (SUMSQ squares are LUT-sized)
    "lutw": (lambda: LutwEngine(CONFIG), 0),
}


@pytest.mark.parametrize("unit", UNITS)
def test_unit_meets_250mhz(unit, tmp_path):
    build, min_dsp = UNITS[unit]
    result = run_yosys(verilog.convert(build(), name="nux_npu", emit_src=False), tmp_path)
    report = analyze(result.netlist)
    worst = report.worst[0]
    assert worst.delay <= PERIOD_NS, f"{unit}: {worst}"
    assert top_cells(result.stat).get("DSP48E2", 0) >= min_dsp
