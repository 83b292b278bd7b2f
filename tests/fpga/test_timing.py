"""The delay model of nux.rtl.fpga_timing on small synthesized designs: it finds the long path, and a pipeline
register cuts it."""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from nux.rtl.fpga import run_yosys
from nux.rtl.fpga_timing import analyze

pytestmark = pytest.mark.rtl


class _Chain(wiring.Component):
    """out <= ((a * b) + c) == d, registered; with `pipelined` the product is registered first."""

    def __init__(self, pipelined: bool):
        self.pipelined = pipelined
        super().__init__({"a": In(16), "b": In(16), "c": In(32), "d": In(32), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        regs = {name: Signal(getattr(self, name).shape(), name=f"r_{name}") for name in "abcd"}
        m.d.sync += [regs[n].eq(getattr(self, n)) for n in "abcd"]
        product = regs["a"] * regs["b"]
        if self.pipelined:
            staged = Signal(32, name="r_product")
            m.d.sync += staged.eq(product)
            product = staged
        result = Signal(name="r_out")
        m.d.sync += result.eq((product + regs["c"])[:32] == regs["d"])
        m.d.comb += self.out.eq(result)
        return m


def _worst(pipelined: bool, tmp_path):
    text = verilog.convert(_Chain(pipelined), name="nux_npu", emit_src=False)
    result = run_yosys(text, tmp_path / str(pipelined))
    return analyze(result.netlist)


def test_worst_path_and_pipelining(tmp_path):
    flat, staged = _worst(False, tmp_path), _worst(True, tmp_path)
    worst = flat.worst[0]
    assert worst.end.startswith(("r_out", "out ")), worst
    assert worst.start.startswith(("r_a", "r_b")), worst  # through the multiplier
    assert worst.levels >= 2
    assert staged.worst[0].delay < worst.delay, (staged.worst[0], worst)
    to_out = [p for p in staged.worst if p.end.startswith(("r_out", "out "))]
    assert to_out and not to_out[0].start.startswith(("r_a", "r_b")), to_out  # the register cut the path


class _Adder(wiring.Component):
    """out <= a + b, 32 bits, registered on both sides: the worst path is the carry chain."""

    def __init__(self):
        super().__init__({"a": In(32), "b": In(32), "out": Out(32)})

    def elaborate(self, platform):
        m = Module()
        ra, rb, r_out = Signal(32, name="r_a"), Signal(32, name="r_b"), Signal(32, name="r_out")
        m.d.sync += [ra.eq(self.a), rb.eq(self.b), r_out.eq(ra + rb)]
        m.d.comb += self.out.eq(r_out)
        return m


def test_carry_chains_are_paths_not_path_starts(tmp_path):
    """Yosys maps xcup adders to CARRY4 blocks: the model must time through them (it once treated them as path
    starts, which hid every adder), chaining CI without routing."""
    result = run_yosys(verilog.convert(_Adder(), name="nux_npu", emit_src=False), tmp_path)
    worst = analyze(result.netlist).worst[0]
    assert worst.start.startswith(("r_a", "r_b")) and worst.end.startswith(("r_out[31]", "out[31]")), worst
    assert 1.2 < worst.delay < 2.5, worst  # 8 carry blocks of 0.10 plus LUT, nets and register timing
