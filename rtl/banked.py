"""`BankedMemory`: SP / ACC as two row-interleaved banks with one write port each, shared by two writers.

Why (docs/rtl.md, "SP/ACC write port"): block RAM and UltraRAM take one write port per memory once read ports are
replicated, so the compute unit and the load unit must share it. The compute unit's writes come out of fixed
pipelines and cannot wait; the load unit can. With one port, a LOAD into ACC during a long GEMM (which writes ACC
every cycle) would wait for the whole GEMM. Rows are interleaved over two banks (row bit 0), and the compute
unit writes consecutive rows, so a waiting load row finds its bank free within a cycle or two: the load unit
waits only when the compute unit writes the *same bank* in the same cycle.

Reads behave exactly like one `Memory` read port (synchronous, non-transparent, data held while `en` is low):
every read port reads both banks at `addr >> 1` and a registered bank bit selects the word.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import Out


class BankedMemory(wiring.Component):
    """`depth` rows of `width` bits, `n_read` read ports, writers `first` (priority) and `second`.

    `second_busy` is high when `first` writes the bank `second.addr` falls in this cycle: `second` must then
    hold its write (it is ignored).
    """

    def __init__(self, width: int, depth: int, n_read: int):
        if depth % 2:
            raise ValueError(f"depth {depth} must be even (two banks)")
        self.width, self.depth, self.n_read = width, depth, n_read
        aw = (depth - 1).bit_length()
        super().__init__({
            **{f"rd{i}": Out(ReadPort.Signature(addr_width=aw, shape=width)) for i in range(n_read)},
            "first": Out(WritePort.Signature(addr_width=aw, shape=width)),
            "second": Out(WritePort.Signature(addr_width=aw, shape=width)),
            "second_busy": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        banks = [Memory(shape=self.width, depth=self.depth // 2, init=[]) for _ in range(2)]
        for b, mem in enumerate(banks):
            m.submodules[f"bank{b}"] = mem
        first, second = self.first, self.second
        clash = first.en & (first.addr[0] == second.addr[0])
        m.d.comb += self.second_busy.eq(clash)
        for b, mem in enumerate(banks):
            port = mem.write_port()
            mine_first = first.en & (first.addr[0] == b)
            m.d.comb += [port.en.eq(mine_first | (second.en & (second.addr[0] == b))),
                         port.addr.eq(Mux(mine_first, first.addr[1:], second.addr[1:])),
                         port.data.eq(Mux(mine_first, first.data, second.data))]
        for i in range(self.n_read):
            user = getattr(self, f"rd{i}")
            ports = [mem.read_port() for mem in banks]
            bank = Signal(name=f"rd{i}_bank")
            with m.If(user.en):
                m.d.sync += bank.eq(user.addr[0])
            for port in ports:
                m.d.comb += [port.addr.eq(user.addr[1:]), port.en.eq(user.en)]
            m.d.comb += user.data.eq(Mux(bank, ports[1].data, ports[0].data))
        return m
