"""LUTW engine (ISA 1.1): the wide (int32) table lookup into ACC, one row per cycle, and the LUTW storage.

Stand-alone this session (docs/rtl_rowunit.md says how it joins the compute queue). It talks to the memories
the way rtl/compute_vector.py's VectorEngine does: one instruction at a time (`i_valid`/`i_ready`), SP rows read
through two read ports (A and, for `diff`, B), ACC rows written through one write port, `done` one cycle after
the last write. Outputs go to consecutive ACC rows (`out_base + y*x_size + x` is a counter).

Pipeline for an element whose SP reads are issued in cycle e:

| cycle | stage |
|---|---|
| e   | A and B walks: `sp_rd_a.addr`, `sp_rd_b.addr` |
| e+1 | SP data; per lane `idx = clamp(B - A, 0, 255)` (diff) or A's raw byte, registered |
| e+2 | LUTW read of row `idx >> log2(dim)` in the lane's copy, its int32 `idx & (dim-1)` selected, registered |
| e+3 | `acc_wr` (`done` in e+4 after the last element) |

LUTW storage: the table is `256/dim` rows of dim int32, written one row per cycle by the load unit through
`lutw_wr` (like the 8-bit LUT's `lut_wr`). Each lane reads its own copy through an asynchronous read port and
selects its word before the register: on an FPGA each copy is LUTRAM (at dim 8, 19 RAM32M16), and registering the
selected int32 instead of the whole dim-word row saves (dim - 1) * 32 flip-flops per lane. Separate copies with
one read port each, rather than one memory with dim read ports, because Yosys' memory mapper copes with the
former at every dim.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig, Opcode
from nux.rtl.compute_walk import StridedWalk
from nux.rtl.isa_layout import INSTR_BITS, instr_layout
from nux.rtl.mem_ports import acc_write, sp_read
from nux.rtl.requant import byte_param

LUTW_ENTRIES = 256


def lutw_write_layout(dim: int) -> data.StructLayout:
    """What the load unit drives to write one LUTW row (`256/dim` rows of dim int32)."""
    return data.StructLayout({"addr": (LUTW_ENTRIES // dim - 1).bit_length(), "data": dim * 32, "en": 1})


class LutwEngine(wiring.Component):
    """Executes LUTW (validated by dispatch); `done` pulses once per instruction."""

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        super().__init__({
            "i_valid": In(1),
            "i_instr": In(INSTR_BITS),
            "i_ready": Out(1),
            "sp_rd_a": sp_read(config),
            "sp_rd_b": sp_read(config),
            "acc_wr": acc_write(config),
            "lutw_wr": In(lutw_write_layout(dim)),
            "done": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        dim = self.config.dim
        lane_bits = (dim - 1).bit_length()
        ins = Signal(INSTR_BITS)
        lw = data.View(instr_layout(Opcode.LUTW), ins)
        incoming = data.View(instr_layout(Opcode.LUTW), self.i_instr)
        idle = Signal(init=1)
        streaming = Signal()
        m.d.comb += [self.i_ready.eq(idle), self.idle.eq(idle)]
        start = self.i_valid & idle
        with m.If(start):
            m.d.sync += [ins.eq(self.i_instr), idle.eq(0), streaming.eq(1)]

        # ---------------------------------------------------------------- e: the A and B walks (loaded at start)
        walk_a = m.submodules.walk_a = StridedWalk()
        walk_b = m.submodules.walk_b = StridedWalk()
        for walk, side in ((walk_a, "a"), (walk_b, "b")):
            m.d.comb += [
                walk.load.eq(start), walk.step.eq(streaming),
                walk.base.eq(getattr(incoming, f"{side}_base")),
                walk.xstride.eq(getattr(incoming, f"{side}_xstride")),
                walk.ystride.eq(getattr(incoming, f"{side}_ystride")),
                walk.x_size.eq(incoming.x_size), walk.y_size.eq(incoming.y_size),
            ]
        last = streaming & walk_a.last
        with m.If(last):
            m.d.sync += streaming.eq(0)
        m.d.comb += [
            self.sp_rd_a.en.eq(streaming), self.sp_rd_a.addr.eq(walk_a.addr),
            self.sp_rd_b.en.eq(streaming & lw.diff), self.sp_rd_b.addr.eq(walk_b.addr),
        ]

        # ---------------------------------------------------------------- e+1: the table index per lane
        tag = data.StructLayout({"valid": 1, "last": 1})
        t1, t2, t3 = (Signal(tag, name=f"t{k}") for k in range(1, 4))
        m.d.sync += [t1.valid.eq(streaming), t1.last.eq(last), t2.eq(t1), t3.eq(t2)]
        idx2 = Signal(data.ArrayLayout(8, dim))
        for n in range(dim):
            a = byte_param(self.sp_rd_a.data[8 * n : 8 * n + 8], lw.a_signed)
            b = byte_param(self.sp_rd_b.data[8 * n : 8 * n + 8], lw.b_signed)
            d = b - a  # -383..383
            clamped = Mux(d < 0, 0, Mux(d > 255, 255, d[:8]))
            m.d.sync += idx2[n].eq(Mux(lw.diff, clamped, self.sp_rd_a.data[8 * n : 8 * n + 8]))

        # ---------------------------------------------------------------- e+2: per-lane table copies
        out3 = Signal(data.ArrayLayout(32, dim))
        for n in range(dim):
            mem = m.submodules[f"lutw{n}"] = Memory(shape=dim * 32, depth=LUTW_ENTRIES // dim, init=[])
            wp, rp = mem.write_port(), mem.read_port(domain="comb")
            m.d.comb += [wp.en.eq(self.lutw_wr.en), wp.addr.eq(self.lutw_wr.addr), wp.data.eq(self.lutw_wr.data),
                         rp.addr.eq(idx2[n][lane_bits:])]
            m.d.sync += out3[n].eq(rp.data.word_select(idx2[n][:lane_bits], 32))

        # ---------------------------------------------------------------- e+3: ACC write of consecutive rows
        out_row = Signal(16)
        with m.If(start):
            m.d.sync += out_row.eq(incoming.out_base)
        with m.Elif(t3.valid):
            m.d.sync += out_row.eq(out_row + 1)
        m.d.comb += [self.acc_wr.en.eq(t3.valid), self.acc_wr.addr.eq(out_row), self.acc_wr.data.eq(out3)]
        m.d.sync += self.done.eq(t3.valid & t3.last)
        with m.If(t3.valid & t3.last):
            m.d.sync += idle.eq(1)
        return m
