"""AxiUpsizer on its own (amaranth.sim, fast): every NPU data width the RTL builds (32..256) onto 512 bits.

A narrow master issues random INCR bursts (random start lane, length, IDs, strobes; several reads in flight);
a wide memory model with random stalls checks each wide request (64-byte aligned, AxSIZE 6, the right beat
count, never across 4 KiB, address + offset) and serves it. Everything read back must equal what a byte-exact
model of the narrow bus says, with the original IDs and RLAST on the last beat.
"""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator
from nux.aws.upsizer import AxiUpsizer

pytestmark = pytest.mark.rtl

OFFSET = 0x10000
WIDE = 64  # bytes
MAX_CYCLES = 60_000  # the traffic needs well under 20k cycles at any width


class WideMemory:
    """The 512-bit slave: random ready/valid, checks the wide requests, bytes in a dict."""

    def __init__(self, dut, rng: random.Random, expect_len: dict):
        self.dut, self.rng, self.mem, self.expect_len = dut, rng, {}, expect_len
        self.errors: list[str] = []

    def _check(self, addr: int, length: int, size: int, kind: str) -> None:
        if addr % WIDE or size != 6 or addr // 4096 != (addr + (length + 1) * WIDE - 1) // 4096:
            self.errors.append(f"{kind} 0x{addr:x} len {length} size {size}")
        want = self.expect_len.get((kind, addr))
        if want is not None and want != length:
            self.errors.append(f"{kind} 0x{addr:x}: {length + 1} beats, expected {want + 1}")

    async def run(self, ctx) -> None:
        m = self.dut.m
        reads, writes, bresps = [], [], 0
        while True:
            p = self.rng.random
            ctx.set(m.arready, p() < 0.7)
            ctx.set(m.awready, p() < 0.7)
            ctx.set(m.wready, p() < 0.7 and bool(writes))
            ctx.set(m.bvalid, bresps > 0)
            r_valid = bool(reads) and p() < 0.7
            ctx.set(m.rvalid, r_valid)
            if reads:
                addr, left = reads[0]
                ctx.set(m.rdata, int.from_bytes(bytes(self.mem.get(addr + i, 0) for i in range(WIDE)), "little"))
                ctx.set(m.rlast, left == 1)
            (_, _, arv, ara, arl, ars, arr, awv, awa, awl, aws, awr, wv, wd, ws, wl, wr, br, rr) = \
                await ctx.tick().sample(m.arvalid, m.araddr, m.arlen, m.arsize, m.arready, m.awvalid, m.awaddr,
                                        m.awlen, m.awsize, m.awready, m.wvalid, m.wdata, m.wstrb, m.wlast,
                                        m.wready, m.bready, m.rready)
            if arv and arr:
                self._check(ara, arl, ars, "r")
                reads.append((ara, arl + 1))
            if awv and awr:
                self._check(awa, awl, aws, "w")
                writes.append([awa, awl + 1])
            if r_valid and rr:
                addr, left = reads[0]
                reads[0] = (addr + WIDE, left - 1)
                if left == 1:
                    reads.pop(0)
            if wv and wr:
                burst = writes[0]
                for i in range(WIDE):
                    if ws >> i & 1:
                        self.mem[burst[0] + i] = wd >> (8 * i) & 0xFF
                burst[0] += WIDE
                burst[1] -= 1
                if bool(wl) != (burst[1] == 0):
                    self.errors.append(f"WLAST {wl} with {burst[1]} beats left")
                if burst[1] == 0:
                    writes.pop(0)
                    bresps += 1
            if bresps and br:
                bresps -= 1


