"""The PE is written so that one DSP slice holds its whole multiply-add with the A, B, M and P registers.

Yosys 0.70 packs no register into a DSP48E2 (`-family xcup`, docs/fpga.md), so the check uses `-family xc7`,
whose DSP48E1 has the same A/B/M/P register structure: what Yosys absorbs there, Vivado absorbs on UltraScale+.
"""

from __future__ import annotations

import json

import pytest
from amaranth.back import verilog
from nux.rtl.array import ProcessingElement
from nux.rtl.fpga import run_yosys

pytestmark = pytest.mark.rtl


def test_processing_element_is_one_fully_registered_dsp(tmp_path):
    result = run_yosys(verilog.convert(ProcessingElement(8), name="nux_npu", emit_src=False), tmp_path, family="xc7")
    cells = json.loads(result.netlist.read_text())["modules"]["nux_npu"]["cells"].values()
    dsps = [c for c in cells if c["type"] == "DSP48E1"]
    assert len(dsps) == 1, [c["type"] for c in cells]
    params = dsps[0]["parameters"]
    regs = {k: int(params[k], 2) if isinstance(params[k], str) else params[k] for k in ("AREG", "BREG", "MREG", "PREG")}
    assert regs == {"AREG": 1, "BREG": 1, "MREG": 1, "PREG": 1}
    assert any(isinstance(b, int) for b in dsps[0]["connections"]["C"])  # the partial-sum add is inside
    assert not [c for c in cells if c["type"].startswith("CARRY")]  # no adder left in the fabric
