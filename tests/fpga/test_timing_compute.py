"""The compute datapath fits 250 MHz by the delay model (docs/fpga.md), module by module, and split synthesis
(a black box plus the box's module alone) joins paths across the box's ports.

Why per module: the whole NPU takes ~25 min in Yosys; a module alone takes seconds to a minute, which is what a
test can afford. A module's input ports are path starts at 0 ns here: the vector engine's inputs come from
SP/ACC read data (block RAM / UltraRAM outputs) and the instruction register, so this underestimates only paths
that start at its inputs, none of which are near the budget (the full-NPU estimate covers them).
"""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig
from nux.rtl.compute_vector import VectorEngine
from nux.rtl.fpga import run_yosys
from nux.rtl.fpga_timing import T_DSP_MUL, analyze, analyze_split
from nux.rtl.requant import MbqmLane

pytestmark = pytest.mark.rtl

PERIOD = 4.0  # ns, 250 MHz


def _worst(component: wiring.Component, workdir):
    result = run_yosys(verilog.convert(component, name="nux_npu", emit_src=False), workdir)
    return analyze(result.netlist)


def test_mbqm_lane_fits_250mhz(tmp_path):
    """Each stage of the requantization lane holds at most one wide operation (its multiplies are DSP slices)."""
    report = _worst(MbqmLane(), tmp_path)
    assert report.worst[0].delay <= PERIOD, report.worst[:3]
    assert report.worst[0].delay > T_DSP_MUL, report.worst[0]  # a multiply stage was found: the check is real


@pytest.mark.slow
def test_vector_engine_fits_250mhz(tmp_path):
    """The vector engine at dim 4 (~70-140 s in Yosys): MUL's product is registered before the operation mux
    (it was 5.45 ns: DSP multiply, mux, requant input register)."""
    report = _worst(VectorEngine(NpuConfig(dim=4)), tmp_path)
    assert report.worst[0].delay <= PERIOD, report.worst[:3]


class _Inner(wiring.Component):
    """A comparison of its input against a register: the inside half of a path."""

    def __init__(self):
        super().__init__({"x": In(16), "hit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ref, hit = Signal(16, name="ref"), Signal(name="r_hit")
        m.d.sync += [ref.eq(ref + 3), hit.eq(self.x == ref)]
        m.d.comb += self.hit.eq(hit)
        return m


class _Outer(wiring.Component):
    """A registered sum feeding `_Inner`: the path r_a/r_b -> add -> inner compare -> r_hit crosses the box."""

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "hit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = _Inner()
        ra, rb = Signal(16, name="r_a"), Signal(16, name="r_b")
        m.d.sync += [ra.eq(self.a), rb.eq(self.b)]
        m.d.comb += [inner.x.eq(ra + rb), self.hit.eq(inner.hit)]
        return m


def test_split_synthesis_joins_the_path_across_a_black_box(tmp_path):
    text = verilog.convert(_Outer(), name="nux_npu", emit_src=False)
    flat = analyze(run_yosys(text, tmp_path / "flat").netlist)
    box = "nux_npu.inner"
    outside = run_yosys(text, tmp_path / "rest", blackboxes=(box,)).netlist
    inside = run_yosys(text, tmp_path / "box", top=box).netlist
    partial = analyze(outside, boxes=frozenset({box}))
    assert "x" in partial.boundary.box_inputs and not [p for p in partial.worst if "(box." in p.end]
    split = analyze_split(outside, inside, box)
    crossing = flat.worst[0]  # the add and the compare in one path: the longest (ABC renames its registers)
    assert "hit" in crossing.end and crossing.levels >= 2, flat.worst
    joined = split.worst[0]
    assert joined.start.startswith("(outside) -> inner.x") and joined.end.startswith("inner.hit"), split.worst
    # ABC may merge a LUT across the boundary in the flat run: split never undercounts and stays close
    assert crossing.delay <= joined.delay <= crossing.delay + 0.9, (joined, crossing)
