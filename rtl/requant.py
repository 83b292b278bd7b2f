"""Pipelined requantization: TFLite's MultiplyByQuantizedMultiplier (MBQM), output zero point and clamp.

docs/isa.md section 4 "Requantization" is the spec and `nux.golden.requant` the reference; every stage below
follows those formulas literally so that the result is bit-exact, including the int32 wrap of `x << ls`, the
saturating INT32_MIN * INT32_MIN case and C's truncating division.

Why the pipeline looks like this: the unit runs at the target clock (~250 MHz on an FPGA) once per lane, so no
stage holds more than one wide operation. The 32x32 product is split into two 32x16 partial products (each maps
onto DSP slices) that are summed in the next stage. Parameters (multiplier, shift, zero point, clamps) travel
down the pipeline with their sample, so a caller may change them every cycle; inside the compute unit they are
per-instruction constants, and carrying them costs ~60 flops per lane, which buys a unit with no hidden
"hold your inputs stable" rule.

    MbqmLane     one lane of MBQM, LATENCY cycles from input to registered output
    MbqmRow      `lanes` MbqmLanes sharing a valid bit and a pass-through tag
    RequantRow   MbqmRow + `clamp(out_zp + y, lo, hi)` to a byte per lane
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.rtl.rowops import SrdhmPipe

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
SHIFT_MIN = -31
SHIFT_MAX = 30

#: Bits of a sign-interpreted byte parameter (out_zp, clamp_lo, clamp_hi): -128..255 needs 10 bits signed.
BYTE_PARAM = signed(10)


def byte_param(raw: Value, is_signed: Value) -> Value:
    """A raw 8-bit field read as int8 (is_signed) or uint8: a signed(9) value in -128..255."""
    return Mux(is_signed, raw[:8].as_signed(), raw[:8].as_unsigned())


class MbqmLane(wiring.Component):
    """One lane of MBQM(x, m, s); the result appears LATENCY cycles after the inputs, every cycle.

    Stages (register at the end of each):
      1. clamp s to [-31, 30], split into left shift ls and right shift rs
      2. x' = wrap32(x << ls)
      3-5. SRDHM(x', m): `SrdhmPipe` (operands, four partial products, their sum with the nudge, saturated)
      6. RoundingDivideByPOT by rs: shift, remainder and threshold
      7. the rounding compare
      8. the rounding increment
    """

    LATENCY = 2 + SrdhmPipe.LATENCY + 3

    x: In(signed(32))
    m: In(signed(32))
    s: In(signed(32))
    y: Out(signed(32))

    def elaborate(self, platform) -> Module:
        m = Module()
        # 1: shift split
        x1 = Signal(signed(32))
        m1 = Signal(signed(32))
        ls1 = Signal(range(32))
        rs1 = Signal(range(32))
        m.d.sync += [x1.eq(self.x), m1.eq(self.m)]
        with m.If(self.s > SHIFT_MAX):
            m.d.sync += [ls1.eq(SHIFT_MAX), rs1.eq(0)]
        with m.Elif(self.s >= 0):
            m.d.sync += [ls1.eq(self.s[:5]), rs1.eq(0)]
        with m.Elif(self.s < SHIFT_MIN):
            m.d.sync += [ls1.eq(0), rs1.eq(-SHIFT_MIN)]
        with m.Else():
            m.d.sync += [ls1.eq(0), rs1.eq((-self.s)[:5])]

        # 2: x' = wrap32(x << ls)
        x2 = Signal(signed(32))
        m2 = Signal(signed(32))
        rs2 = Signal(range(32))
        m.d.sync += [x2.eq((x1 << ls1)[:32].as_signed()), m2.eq(m1), rs2.eq(rs1)]

        # 3-5: SRDHM(x', m) in the shared 3-stage pipe (four 17x17 DSP products, then one sum: rtl/rowops.py);
        # rs rides along as its tag
        srdhm = m.submodules.srdhm = SrdhmPipe(tag_width=5)
        m.d.comb += [srdhm.valid.eq(1), srdhm.a.eq(x2), srdhm.b.eq(m2), srdhm.tag.eq(rs2)]
        q, rs6 = srdhm.y, srdhm.o_tag

        # 6-8: RoundingDivideByPOT(q, rs), ties away from zero, over three stages so that the barrel shift, the
        # 32-bit compare and the 32-bit increment each get a clock of their own (together 5.3-5.55 ns at dim 8)
        mask = Signal(unsigned(32))
        m.d.comb += mask.eq((Const(1, unsigned(33)) << rs6) - 1)
        shifted7 = Signal(signed(32))
        remainder7 = Signal(unsigned(32))
        threshold7 = Signal(unsigned(33))
        m.d.sync += [shifted7.eq(q >> rs6), remainder7.eq(q.as_unsigned() & mask),
                     threshold7.eq((mask >> 1) + q[31])]
        shifted8 = Signal(signed(32))
        up8 = Signal()
        m.d.sync += [shifted8.eq(shifted7), up8.eq(remainder7 > threshold7)]
        m.d.sync += self.y.eq((shifted8 + up8)[:32].as_signed())
        return m


def _lanes(shape, lanes: int) -> data.ArrayLayout:
    return data.ArrayLayout(shape, lanes)


class MbqmRow(wiring.Component):
    """`lanes` parallel MBQM lanes with a shared valid bit and a `tag` carried alongside (LATENCY cycles)."""

    def __init__(self, lanes: int, tag_width: int = 0):
        self.lanes = lanes
        self.tag_width = tag_width
        self.LATENCY = MbqmLane.LATENCY
        super().__init__({
            "i_valid": In(1),
            "i_tag": In(tag_width),
            "i_x": In(_lanes(signed(32), lanes)),
            "i_m": In(_lanes(signed(32), lanes)),
            "i_s": In(_lanes(signed(32), lanes)),
            "o_valid": Out(1),
            "o_tag": Out(tag_width),
            "o_y": Out(_lanes(signed(32), lanes)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        for n in range(self.lanes):
            lane = m.submodules[f"lane{n}"] = MbqmLane()
            m.d.comb += [
                lane.x.eq(self.i_x[n]),
                lane.m.eq(self.i_m[n]),
                lane.s.eq(self.i_s[n]),
                self.o_y[n].eq(lane.y),
            ]
        valid, tag = self.i_valid, self.i_tag
        for stage in range(self.LATENCY):
            nv = Signal(name=f"valid{stage + 1}")
            nt = Signal(self.tag_width, name=f"tag{stage + 1}")
            m.d.sync += [nv.eq(valid), nt.eq(tag)]
            valid, tag = nv, nt
        m.d.comb += [self.o_valid.eq(valid), self.o_tag.eq(tag)]
        return m


class RequantRow(wiring.Component):
    """Per lane `clamp(out_zp + MBQM(x, m, s), lo, hi)` as a byte (int8 or uint8 bit pattern); LATENCY cycles.

    out_zp, lo and hi are sign-interpreted byte values (-128..255, see `byte_param`) shared by all lanes; they
    ride in the MBQM tag so they stay matched with their sample.
    """

    def __init__(self, lanes: int, tag_width: int = 0):
        self.lanes = lanes
        self.tag_width = tag_width
        self.LATENCY = MbqmLane.LATENCY + 2
        super().__init__({
            "i_valid": In(1),
            "i_tag": In(tag_width),
            "i_x": In(_lanes(signed(32), lanes)),
            "i_m": In(_lanes(signed(32), lanes)),
            "i_s": In(_lanes(signed(32), lanes)),
            "i_zp": In(BYTE_PARAM),
            "i_lo": In(BYTE_PARAM),
            "i_hi": In(BYTE_PARAM),
            "o_valid": Out(1),
            "o_tag": Out(tag_width),
            "o_y": Out(_lanes(unsigned(8), lanes)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        pw = BYTE_PARAM.width
        mbqm = m.submodules.mbqm = MbqmRow(self.lanes, self.tag_width + 3 * pw)
        m.d.comb += [
            mbqm.i_valid.eq(self.i_valid),
            mbqm.i_tag.eq(Cat(self.i_tag, self.i_zp, self.i_lo, self.i_hi)),
            mbqm.i_x.eq(self.i_x),
            mbqm.i_m.eq(self.i_m),
            mbqm.i_s.eq(self.i_s),
        ]
        tw = self.tag_width
        zp = mbqm.o_tag[tw : tw + pw].as_signed()
        lo = mbqm.o_tag[tw + pw : tw + 2 * pw].as_signed()
        hi = mbqm.o_tag[tw + 2 * pw : tw + 3 * pw].as_signed()
        # two stages: the zero-point add, then both clamp compares side by side (add, compare, compare in one
        # cycle chained three carry chains: 5.10 ns at dim 8)
        lo1, hi1 = Signal(signed(pw), name="lo1"), Signal(signed(pw), name="hi1")
        inverted1 = Signal(name="inverted1")  # lo > hi: every output is hi
        valid1, tag1 = Signal(name="valid1"), Signal(max(tw, 1), name="tag1")
        m.d.sync += [lo1.eq(lo), hi1.eq(hi), inverted1.eq(lo > hi), valid1.eq(mbqm.o_valid),
                     tag1.eq(mbqm.o_tag[:tw])]
        for n in range(self.lanes):
            v = Signal(signed(34), name=f"biased{n}")
            m.d.sync += v.eq(mbqm.o_y[n] + zp)
            # clamp(v, lo, hi) = min(max(v, lo), hi), like np.clip (hi wins when lo > hi)
            m.d.sync += self.o_y[n].eq(Mux(inverted1 | (v > hi1), hi1, Mux(v < lo1, lo1, v))[:8])
        m.d.sync += [self.o_valid.eq(valid1), self.o_tag.eq(tag1[:tw])]
        return m
