"""What the load and store units share (LoadUnit in rtl/dma_load.py, StoreUnit in rtl/dma_store.py).

They move strided DRAM <-> SP/ACC/LUT rows over the shared AXI4 master.

Both walk rows in the order of docs/isa.md section 4 with `RowWalker` (z outermost, x innermost; LOAD adds
padding rows, which never touch DRAM). A row is `row_elems' * esize` bytes at any byte address: the load unit
reads the aligned beats that cover it and realigns; the store unit shifts the row into beat position and writes
it with byte strobes. Runs of rows that are contiguous in DRAM and whole beats share long INCR bursts (sized
from the rows left in the x run, cut at 4 KiB pages and at 32 read / 256 write beats); any other row is its own
burst, two when its beats cross a 4 KiB page (docs/rtl.md, "DMA"). Every access is checked
against the arena again (a hit is INTERNAL: dispatch should have caught it) and skipped; SLVERR/DECERR responses
are BUS_ERROR. Both report the first error with the instruction's pc and still finish the instruction, so the
queues drain and the dispatcher can stop cleanly.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig

ADDR_BITS = 64  # arena offsets and byte addresses are computed wide enough never to wrap
ROW_LAYOUT = data.StructLayout({"offset": ADDR_BITS, "pad": 1, "last": 1})


def error_signature() -> wiring.Signature:
    return wiring.Signature({"valid": Out(1), "code": Out(8), "pc": Out(32)})


def lut_write_signature(dim: int) -> wiring.Signature:
    """The load unit's LUT row write port (driven by the load unit, stored in the compute unit)."""
    return wiring.Signature({"addr": Out((256 // dim - 1).bit_length()), "data": Out(dim * 8), "en": Out(1)})


class RowWalker(wiring.Component):
    """Emits one row per cycle: its arena offset (data rows) or a padding flag, in LOAD/STORE order.

    Addresses are built by adding strides (no multiplier): x runs restart at the y run's address, which
    advances only after a data y run, and y runs restart at the z address. The walker latches its parameters on
    `start` together with the bounds derived from them (last index, data range), so that a step compares
    registers with registers: no adder sits between the parameters and the position registers (250 MHz).
    `x_first` marks the first data row of an x run (the units coalesce a contiguous run from there).
    """

    def __init__(self):
        super().__init__({
            "start": In(1),
            "offset": In(32), "x_size": In(16), "y_size": In(16), "z_size": In(16),
            "x_stride": In(32), "y_stride": In(32), "z_stride": In(32),
            "x_pad_before": In(8), "x_pad_after": In(8), "y_pad_before": In(8), "y_pad_after": In(8),
            "rows": Out(stream.Signature(ROW_LAYOUT)),
            "x_first": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        active = Signal()
        xx, yy, z = Signal(17, name="xx"), Signal(17, name="yy"), Signal(16, name="z")
        x_addr, y_addr, z_addr = (Signal(ADDR_BITS, name=f"{a}_addr") for a in "xyz")
        strides = [Signal(32, name=f"{a}_stride_r") for a in "xyz"]
        # per axis: index of the last row, first data index, end of the data (exclusive); latched on start
        x_last, y_last, x_lo, x_hi, y_lo, y_hi = (Signal(18, name=n) for n in
                                                  ("x_last", "y_last", "x_lo", "x_hi", "y_lo", "y_hi"))
        z_last = Signal(17)
        x_data = (xx >= x_lo) & (xx < x_hi)
        y_data = (yy >= y_lo) & (yy < y_hi)
        data_row = x_data & y_data
        x_end, y_end, z_end = xx == x_last, yy == y_last, z == z_last
        rows = self.rows
        m.d.comb += self.x_first.eq(data_row & (xx == x_lo))
        m.d.comb += [rows.valid.eq(active), rows.payload.offset.eq(x_addr), rows.payload.pad.eq(~data_row),
                     rows.payload.last.eq(x_end & y_end & z_end)]
        x_stride, y_stride, z_stride = strides
        with m.If(self.start):
            m.d.sync += [active.eq(1), xx.eq(0), yy.eq(0), z.eq(0), x_addr.eq(self.offset), y_addr.eq(self.offset),
                         z_addr.eq(self.offset), x_stride.eq(self.x_stride), y_stride.eq(self.y_stride),
                         z_stride.eq(self.z_stride),
                         x_lo.eq(self.x_pad_before), x_hi.eq(self.x_pad_before + self.x_size),
                         x_last.eq(self.x_pad_before + self.x_size + self.x_pad_after - 1),
                         y_lo.eq(self.y_pad_before), y_hi.eq(self.y_pad_before + self.y_size),
                         y_last.eq(self.y_pad_before + self.y_size + self.y_pad_after - 1),
                         z_last.eq(self.z_size - 1)]
        with m.Elif(rows.valid & rows.ready):
            with m.If(~x_end):
                m.d.sync += xx.eq(xx + 1)
                with m.If(data_row):
                    m.d.sync += x_addr.eq(x_addr + x_stride)
            with m.Elif(~y_end):
                m.d.sync += [xx.eq(0), yy.eq(yy + 1)]
                next_y = Mux(y_data, y_addr + y_stride, y_addr)
                m.d.sync += [y_addr.eq(next_y), x_addr.eq(next_y)]
            with m.Elif(~z_end):
                m.d.sync += [xx.eq(0), yy.eq(0), z.eq(z + 1), z_addr.eq(z_addr + z_stride),
                             y_addr.eq(z_addr + z_stride), x_addr.eq(z_addr + z_stride)]
            with m.Else():
                m.d.sync += active.eq(0)
        return m


def times_small(a, b):
    """`a * b` for a `b` of a few bits, as a tree of shifted copies of `a`: fabric adders, not a DSP48E2 that the
    timing model counts as a 2.8 ns combinational stage."""
    terms = [Mux(b[i], a << i, 0) for i in range(len(b))]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def min_of(*values):
    """The smallest of `values`: every pairwise compare side by side, then one select (not a chain)."""
    if len(values) == 1:
        return values[0]
    best = values[-1]
    for k in range(len(values) - 2, -1, -1):
        wins = [values[k] <= v for v in values[k + 1:]] + [values[k] < v for v in values[:k]]
        best = Mux(Cat(*wins).all(), values[k], best)
    return best


def shift_up(value, skew, unit: int, width: int):
    """`value` moved up by `skew` units of `unit` bits, in `width` bits: a `skew`-way multiplexer per bit."""
    placed = [Cat(Const(0, unit * s), value, Const(0, width - unit * s - len(value))) for s in range(1 << len(skew))]
    return Array(placed)[skew]


def max_beats(config: NpuConfig) -> int:
    B = config.axi_data_bits // 8
    return (B - 1 + 4 * config.dim + B - 1) // B


def sext32(byte):
    return Cat(byte, byte[7].replicate(24))


def row_length(config: NpuConfig, row_elems, is_acc):
    """Row bytes of a LOAD/STORE: row_elems' lanes (0 means dim) of 1 or 4 bytes."""
    elems = Mux(row_elems == 0, config.dim, row_elems)
    return elems, Mux(is_acc, elems << 2, elems)


def start_walker(m: Module, walker: RowWalker, iv: data.View, pads: bool) -> None:
    """Start `walker` on the accepted instruction `iv` (it latches the parameters itself)."""
    m.d.comb += [walker.start.eq(1), walker.offset.eq(iv.dram_offset)]
    for name in ("x_size", "y_size", "z_size", "x_stride", "y_stride", "z_stride"):
        m.d.comb += getattr(walker, name).eq(getattr(iv, name))
    if pads:
        for name in ("x_pad_before", "x_pad_after", "y_pad_before", "y_pad_after"):
            m.d.comb += getattr(walker, name).eq(getattr(iv, name))



class Stage:
    """A bundle of named registers (one pipeline stage), e.g. `Stage("p", valid=1, addr=64)`."""

    def __init__(self, prefix: str, **shapes):
        for name, shape in shapes.items():
            setattr(self, name, Signal(shape, name=f"{prefix}_{name}"))


def report_error(m: Module, err, code, pc) -> None:
    """Record the first error of a unit (`err` is its `error_signature` port); later ones are dropped."""
    with m.If(~err.valid):
        m.d.sync += [err.valid.eq(1), err.code.eq(code), err.pc.eq(pc)]

