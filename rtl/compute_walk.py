"""Two-level strided row walk: the address generator every compute instruction uses.

GEMM A rows, VECTOR A/B rows, POOL window origins and taps, REQUANT rows all visit
`base + y*ystride + x*xstride` for x < x_size (inner), y < y_size (outer). Down-counters make `last` a
compare with zero and the address an add of a stride, so a walk runs at one row per cycle with short paths.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

FIELD_BITS = 16  # row, stride and size fields are 16 bits wide in every compute instruction


class StridedWalk(wiring.Component):
    """`load` starts a walk at `base` (sizes and strides are sampled then); `step` moves to the next row.

    `addr` is the current row, `last` says it is the final one, `x_last` that it ends an x run. Addresses wrap
    at 16 bits, like the instruction fields; dispatch has already checked that every visited row is in range.
    """

    load: In(1)
    step: In(1)
    base: In(FIELD_BITS)
    xstride: In(FIELD_BITS)
    ystride: In(FIELD_BITS)
    x_size: In(FIELD_BITS)
    y_size: In(FIELD_BITS)
    addr: Out(FIELD_BITS)
    last: Out(1)
    x_last: Out(1)

    def elaborate(self, platform) -> Module:
        m = Module()
        x_left = Signal(FIELD_BITS)
        y_left = Signal(FIELD_BITS)
        y_row = Signal(FIELD_BITS)  # address of the current y run's first row
        xstride = Signal(FIELD_BITS)
        ystride = Signal(FIELD_BITS)
        x_size = Signal(FIELD_BITS)
        # `x_last` and `last` are registers, set with the counters they describe: the engines' issue handshakes
        # (and from there the dispatcher's token counts) hang on them, so they must not start with a 16-bit compare
        x_one = Signal()  # x_size == 1: every x run is a single row
        y_last = Signal()  # y_left == 0
        m.d.comb += self.last.eq(self.x_last & y_last)
        with m.If(self.load):
            m.d.sync += [
                self.addr.eq(self.base),
                y_row.eq(self.base),
                x_left.eq(self.x_size - 1),
                y_left.eq(self.y_size - 1),
                xstride.eq(self.xstride),
                ystride.eq(self.ystride),
                x_size.eq(self.x_size),
                x_one.eq(self.x_size == 1),
                self.x_last.eq(self.x_size == 1),
                y_last.eq(self.y_size == 1),
            ]
        with m.Elif(self.step):
            with m.If(self.x_last):
                next_row = y_row + ystride
                m.d.sync += [
                    self.addr.eq(next_row),
                    y_row.eq(next_row),
                    x_left.eq(x_size - 1),
                    y_left.eq(y_left - 1),
                    self.x_last.eq(x_one),
                    y_last.eq(y_left == 1),
                ]
            with m.Else():
                m.d.sync += [self.addr.eq(self.addr + xstride), x_left.eq(x_left - 1), self.x_last.eq(x_left == 1)]
        return m
