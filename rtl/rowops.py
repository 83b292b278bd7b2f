"""Per-row multipliers for REDUCE's `post` stage: RECIP (a divider) and RSQRT (Newton-Raphson), one shared unit.

docs/isa.md ("REDUCE") is the spec and `nux.golden.rowops` the reference; both results must be bit-exact, so
each step below follows the integer algorithm literally.

    SrdhmPipe    SaturatingRoundingDoublingHighMul, pipelined (LATENCY cycles), one result per cycle
    RowOpsUnit   one `(m, s) = RECIP(r, P) | RSQRT(r, P)` at a time; a few dozen cycles each

Why this shape: REDUCE needs one multiplier pair per *group* (a softmax row, a vector to normalise), not per
element, so a small sequential unit shared by all groups is enough; the reduce engine overlaps it with the next
group's row stream. The unit holds exactly one 32x32 multiplier, split into four 17x17 partial products so each
is one DSP48E2 and every stage stays under 4 ns at 250 MHz (docs/rtl_rowunit.md has the timing).

* RECIP is a radix-2 restoring divider: `m = (2^(30+p) + r//2) // r` with `p = bit_length(r) - 1`. The
  numerator needs no adder: `2^(30+p)` is r's top bit moved up 30 places and `r//2 < 2^30`, so it is a
  concatenation. Exact by construction, 31 cycles, no multiplier.
* RSQRT is TFLite's GetInvSqrtQuantizedMultiplierExp (gemmlowp fixed point): normalise r into [2^27, 2^29)
  by an even shift, then five Newton steps of four SRDHMs each. Three of the four are a dependent chain
  (x*x, *x, *half) and the fourth (1.5*x) runs in their shadow, so a step costs 3*LATENCY + 1 cycles.

SRDHM without a divider: `trunc((a*b + nudge) / 2^31)` equals `floor((a*b + 2^30) / 2^31)` for every pair
except INT32_MIN^2 (saturated). For a*b >= 0 that is the definition; for a*b < 0 the nudge is 1 - 2^30 and
truncation toward zero is floor after adding 2^31 - 1, which sums to the same 2^30. So the quotient is a plain
bit slice of `a*b + 2^30`.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
ONE_AND_HALF_F3 = 3 << 27  # 1.5 in gemmlowp F3 (3 integer bits)
ONE_F3 = 1 << 28
HALF_SQRT2_F0 = 1518500250  # sqrt(2)/2 in F0
NEWTON_STEPS = 5


class Post(enum.IntEnum):
    """`post` values the unit accepts (the numbering of nux.isa.ReducePost)."""

    RECIP = 1
    RSQRT = 2


class SrdhmPipe(wiring.Component):
    """`y = SRDHM(a, b)`, LATENCY cycles after `valid`; a new pair every cycle; `tag` rides along.

    Stages: (1) register the operands (they arrive through the caller's mux); (2) four 17x17 partial products,
    one DSP48E2 each, and the INT32_MIN^2 flag; (3) `hh*2^32 + ll + 2^30 + (hl + lh)*2^16`, whose bits
    [31, 63) are the quotient (see the module docstring), saturated for INT32_MIN^2.
    """

    LATENCY = 3

    def __init__(self, tag_width: int = 1):
        self.tag_width = tag_width
        super().__init__({
            "valid": In(1), "tag": In(tag_width), "a": In(signed(32)), "b": In(signed(32)),
            "o_valid": Out(1), "o_tag": Out(tag_width), "y": Out(signed(32)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        a1, b1 = Signal(signed(32)), Signal(signed(32))
        v1, t1 = Signal(), Signal(self.tag_width)
        m.d.sync += [a1.eq(self.a), b1.eq(self.b), v1.eq(self.valid), t1.eq(self.tag)]

        # a = ah*2^16 + al with ah signed, al unsigned: a*b = hh*2^32 + (hl + lh)*2^16 + ll
        hh, hl, lh = Signal(signed(32)), Signal(signed(33)), Signal(signed(33))
        ll = Signal(unsigned(32))
        sat2, v2, t2 = Signal(), Signal(), Signal(self.tag_width)
        ah, al = a1[16:].as_signed(), a1[:16]
        bh, bl = b1[16:].as_signed(), b1[:16]
        m.d.sync += [
            hh.eq(ah * bh), hl.eq(ah * bl), lh.eq(al * bh), ll.eq(al * bl),
            sat2.eq((a1 == INT32_MIN) & (b1 == INT32_MIN)), v2.eq(v1), t2.eq(t1),
        ]

        total = (Cat(ll, hh).as_signed() + (1 << 30) + ((hl + lh) << 16))[:64]
        m.d.sync += [
            self.y.eq(Mux(sat2, INT32_MAX, total[31:63].as_signed())),
            self.o_valid.eq(v2), self.o_tag.eq(t2),
        ]
        return m


def satshl(v, e: int):
    """`clamp(v * 2^e, INT32_MIN, INT32_MAX)` of a signed 32-bit value (gemmlowp's saturating rescale)."""
    top = v[31 - e :]
    fits = (top == 0) | (top == (1 << (e + 1)) - 1)
    return Mux(fits, (v << e)[:32].as_signed(), Mux(v[31], INT32_MIN, INT32_MAX))


def top_bit(v):
    """The highest set bit of `v` as a one-hot (0 if v is 0): a prefix OR from the top, then an edge."""
    smear = Cat(*(v[i:].any() for i in range(len(v))))
    return smear & ~(smear >> 1)


def encode(onehot, values):
    """`values[i]` for the set bit i of `onehot`, as an OR of the one-hot bits (no priority chain, no adder)."""
    width = max(max(values).bit_length(), 1)
    return Cat(*(Cat(*(onehot[i] for i, v in enumerate(values) if v >> b & 1), Const(0, 1)).any()
                 for b in range(width)))


class RowOpsUnit(wiring.Component):
    """One `(m, s)` at a time: `i_valid & i_ready` takes `r`, `post` (RECIP or RSQRT) and `post_shift`;
    `o_valid` pulses (for one cycle) with the result some cycles later (docs/rtl_rowunit.md, "Cycle counts").
    """

    def __init__(self):
        super().__init__({
            "i_valid": In(1), "i_ready": Out(1),
            "i_r": In(signed(32)), "i_post": In(2), "i_shift": In(signed(8)),
            "o_valid": Out(1), "o_m": Out(signed(32)), "o_s": Out(signed(32)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        r = Signal(signed(32))
        shift_p = Signal(signed(8))
        m.d.sync += self.o_valid.eq(0)  # a one-cycle pulse unless a state finishes below
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_ready.eq(1)
                with m.If(self.i_valid):
                    m.d.sync += [r.eq(self.i_r), shift_p.eq(self.i_shift)]
                    with m.If(self.i_post == Post.RSQRT):
                        m.next = "RSQRT"
                    with m.Else():
                        m.next = "RECIP"
            self._recip(m, r, shift_p)
            self._rsqrt(m, r, shift_p)
        return m

    def _finish(self, m: Module, mult, shift) -> None:
        """Present the result (one-cycle pulse) and return to IDLE."""
        m.d.sync += [self.o_valid.eq(1), self.o_m.eq(mult), self.o_s.eq(shift)]
        m.next = "IDLE"

    def _recip(self, m: Module, r: Signal, shift_p: Signal) -> None:
        """RECIP states: top bit of r, then 31 restoring-division steps on `(top << 30) | (r >> 1)`."""
        top = Signal(31)  # 2^p as a one-hot
        numer = Signal(61)  # remaining numerator bits, MSB first
        rem = Signal(32)
        quot = Signal(31)
        step = Signal(range(32))
        p = Signal(range(31))
        with m.State("RECIP"):
            with m.If(r <= 0):
                self._finish(m, 0, 0)
            with m.Else():
                m.d.sync += top.eq(top_bit(r[:31]))
                m.next = "RECIP_LOAD"
        with m.State("RECIP_LOAD"):
            numer_full = Cat(r[1:31], top)  # (2^p << 30) | (r >> 1), 61 bits
            m.d.sync += [rem.eq(numer_full[31:]), numer.eq(numer_full << 30), step.eq(31),
                         p.eq(encode(top, range(31)))]
            m.next = "RECIP_DIV"
        with m.State("RECIP_DIV"):
            trial = Cat(numer[60], rem)  # 33 bits
            diff = trial - r.as_unsigned()
            fits = ~diff[33]
            m.d.sync += [
                rem.eq(Mux(fits, diff[:32], trial[:32])),
                quot.eq(Cat(fits, quot[:30])),
                numer.eq(numer << 1),
                step.eq(step - 1),
            ]
            with m.If(step == 1):
                m.next = "RECIP_OUT"
        with m.State("RECIP_OUT"):
            self._finish(m, quot, shift_p + 1 - p)

    def _rsqrt(self, m: Module, r: Signal, shift_p: Signal) -> None:
        """RSQRT states: normalise, five Newton steps through the shared SRDHM, scale by sqrt(2)/2."""
        mul = m.submodules.srdhm = SrdhmPipe(tag_width=3)
        tags = {"A": 0, "B": 1, "C": 2, "D": 3, "F": 4}  # x*x, (x*x)*x, 1.5*x, half*x^3, x*sqrt(2)/2
        norm = Signal(32)
        shift = Signal(signed(8))
        pairs = Signal(range(16))
        group_top = Signal(15)
        half = Signal(signed(32))
        x = Signal(signed(32))
        c = Signal(signed(32))
        steps_left = Signal(range(NEWTON_STEPS + 1))
        y, got = mul.y, mul.o_valid

        def issue(tag: str, a, b) -> None:
            m.d.comb += [mul.valid.eq(1), mul.tag.eq(tags[tag]), mul.a.eq(a), mul.b.eq(b)]

        def arrived(tag: str):
            return got & (mul.o_tag == tags[tag])

        with m.State("RSQRT"):
            with m.If(r <= 1):
                self._finish(m, INT32_MAX, shift_p)
            with m.Else():
                big = r[29] | r[30]  # r >= 2^29: one division by 4 brings it below (r < 2^31)
                m.d.sync += [norm.eq(Mux(big, r >> 2, r)), shift.eq(Mux(big, 12, 11))]
                m.next = "RSQRT_PAIRS"
        with m.State("RSQRT_PAIRS"):
            # left_shift_bit_pairs = (clz32(norm) - 1) // 2 - 1 = 14 - j for the highest nonzero bit group j of
            # norm (< 2^29), groups {0}, {1, 2}, {3, 4}, ..., {27, 28}
            groups = Cat(norm[0], *(norm[2 * j - 1 : 2 * j + 1].any() for j in range(1, 15)))
            m.d.sync += group_top.eq(top_bit(groups))
            m.next = "RSQRT_ENCODE"
        with m.State("RSQRT_ENCODE"):
            m.d.sync += pairs.eq(encode(group_top, [14 - j for j in range(15)]))
            m.next = "RSQRT_SHIFT"
        with m.State("RSQRT_SHIFT"):
            shifted = (norm << Cat(Const(0, 1), pairs))[:32]
            inp = shifted[1:32]  # F3 raw: norm >> 1
            m.d.sync += [
                shift.eq(shift - pairs),
                half.eq((inp >> 1) + inp[0]),  # RDBPOT(inp, 1), inp >= 0
                x.eq(ONE_F3),
                steps_left.eq(NEWTON_STEPS),
            ]
            m.next = "NEWTON"
        with m.State("NEWTON"):  # one Newton step starts: x*x, then 1.5*x in the next cycle
            issue("A", x, x)
            m.next = "NEWTON_C"
        with m.State("NEWTON_C"):
            issue("C", ONE_AND_HALF_F3, x)
            m.next = "NEWTON_WAIT"
        with m.State("NEWTON_WAIT"):
            with m.If(arrived("A")):
                issue("B", y, x)
            with m.If(arrived("C")):
                m.d.sync += c.eq(y)
            with m.If(arrived("B")):
                issue("D", half, satshl(y, 6))
            with m.If(arrived("D")):
                m.d.sync += [x.eq(satshl((c - y)[:32].as_signed(), 3)), steps_left.eq(steps_left - 1)]
                with m.If(steps_left == 1):
                    m.next = "RSQRT_SCALE"
                with m.Else():
                    m.next = "NEWTON"
        with m.State("RSQRT_SCALE"):
            issue("F", x, HALF_SQRT2_F0)
            m.next = "RSQRT_WAIT"
        with m.State("RSQRT_WAIT"):
            with m.If(arrived("F")):
                left = Mux(shift < 0, -shift, 0)[:2]  # shift >= -2 (11 - 13)
                self._finish(m, (y << left)[:32], shift_p - Mux(shift < 0, 0, shift))
