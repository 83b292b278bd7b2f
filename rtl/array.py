"""Weight-stationary systolic array: dim x dim PEs of 9-bit x 9-bit multiply-accumulate, double-buffered weights.

Geometry (docs/rtl_compute.md has the timing diagram). PE(k, n) holds W[k][n], the weight that multiplies input
lane k for output lane n. A streamed row a[0..dim-1] enters skewed: lane k is delayed k cycles and then moves
right along PE row k, one PE per cycle; partial sums move down each column, so column n's sum leaves the bottom
PE dim-1+n cycles after the row's lane 0 entered, and a deskew delay of dim-1-n cycles realigns all columns.
The row's result `out[n] = sum_k a[k] * W[k][n]` appears LATENCY = 2*dim + 1 cycles after `a` was presented.

Each PE is the register structure of one DSP48E2 MAC (A, B, M and P registers): the operand and the selected
weight are registered, then the 18-bit product, then the sum with the partial sum from above. The product of
the value a PE received at cycle t is added at t+2 to the partial sum the PE above produced from the value *it*
received at t-1 (its P register, valid from t+2): the column still advances one PE per cycle, and the whole
array is just 2 cycles later than with single-cycle PEs (so an FPGA build runs every multiply-add in a DSP
slice with all its pipeline registers: docs/fpga.md).

Double buffering: every PE has two weight registers. Each streamed value carries a one-bit buffer select that
travels with it through the skew, so a tile swap takes effect exactly at the boundary between two rows in every
PE and back-to-back GEMMs need no drain. The idle buffer is loaded by shifting rows down the columns
(`wload_en`: PE(0, n) takes `wload_data[n]`, PE(k, n) takes PE(k-1, n)'s value), so after dim shifts the first row
shifted in sits in PE row dim-1: feed the tile's rows last-first. A column shift chain keeps fan-out at one
PE per driver, which matters more on an FPGA than the dim cycles it takes (they are hidden behind streaming).
The caller must not shift into a buffer while a value that selects it is still inside the array.

Partial sums are kept at their exact width, 18 + log2(dim) bits (a 9x9-bit product needs 18 bits signed), and
sign-extended to int32 only when added to the accumulator.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

OPERAND = signed(9)
PRODUCT_BITS = 18


def psum_shape(dim: int):
    """Exact width of a column sum: dim products of 18 bits."""
    return signed(PRODUCT_BITS + (dim - 1).bit_length())


def array_latency(dim: int) -> int:
    """Cycles from a row at the array's input to its result at the output: skew/hops/deskew + the PE pipeline."""
    return 2 * dim - 1 + PE_EXTRA_LATENCY


#: cycles a PE adds over a single-cycle multiply-add: the DSP48E2's A/B and M registers
PE_EXTRA_LATENCY = 2


class ProcessingElement(wiring.Component):
    """One MAC cell (a DSP48E2 with A/B/M/P registers): psum_out(t+3) = psum_in(t+2) + a_in(t) * W[sel_in(t)].

    a and sel move right one PE per cycle (`a_out` is the A register), psum moves down one PE per cycle.
    """

    def __init__(self, dim: int):
        shape = psum_shape(dim)
        super().__init__({
            "a_in": In(OPERAND),
            "sel_in": In(1),
            "psum_in": In(shape),
            "a_out": Out(OPERAND),
            "sel_out": Out(1),
            "psum_out": Out(shape),
            "wload_en": In(1),
            "wload_buf": In(1),
            "w_in": In(OPERAND),
            "w_out": Out(OPERAND),  # this PE's weight in the buffer being loaded: the shift chain
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        w = [Signal(OPERAND, name="w0"), Signal(OPERAND, name="w1")]
        weight = Signal(OPERAND)
        with m.If(self.sel_in):
            m.d.comb += weight.eq(w[1])
        with m.Else():
            m.d.comb += weight.eq(w[0])
        with m.If(self.wload_buf):
            m.d.comb += self.w_out.eq(w[1])
        with m.Else():
            m.d.comb += self.w_out.eq(w[0])
        with m.If(self.wload_en):
            with m.If(self.wload_buf):
                m.d.sync += w[1].eq(self.w_in)
            with m.Else():
                m.d.sync += w[0].eq(self.w_in)
        b_reg = Signal(OPERAND, reset_less=True)  # DSP B register: the weight selected in the cycle a_in arrives
        product = Signal(signed(PRODUCT_BITS), reset_less=True)  # DSP M register
        m.d.sync += [
            self.a_out.eq(self.a_in),  # DSP A register
            b_reg.eq(weight),
            product.eq(self.a_out * b_reg),
            self.psum_out.eq(self.psum_in + product),  # DSP P register (post-adder)
            self.sel_out.eq(self.sel_in),
        ]
        return m


class SystolicArray(wiring.Component):
    """dim x dim weight-stationary array with skew/deskew; `out` is valid LATENCY cycles after `a`.

    Inputs are taken every cycle (a row of zeros when nothing streams costs nothing but power); the caller
    tracks which output cycles carry real rows.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.LATENCY = array_latency(dim)
        super().__init__({
            "a": In(data.ArrayLayout(OPERAND, dim)),
            "sel": In(1),
            "wload_en": In(1),
            "wload_buf": In(1),
            "wload_data": In(data.ArrayLayout(OPERAND, dim)),
            "out": Out(data.ArrayLayout(psum_shape(dim), dim)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        dim = self.dim
        pes = [[ProcessingElement(dim) for _ in range(dim)] for _ in range(dim)]
        for k in range(dim):
            for n in range(dim):
                m.submodules[f"pe_{k}_{n}"] = pes[k][n]
                pe = pes[k][n]
                m.d.comb += [pe.wload_en.eq(self.wload_en), pe.wload_buf.eq(self.wload_buf)]
                m.d.comb += pe.w_in.eq(self.wload_data[n] if k == 0 else pes[k - 1][n].w_out)
                if k > 0:
                    m.d.comb += pe.psum_in.eq(pes[k - 1][n].psum_out)
                if n > 0:
                    m.d.comb += [pe.a_in.eq(pes[k][n - 1].a_out), pe.sel_in.eq(pes[k][n - 1].sel_out)]
            # input skew: lane k waits k cycles (with its buffer select) before entering PE row k
            a, sel = self.a[k], self.sel
            for stage in range(k):
                na = Signal(OPERAND, name=f"skew_a{k}_{stage}")
                ns = Signal(name=f"skew_sel{k}_{stage}")
                m.d.sync += [na.eq(a), ns.eq(sel)]
                a, sel = na, ns
            m.d.comb += [pes[k][0].a_in.eq(a), pes[k][0].sel_in.eq(sel)]
        # output deskew: column n leaves the bottom at +dim+n; delay it to +2*dim-1
        for n in range(dim):
            value = pes[dim - 1][n].psum_out
            for stage in range(dim - 1 - n):
                nv = Signal(psum_shape(dim), name=f"deskew{n}_{stage}")
                m.d.sync += nv.eq(value)
                value = nv
            m.d.comb += self.out[n].eq(value)
        return m
