"""Performance counters of docs/isa.md section 6 (64-bit, in `nux.isa.PERF_COUNTERS` order).

They count events reported by the units; only `rst` and CTRL.PERF_CLEAR zero them (CTRL.RESET keeps them), so
this module sits outside the core's soft-reset domain.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import PERF_COUNTERS, NpuConfig

COUNTER_INDEX = {name: i for i, (name, *_) in enumerate(PERF_COUNTERS)}


class PerfCounters(wiring.Component):
    """Adds each cycle's events to the counters; `clear` zeroes them all."""

    def __init__(self, config: NpuConfig):
        self.config = config
        super().__init__({
            "running": In(1), "array_row": In(1), "bytes_read": In(16), "bytes_written": In(16), "instret": In(3),
            "stall": In(3),  # load, compute, store queues waiting for a token
            "clear": In(1),
            "counters": Out(data.ArrayLayout(64, len(PERF_COUNTERS))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        dim = self.config.dim
        increments = {
            "CYCLES": self.running,
            "ARRAY_BUSY": self.array_row,
            "MACS": self.array_row * (dim * dim),
            "DMA_RD_BYTES": self.bytes_read,
            "DMA_WR_BYTES": self.bytes_written,
            "INSTRET": self.instret,
            "STALL_LOAD": self.stall[0],
            "STALL_COMPUTE": self.stall[1],
            "STALL_STORE": self.stall[2],
        }
        missing = set(COUNTER_INDEX) - set(increments)
        if missing:
            raise AssertionError(f"perf counters without an event source: {sorted(missing)}")
        for name, inc in increments.items():
            counter = self.counters[COUNTER_INDEX[name]]
            with m.If(self.clear):
                m.d.sync += counter.eq(0)
            with m.Else():
                m.d.sync += counter.eq(counter + inc)
        return m