def _bursts(rng: random.Random, nb: int, count: int):
    """(addr, beats) of narrow bursts that stay inside one 4 KiB page of a 16 KiB window."""
    for _ in range(count):
        beats = rng.choice([1, 2, 3, rng.randint(1, 40), rng.randint(1, 256)])
        beats = min(beats, 4096 // nb)
        page = rng.randrange(4) * 4096
        start = rng.randrange(0, 4096 // nb - beats + 1) * nb
        yield page + start, beats


@pytest.mark.parametrize("narrow_bits", [32, 64, 128, 256])
def test_upsizer_random_bursts(narrow_bits):
    rng = random.Random(narrow_bits)
    nb = narrow_bits // 8
    ratio = WIDE // nb
    dut = AxiUpsizer(32, narrow_bits, 64, OFFSET)
    expect_len: dict = {}
    mem = WideMemory(dut, random.Random(1), expect_len)
    model = bytearray(4 * 4096)
    failures: list[str] = []
    s = dut.s

    async def handshake(ctx, ready) -> None:
        while not (await tick(ctx, ready))[2]:
            pass

    async def write(ctx, addr: int, beats: int, ident: int) -> None:
        lane0 = (addr // nb) % ratio
        expect_len[("w", (addr + OFFSET) & ~(WIDE - 1))] = (lane0 + beats + ratio - 1) // ratio - 1
        ctx.set(s.awaddr, addr), ctx.set(s.awlen, beats - 1), ctx.set(s.awid, ident), ctx.set(s.awvalid, 1)
        await handshake(ctx, s.awready)
        ctx.set(s.awvalid, 0)
        for beat in range(beats):
            data = rng.getrandbits(narrow_bits)
            strb = rng.choice([(1 << nb) - 1, rng.getrandbits(nb)])
            for i in range(nb):
                if strb >> i & 1:
                    model[addr + beat * nb + i] = data >> (8 * i) & 0xFF
            ctx.set(s.wdata, data), ctx.set(s.wstrb, strb), ctx.set(s.wlast, beat == beats - 1)
            ctx.set(s.wvalid, 1)
            await handshake(ctx, s.wready)
            ctx.set(s.wvalid, 0)
            if rng.random() < 0.3:
                await tick(ctx)
        ctx.set(s.bready, 1)
        while True:
            _, _, valid, bid = await tick(ctx, s.bvalid, s.bid)
            if valid:
                break
        ctx.set(s.bready, 0)
        if bid != ident:
            failures.append(f"BID {bid} for write ID {ident}")

    async def reads(ctx, batch) -> None:
        """Issue every AR of the batch back to back, then collect the data (several bursts in flight)."""
        for addr, beats, ident in batch:
            lane0 = (addr // nb) % ratio
            expect_len[("r", (addr + OFFSET) & ~(WIDE - 1))] = (lane0 + beats + ratio - 1) // ratio - 1
            ctx.set(s.araddr, addr), ctx.set(s.arlen, beats - 1), ctx.set(s.arid, ident), ctx.set(s.arvalid, 1)
            await handshake(ctx, s.arready)
        ctx.set(s.arvalid, 0)
        for addr, beats, ident in batch:
            for beat in range(beats):
                ready = rng.random() < 0.8
                ctx.set(s.rready, ready)
                _, _, valid, data, rid, last = await tick(ctx, s.rvalid, s.rdata, s.rid, s.rlast)
                while not (valid and ready):
                    ready = rng.random() < 0.8
                    ctx.set(s.rready, ready)
                    _, _, valid, data, rid, last = await tick(ctx, s.rvalid, s.rdata, s.rid, s.rlast)
                want = int.from_bytes(model[addr + beat * nb : addr + (beat + 1) * nb], "little")
                if data != want or rid != ident or bool(last) != (beat == beats - 1):
                    failures.append(f"read 0x{addr:x} beat {beat}: data ok {data == want}, id {rid}/{ident}, "
                                    f"last {last}")
        ctx.set(s.rready, 0)

    cycles = [0]

    async def tick(ctx, *signals):
        """One clock edge, sampling `signals`; a hung handshake fails the test instead of hanging it."""
        cycles[0] += 1
        assert cycles[0] < MAX_CYCLES, f"the bursts did not complete within {MAX_CYCLES} cycles"
        return await ctx.tick().sample(*signals)

    async def master(ctx) -> None:
        for addr, beats in _bursts(rng, nb, 24):
            await write(ctx, addr, beats, rng.randrange(16))
        for _ in range(6):
            batch = [(a, b, rng.randrange(16)) for a, b in _bursts(rng, nb, 3)]
            await reads(ctx, batch)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(mem.run, background=True)
    sim.add_testbench(master)
    sim.run()
    assert not mem.errors, mem.errors[:5]
    assert not failures, failures[:5]
    written = {a - OFFSET for a in mem.mem}
    assert written and min(written) >= 0  # every write landed at address + offset
