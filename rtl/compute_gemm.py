"""GEMM engine: weight preload, row streaming through the systolic array, pipelined ACC read-modify-write.

Three stages run concurrently so that back-to-back GEMMs keep the array busy (docs/rtl_compute.md, "GEMM"):

* **slot** (one instruction): holds the next GEMM. If it preloads, the **loader** reads its weight rows through
  SP read port B (one per cycle, last row first), subtracts w_zp and shifts them into the array's idle weight
  buffer, while the current GEMM keeps streaming with the other buffer.
* **streamer**: walks the A rows (`a_base + y*a_ystride + x*a_xstride`) through SP read port A, one row per
  cycle. On its last row it takes the slot's GEMM in the same cycle, so the next tile's first row follows
  without a bubble.
* **accumulate**: LATENCY cycles later the array's output row meets the ACC row read for it (`acc_base + i`),
  is added (accumulate=1) and written back. A following GEMM may accumulate into a row whose write is still in
  this pipeline; the two newest writes are forwarded, which covers every read that could miss them.

Buffer reuse rule: a buffer may be reloaded only after the last row that used it has left the array; a drain
counter per buffer enforces it (only a GEMM with fewer than ~2*dim rows ever waits for it).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig, Opcode
from nux.rtl.array import OPERAND, SystolicArray, array_latency
from nux.rtl.compute_walk import StridedWalk
from nux.rtl.isa_layout import INSTR_BITS, instr_layout
from nux.rtl.mem_ports import acc_addr_bits, acc_read, acc_write, sp_addr_bits, sp_read
from nux.rtl.requant import byte_param


def sp_row_layout(dim: int) -> data.ArrayLayout:
    return data.ArrayLayout(8, dim)


def acc_row_layout(dim: int) -> data.ArrayLayout:
    return data.ArrayLayout(signed(32), dim)


def zero_point_subtract(m: Module, raw_row, zp, is_signed, dim: int, name: str):
    """Registered `byte - zp` per lane, both read as int8 or uint8: the 9-bit signed array operand."""
    out = Signal(data.ArrayLayout(OPERAND, dim), name=name)
    zp9 = byte_param(zp, is_signed)
    for n in range(dim):
        m.d.sync += out[n].eq(byte_param(raw_row[n * 8 : n * 8 + 8], is_signed) - zp9)
    return out


class GemmEngine(wiring.Component):
    """Executes GEMM instructions (already validated by dispatch); `done` pulses once per GEMM, in order."""

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        self.sp_aw = sp_addr_bits(config)
        self.acc_aw = acc_addr_bits(config)
        self.array_latency = array_latency(dim)
        #: Cycles a buffer stays busy after the streamer emitted a row that selects it. That row enters the array
        #: 2 cycles after emission and is in PE(dim-1, dim-1) 2*dim-2 cycles later; a load started when the
        #: counter reaches 0 shifts for the first time 3 cycles after starting: 2*dim - 4 is the exact bound
        #: (docs/rtl_compute.md, "Weight double buffering").
        self.drain_cycles = 2 * dim - 4
        super().__init__({
            "i_valid": In(1),
            "i_instr": In(INSTR_BITS),
            "i_ready": Out(1),
            "sp_rd_a": sp_read(config),
            "sp_rd_b": sp_read(config),
            "acc_rd": acc_read(config),
            "acc_wr": acc_write(config),
            "done": Out(1),
            "idle": Out(1),
            "array_row": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        dim = self.config.dim
        layout = instr_layout(Opcode.GEMM)
        array = m.submodules.array = SystolicArray(dim)

        # ------------------------------------------------------------------ slot and weight loader
        slot_valid = Signal()
        slot = Signal(layout)
        slot_loaded = Signal()  # the slot's tile is in its buffer (or it needs none)
        slot_sel = Signal()  # the buffer the slot's GEMM streams with
        last_buf = Signal()  # buffer of the most recent preload, in instruction order
        drain = [Signal(range(self.drain_cycles + 1), name=f"drain{b}") for b in range(2)]
        loading = Signal()
        load_left = Signal(range(dim))
        load_row = Signal(16)

        take = Signal()  # the streamer takes the slot's GEMM this cycle
        m.d.comb += self.i_ready.eq(~slot_valid | take)  # refilled in the cycle it empties: 1-row GEMMs chain
        incoming = data.View(layout, self.i_instr)
        with m.If(self.i_valid & self.i_ready):
            m.d.sync += [slot_valid.eq(1), slot.eq(self.i_instr), slot_loaded.eq(~incoming.preload)]
            m.d.sync += slot_sel.eq(last_buf)  # kept unless the GEMM preloads
        with m.Elif(take):
            m.d.sync += slot_valid.eq(0)

        target = ~last_buf
        start_load = slot_valid & slot.preload & ~slot_loaded & ~loading & (Mux(target, drain[1], drain[0]) == 0)
        with m.If(start_load):
            m.d.sync += [
                loading.eq(1),
                load_left.eq(dim - 1),
                load_row.eq(slot.w_row + (dim - 1)),
                slot_sel.eq(target),
                last_buf.eq(target),
            ]
        with m.If(loading):
            m.d.comb += [self.sp_rd_b.en.eq(1), self.sp_rd_b.addr.eq(load_row)]
            m.d.sync += [load_row.eq(load_row - 1), load_left.eq(load_left - 1)]
            with m.If(load_left == 0):
                m.d.sync += [loading.eq(0), slot_loaded.eq(1)]
        # read data -> zero-point subtract (registered) -> shift into the array's idle buffer
        load_d1 = Signal()
        load_d2 = Signal()
        load_buf1 = Signal()
        load_buf2 = Signal()
        w_zp1 = Signal(8)
        w_signed1 = Signal()
        m.d.sync += [load_d1.eq(loading), load_d2.eq(load_d1), load_buf1.eq(slot_sel), load_buf2.eq(load_buf1)]
        m.d.sync += [w_zp1.eq(slot.w_zp), w_signed1.eq(slot.w_signed)]
        w_row = zero_point_subtract(m, self.sp_rd_b.data, w_zp1, w_signed1, dim, "w_operand")
        m.d.comb += [
            array.wload_en.eq(load_d2),
            array.wload_buf.eq(load_buf2),
            array.wload_data.eq(w_row),
        ]

        # ------------------------------------------------------------------ streamer
        walk = m.submodules.walk = StridedWalk()
        streaming = Signal()
        acc_ptr = Signal(16)
        s_sel = Signal()
        s_acc = Signal()
        s_zp = Signal(8)
        s_signed = Signal()
        emit_last = streaming & walk.last
        m.d.comb += take.eq(slot_valid & slot_loaded & ~loading & (~streaming | walk.last))
        m.d.comb += [
            walk.load.eq(take),
            walk.step.eq(streaming),
            walk.base.eq(slot.a_base),
            walk.xstride.eq(slot.a_xstride),
            walk.ystride.eq(slot.a_ystride),
            walk.x_size.eq(slot.x_size),
            walk.y_size.eq(slot.y_size),
        ]
        with m.If(take):
            m.d.sync += [
                streaming.eq(1),
                acc_ptr.eq(slot.acc_base),
                s_sel.eq(slot_sel),
                s_acc.eq(slot.accumulate),
                s_zp.eq(slot.a_zp),
                s_signed.eq(slot.a_signed),
            ]
        with m.Elif(emit_last):
            m.d.sync += streaming.eq(0)
        with m.If(streaming & ~take):
            m.d.sync += acc_ptr.eq(acc_ptr + 1)
        m.d.comb += [
            self.sp_rd_a.en.eq(streaming),
            self.sp_rd_a.addr.eq(walk.addr),
            self.array_row.eq(streaming),
        ]
        for b in range(2):
            with m.If(streaming & (s_sel == b)):
                m.d.sync += drain[b].eq(self.drain_cycles)
            with m.Elif(drain[b] != 0):
                m.d.sync += drain[b].eq(drain[b] - 1)

        # ------------------------------------------------------------------ operand pipeline into the array
        meta_layout = data.StructLayout({
            "valid": 1, "sel": 1, "accumulate": 1, "last": 1, "acc_addr": self.acc_aw,
        })
        meta1 = Signal(meta_layout)
        zp1 = Signal(8)
        signed1 = Signal()
        m.d.sync += [
            meta1.valid.eq(streaming),
            meta1.sel.eq(s_sel),
            meta1.accumulate.eq(s_acc),
            meta1.last.eq(emit_last),
            meta1.acc_addr.eq(acc_ptr),
            zp1.eq(s_zp),
            signed1.eq(s_signed),
        ]
        a_row = zero_point_subtract(m, self.sp_rd_a.data, zp1, signed1, dim, "a_operand")
        meta2 = Signal(meta_layout)
        m.d.sync += meta2.eq(meta1)
        m.d.comb += [array.a.eq(a_row), array.sel.eq(meta2.sel)]

        # metadata waits alongside the array; the ACC read is issued one cycle before the row leaves it
        meta = meta2
        for stage in range(self.array_latency - 1):
            nxt = Signal(meta_layout, name=f"meta_d{stage}")
            m.d.sync += nxt.eq(meta)
            meta = nxt
        m.d.comb += [self.acc_rd.en.eq(meta.valid), self.acc_rd.addr.eq(meta.acc_addr)]
        meta_out = Signal(meta_layout)
        m.d.sync += meta_out.eq(meta)

        # ------------------------------------------------------------------ accumulate and write back
        wr = Signal(meta_layout)  # being written this cycle
        wr_data = Signal(acc_row_layout(dim))
        prev = Signal(meta_layout)  # written last cycle: the ACC read for meta_out could not see it
        prev_data = Signal(acc_row_layout(dim))
        acc_in = self.acc_rd.data
        base = Signal(acc_row_layout(dim))
        with m.If(~meta_out.accumulate):
            m.d.comb += base.eq(0)
        with m.Elif(wr.valid & (wr.acc_addr == meta_out.acc_addr)):
            m.d.comb += base.eq(wr_data)
        with m.Elif(prev.valid & (prev.acc_addr == meta_out.acc_addr)):
            m.d.comb += base.eq(prev_data)
        with m.Else():
            m.d.comb += base.eq(acc_in)
        for n in range(dim):
            m.d.sync += wr_data[n].eq((base[n] + array.out[n])[:32])
        m.d.sync += [wr.eq(meta_out), prev.eq(wr), prev_data.eq(wr_data)]
        m.d.comb += [
            self.acc_wr.en.eq(wr.valid),
            self.acc_wr.addr.eq(wr.acc_addr),
            self.acc_wr.data.eq(wr_data),
        ]
        # done one cycle after the last write, when it is certainly visible to every other port
        m.d.sync += self.done.eq(wr.valid & wr.last)

        # ------------------------------------------------------------------ idle tracking
        in_flight = Signal(range(self.array_latency + 8))
        row_in = streaming
        row_out = wr.valid
        m.d.sync += in_flight.eq(in_flight + row_in - row_out)
        m.d.comb += self.idle.eq(~slot_valid & ~loading & ~streaming & (in_flight == 0) & ~self.done)
        return m
