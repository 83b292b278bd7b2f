"""Vector engine: REQUANT, VECTOR (add/mul/max/min/lut) and POOL, one row (or window tap) per cycle.

One instruction at a time, in three phases (docs/rtl_compute.md, "Vector engine"):

1. **params**: the per-lane multiplier/shift rows (`param_row + 0..K-1`, K = 6 for ADD, 0 for LUT, else 2) are
   read through the ACC read port into registers, one row per cycle.
2. **stream**: a strided walk issues one read per cycle: an ACC row (REQUANT), an A and a B row through the two
   SP read ports (VECTOR), or one window tap (POOL: the window walk nested in the output walk).
3. **drain**: results flow through a fixed-latency pipeline; the SP write of the last output row ends the
   instruction. Outputs always go to consecutive rows (`sp_base + i` / `out_base + y*x_size + x`), so the write
   side needs only a counter, not per-row addresses.

Pipeline per lane: E1 zero-point subtraction (and the LUT read), E2 the operation (mul/max/min, the ADD
pre-shift, the POOL running max/sum, the LUT lane select), then for ADD two MBQM rescales and a wrap32 sum, then
the output requantization shared by every operation except LUT.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig, Opcode, PoolOp, VectorOp, fields_of
from nux.rtl.compute_gemm import acc_row_layout
from nux.rtl.compute_walk import StridedWalk
from nux.rtl.isa_layout import INSTR_BITS, instr_layout
from nux.rtl.mem_ports import acc_addr_bits, acc_read, sp_addr_bits, sp_read, sp_write
from nux.rtl.requant import MbqmRow, RequantRow, byte_param

OPERAND = signed(9)
PARAM_ROWS = 6  # ADD uses rows param_row+0..5 (m0, s0, m2, s2, m4, s4)
#: Read ports per copy of the LUT (each lane reads its own byte, so dim lanes need dim read ports). Yosys'
#: memory_libmap search grows with the port count and crashes ("thrown Wasm exception") on 16 read ports of one
#: memory; 8 map to LUTRAM in seconds. Copies written together hold the same table.
LUT_LANES_PER_COPY = 8
#: Fields the engine reads through one view because they sit at the same bits in several formats.
SHARED_FIELDS = {
    ("out_zp", "clamp_lo", "clamp_hi", "param_row"): (Opcode.REQUANT, Opcode.VECTOR, Opcode.POOL),
    ("a_base", "x_size", "y_size", "a_xstride", "a_ystride", "a_signed", "a_zp", "out_signed"): (
        Opcode.VECTOR, Opcode.POOL),
}


def _check_shared_fields() -> None:
    """Fail at import if the ISA table moved a field this engine reads through a shared view."""
    for names, opcodes in SHARED_FIELDS.items():
        for name in names:
            spots = {(f.word, f.lsb, f.width) for op in opcodes for f in fields_of(op) if f.name == name}
            if len(spots) != 1:
                raise AssertionError(f"field {name} differs between {opcodes}; update compute_vector.py")


_check_shared_fields()


def lut_write_layout(dim: int) -> data.StructLayout:
    """What the load unit drives to write one LUT row (`256/dim` rows of dim bytes)."""
    return data.StructLayout({"addr": (256 // dim - 1).bit_length(), "data": dim * 8, "en": 1})


class LaneLut(wiring.Component):
    """The LUT: 256/dim rows of dim bytes, written by the load unit, one synchronous row read per lane per cycle.

    Held as ceil(dim / LUT_LANES_PER_COPY) copies written together, each with the read ports of its lanes.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.rows = 256 // dim
        super().__init__({
            "wr": In(lut_write_layout(dim)),
            "addr": In(data.ArrayLayout((self.rows - 1).bit_length(), dim)),
            "data": Out(data.ArrayLayout(dim * 8, dim)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        for copy in range(-(-self.dim // LUT_LANES_PER_COPY)):
            mem = m.submodules[f"copy{copy}"] = Memory(shape=self.dim * 8, depth=self.rows, init=[])
            wp = mem.write_port()
            m.d.comb += [wp.en.eq(self.wr.en), wp.addr.eq(self.wr.addr), wp.data.eq(self.wr.data)]
            for n in range(copy * LUT_LANES_PER_COPY, min(self.dim, (copy + 1) * LUT_LANES_PER_COPY)):
                rd = mem.read_port()
                m.d.comb += [rd.addr.eq(self.addr[n]), self.data[n].eq(rd.data)]
        return m


class VectorEngine(wiring.Component):
    """Executes REQUANT, VECTOR and POOL (validated by dispatch); `done` pulses once per instruction."""

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        self.sp_aw = sp_addr_bits(config)
        self.acc_aw = acc_addr_bits(config)
        super().__init__({
            "i_valid": In(1),
            "i_instr": In(INSTR_BITS),
            "i_ready": Out(1),
            "sp_rd_a": sp_read(config),
            "sp_rd_b": sp_read(config),
            "acc_rd": acc_read(config),
            "sp_wr": sp_write(config),
            "lut_wr": In(lut_write_layout(dim)),
            "done": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        dim = self.config.dim
        lanes = range(dim)
        ins = Signal(INSTR_BITS)
        req = data.View(instr_layout(Opcode.REQUANT), ins)
        vec = data.View(instr_layout(Opcode.VECTOR), ins)
        pool = data.View(instr_layout(Opcode.POOL), ins)

        # ------------------------------------------------------------------ decoded instruction (registered)
        is_req = Signal()
        is_vec = Signal()
        is_pool = Signal()
        op_add = Signal()
        op_mul = Signal()
        op_max = Signal()  # VECTOR max or POOL max
        op_min = Signal()
        op_lut = Signal()
        n_params = Signal(range(PARAM_ROWS + 1))
        incoming = data.View(instr_layout(Opcode.VECTOR), self.i_instr)
        incoming_pool = data.View(instr_layout(Opcode.POOL), self.i_instr)
        in_op = incoming.opcode
        in_vec = in_op == Opcode.VECTOR
        in_pool = in_op == Opcode.POOL

        idle = Signal(init=1)
        params = Signal()
        streaming = Signal()
        m.d.comb += [self.i_ready.eq(idle), self.idle.eq(idle)]
        param_left = Signal(range(PARAM_ROWS + 1))
        param_addr = Signal(16)

        start = self.i_valid & idle
        with m.If(start):
            lut = in_vec & (incoming.vop == VectorOp.LUT)
            add = in_vec & (incoming.vop == VectorOp.ADD)
            count = Mux(lut, 0, Mux(add, PARAM_ROWS, 2))
            m.d.sync += [
                ins.eq(self.i_instr),
                is_req.eq(in_op == Opcode.REQUANT),
                is_vec.eq(in_vec),
                is_pool.eq(in_pool),
                op_add.eq(add),
                op_mul.eq(in_vec & (incoming.vop == VectorOp.MUL)),
                op_max.eq((in_vec & (incoming.vop == VectorOp.MAX)) | (in_pool & (incoming_pool.pop == PoolOp.MAX))),
                op_min.eq(in_vec & (incoming.vop == VectorOp.MIN)),
                op_lut.eq(lut),
                n_params.eq(count),
                param_left.eq(count),
                param_addr.eq(incoming.param_row),
                idle.eq(0),
                params.eq(1),
            ]

        # ------------------------------------------------------------------ walks
        outer = m.submodules.outer = StridedWalk()  # REQUANT rows / VECTOR A / POOL window origin
        walk_b = m.submodules.walk_b = StridedWalk()  # VECTOR B
        taps = m.submodules.taps = StridedWalk()  # POOL window taps (offsets from the origin)
        begin_stream = params & (param_left == 0)
        m.d.comb += [
            outer.load.eq(begin_stream),
            walk_b.load.eq(begin_stream),
            taps.load.eq(begin_stream | (streaming & taps.last)),
            outer.base.eq(Mux(is_req, req.acc_base, vec.a_base)),  # VECTOR.a_base == POOL.a_base
            outer.xstride.eq(Mux(is_req, 1, vec.a_xstride)),
            outer.ystride.eq(vec.a_ystride),
            outer.x_size.eq(Mux(is_req, req.n_rows, vec.x_size)),
            outer.y_size.eq(Mux(is_req, 1, vec.y_size)),
            walk_b.base.eq(vec.b_base),
            walk_b.xstride.eq(vec.b_xstride),
            walk_b.ystride.eq(vec.b_ystride),
            walk_b.x_size.eq(vec.x_size),
            walk_b.y_size.eq(vec.y_size),
            taps.base.eq(0),
            taps.xstride.eq(Mux(is_pool, pool.win_xstride, 0)),
            taps.ystride.eq(Mux(is_pool, pool.win_ystride, 0)),
            taps.x_size.eq(Mux(is_pool, pool.win_x, 1)),
            taps.y_size.eq(Mux(is_pool, pool.win_y, 1)),
        ]

        first_tap = Signal()
        stream_last = streaming & outer.last & taps.last
        with m.If(begin_stream):
            m.d.sync += [params.eq(0), streaming.eq(1), first_tap.eq(1)]
        with m.If(streaming):
            m.d.comb += [taps.step.eq(1), outer.step.eq(taps.last), walk_b.step.eq(taps.last)]
            m.d.sync += first_tap.eq(taps.last)
            with m.If(stream_last):
                m.d.sync += streaming.eq(0)

        # ------------------------------------------------------------------ memory reads
        param_regs = [Signal(acc_row_layout(dim), name=f"param{k}") for k in range(PARAM_ROWS)]
        with m.If(params & (param_left != 0)):
            m.d.comb += [self.acc_rd.en.eq(1), self.acc_rd.addr.eq(param_addr)]
            m.d.sync += [param_addr.eq(param_addr + 1), param_left.eq(param_left - 1)]
        param_index = Signal(range(PARAM_ROWS))
        param_valid = Signal()
        m.d.sync += [param_valid.eq(params & (param_left != 0)), param_index.eq(n_params - param_left)]
        for k in range(PARAM_ROWS):
            with m.If(param_valid & (param_index == k)):
                m.d.sync += param_regs[k].eq(self.acc_rd.data)
        with m.If(streaming):
            m.d.comb += [
                self.acc_rd.en.eq(is_req),
                self.acc_rd.addr.eq(outer.addr),
                self.sp_rd_a.en.eq(~is_req),
                self.sp_rd_a.addr.eq(outer.addr + taps.addr),
                self.sp_rd_b.en.eq(is_vec),
                self.sp_rd_b.addr.eq(walk_b.addr),
            ]

        # ------------------------------------------------------------------ LUT storage: 256/dim rows of dim bytes
        lut = m.submodules.lut = LaneLut(dim)
        m.d.comb += lut.wr.eq(self.lut_wr)
        lane_bits = (dim - 1).bit_length()

        # ------------------------------------------------------------------ E1: operands arrive, zero points
        tag = data.StructLayout({"valid": 1, "first": 1, "emit": 1, "last": 1})
        t1 = Signal(tag)
        m.d.sync += [
            t1.valid.eq(streaming),
            t1.first.eq(first_tap),
            t1.emit.eq(taps.last),
            t1.last.eq(stream_last),
        ]
        a_signed = vec.a_signed  # same bit in POOL
        a_zp = byte_param(vec.a_zp, a_signed)
        b_zp = byte_param(vec.b_zp, vec.b_signed)
        t2 = Signal(tag)
        a2 = Signal(data.ArrayLayout(OPERAND, dim))
        b2 = Signal(data.ArrayLayout(OPERAND, dim))
        x2 = Signal(acc_row_layout(dim))
        lane2 = Signal(data.ArrayLayout(lane_bits if lane_bits else 1, dim))
        m.d.sync += [t2.eq(t1), x2.eq(self.acc_rd.data)]
        for n in lanes:
            raw_a = self.sp_rd_a.data[8 * n : 8 * n + 8]
            raw_b = self.sp_rd_b.data[8 * n : 8 * n + 8]
            m.d.sync += [
                a2[n].eq(byte_param(raw_a, a_signed) - a_zp),
                b2[n].eq(byte_param(raw_b, vec.b_signed) - b_zp),
                lane2[n].eq(raw_a[:lane_bits] if lane_bits else 0),
            ]
            m.d.comb += lut.addr[n].eq(raw_a[lane_bits:])

        # ------------------------------------------------------------------ E2: the operation
        t3 = Signal(tag)
        x3 = Signal(acc_row_layout(dim))
        bx3 = Signal(acc_row_layout(dim))
        # MUL's product gets a register of its own: the multiplier (a DSP slice) then drives one register with
        # no operation mux behind it, a path that fits 4 ns; the mux moves behind the register (requant input).
        prod3 = Signal(acc_row_layout(dim))
        lut3 = Signal(data.ArrayLayout(8, dim))
        m.d.sync += [
            t3.valid.eq(t2.valid & t2.emit),
            t3.last.eq(t2.last),
        ]
        shift = vec.add_shift
        for n in lanes:
            a, b = a2[n], b2[n]
            pooled = Mux(op_max, Mux(a > x3[n], a, x3[n]), (x3[n] + a)[:32])
            with m.If(is_pool):
                with m.If(t2.valid):
                    m.d.sync += x3[n].eq(Mux(t2.first, a, pooled))
            with m.Elif(is_req):
                m.d.sync += x3[n].eq(x2[n])
            with m.Elif(op_add):
                m.d.sync += [x3[n].eq((a << shift)[:32]), bx3[n].eq((b << shift)[:32])]
            with m.Elif(op_max):
                m.d.sync += x3[n].eq(Mux(a > b, a, b))
            with m.Elif(op_min):
                m.d.sync += x3[n].eq(Mux(a < b, a, b))
            m.d.sync += prod3[n].eq(a * b)
            row = lut.data[n]
            m.d.sync += lut3[n].eq(row.word_select(lane2[n], 8) if lane_bits else row)

        # ------------------------------------------------------------------ ADD rescale (two MBQMs and a sum)
        mb_a = m.submodules.mbqm_a = MbqmRow(dim, tag_width=1)
        mb_b = m.submodules.mbqm_b = MbqmRow(dim)
        m.d.comb += [
            mb_a.i_valid.eq(t3.valid & op_add),
            mb_a.i_tag.eq(t3.last),
            mb_a.i_x.eq(x3),
            mb_a.i_m.eq(param_regs[2]),
            mb_a.i_s.eq(param_regs[3]),
            mb_b.i_x.eq(bx3),
            mb_b.i_m.eq(param_regs[4]),
            mb_b.i_s.eq(param_regs[5]),
        ]
        sum_valid = Signal()
        sum_last = Signal()
        sum_x = Signal(acc_row_layout(dim))
        m.d.sync += [sum_valid.eq(mb_a.o_valid), sum_last.eq(mb_a.o_tag)]
        for n in lanes:
            m.d.sync += sum_x[n].eq((mb_a.o_y[n] + mb_b.o_y[n])[:32])

        # ------------------------------------------------------------------ output requantization
        out_signed = Mux(is_req, req.out_signed, vec.out_signed)  # VECTOR.out_signed == POOL.out_signed
        rq = m.submodules.requant = RequantRow(dim, tag_width=1)
        m.d.comb += [
            rq.i_valid.eq(Mux(op_add, sum_valid, t3.valid & ~op_lut)),
            rq.i_tag.eq(Mux(op_add, sum_last, t3.last)),
            rq.i_x.eq(Mux(op_add, sum_x, Mux(op_mul, prod3, x3))),
            rq.i_m.eq(param_regs[0]),
            rq.i_s.eq(param_regs[1]),
            rq.i_zp.eq(byte_param(req.out_zp, out_signed)),
            rq.i_lo.eq(byte_param(req.clamp_lo, out_signed)),
            rq.i_hi.eq(byte_param(req.clamp_hi, out_signed)),
        ]

        # ------------------------------------------------------------------ SP write of consecutive rows
        write = Mux(op_lut, t3.valid, rq.o_valid)
        write_last = Mux(op_lut, t3.last, rq.o_tag[0])
        out_row = Signal(16)
        with m.If(begin_stream):
            m.d.sync += out_row.eq(Mux(is_req, req.sp_base, Mux(is_vec, vec.out_base, pool.out_base)))
        with m.Elif(write):
            m.d.sync += out_row.eq(out_row + 1)
        m.d.comb += [
            self.sp_wr.en.eq(write),
            self.sp_wr.addr.eq(out_row),
            self.sp_wr.data.eq(Mux(op_lut, lut3, rq.o_y)),
        ]
        # done one cycle after the last write; the engine is idle again from that cycle
        m.d.sync += self.done.eq(write & write_last)
        with m.If(write & write_last):
            m.d.sync += idle.eq(1)
        return m
