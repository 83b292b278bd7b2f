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
