"""SP and ACC map to block RAM / UltraRAM on UltraScale+, never to flip-flops (Yosys `synth_xilinx -family xcup`).

Why: a memory with two write ports has no BRAM/URAM/LUTRAM form, and Yosys then silently builds it from
flip-flops (half a million of them at dim 8: no FPGA can hold the NPU). Only memory mapping is run
(`-run begin:map_ffram`), on dim 4, so this stays a CI test (~1-2 min).
"""

from __future__ import annotations

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig
from nux.rtl.compute_vector import LUT_LANES_PER_COPY, LaneLut
from nux.rtl.fpga import memories_of, run_yosys, top_cells
from nux.rtl.verilog import generate_verilog

pytestmark = pytest.mark.rtl

#: dim 4 keeps the logic small; SP/ACC at their default depth, as a few-dozen-row bank is rightly LUTRAM
CONFIG = NpuConfig(dim=4)
RAM_CELLS = ("RAMB36E2", "RAMB18E2", "URAM288")
RAM_KINDS = ("$__XILINX_BLOCKRAM", "$__XILINX_URAM")


@pytest.fixture(scope="module")
def npu():
    return run_yosys(generate_verilog(CONFIG), memory_only=True)


@pytest.mark.parametrize("name", ["sp", "acc"])
def test_scratchpad_and_accumulator_map_to_block_ram(npu, name):
    banks = memories_of(npu.memories, name)
    assert banks, f"no memory of {name!r} in the Yosys log: {sorted(npu.memories)}"
    for bank, kind in banks.items():
        assert kind.startswith(RAM_KINDS), f"{bank} mapped to {kind}, not BRAM/URAM"


def test_block_ram_cells_are_instantiated(npu):
    cells = top_cells(npu.stat)
    assert sum(cells.get(c, 0) for c in RAM_CELLS) > 0, cells


class _TwoWriters(wiring.Component):
    """A memory with two write ports: what SP/ACC were, and what must be reported as FF-mapped."""

    def __init__(self):
        super().__init__({"a": In(8), "b": In(8), "we": In(2), "q": Out(32)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32, depth=256, init=[])
        for i, addr in enumerate((self.a, self.b)):
            port = mem.write_port()
            m.d.comb += [port.addr.eq(addr), port.en.eq(self.we[i]), port.data.eq(addr * (i + 3))]
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(self.a ^ self.b), self.q.eq(rd.data)]
        return m


def test_a_two_write_port_memory_is_reported_as_flip_flops():
    """The check above can fail: the log phrase for an FF-mapped memory is recognised."""
    result = run_yosys(verilog.convert(_TwoWriters(), name="nux_npu", emit_src=False), memory_only=True)
    assert memories_of(result.memories, "mem") == {"mem": "FF"}


@pytest.mark.parametrize(("dim", "kinds"), [(16, ("$__XILINX_LUTRAM",)), (32, ("$__XILINX_LUTRAM", "FF"))])
def test_lane_lut_maps_at_large_dims(dim, kinds):
    """The LUT needs a read port per lane; one memory with 16 of them crashed Yosys' memory_libmap ("thrown Wasm
    exception") and with it every dim-16/32 estimate. As copies of LUT_LANES_PER_COPY ports each it maps: LUTRAM
    at dim 16 (16 rows); at dim 32 its 8 rows of 256 bits are built from flip-flops (2 Kbit per copy), which is
    what so shallow a memory costs anyway."""
    result = run_yosys(verilog.convert(LaneLut(dim), name="nux_npu", emit_src=False), memory_only=True)
    assert len(result.memories) == -(-dim // LUT_LANES_PER_COPY), result.memories
    assert all(kind.startswith(kinds) for kind in result.memories.values()), result.memories
