"""Load/store units and instruction fetch in amaranth.sim, against the golden model's LOAD/STORE.

A Python AXI slave (`AxiMemory`) serves the units' read/write channels with seeded random ready/valid pauses and
checks the protocol rules the units promise: INCR bursts of at most 256 beats that never cross 4 KiB, W beats
only for accepted AWs, WLAST on the last beat. LOAD rows written to SP/ACC/LUT and STORE bytes written to DRAM
must equal what `nux.golden.Machine` does for the same instruction, for random unaligned, strided, padded rows.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from nux.golden import Machine
from nux.isa import ErrorCode, Instr, Mem, NpuConfig, assemble
from nux.rtl.dma_load import LoadUnit
from nux.rtl.dma_store import StoreUnit
from nux.rtl.fetch import FetchUnit

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=64)
ARENA = 0x1000
ARENA_SIZE = 0x3000
PAGE = 4096
pytestmark = pytest.mark.rtl


class AxiMemory:
    """Byte-array DRAM behind a simplified AXI read (and optionally write) channel, with random pauses."""

    def __init__(self, mem: bytearray, beat_bytes: int, seed: int, pause: float = 0.3):
        self.mem, self.B, self.rng, self.pause = mem, beat_bytes, random.Random(seed), pause
        self.bursts = 0

    def _check_burst(self, addr: int, beats: int) -> None:
        assert addr % self.B == 0 and 1 <= beats <= 256, (addr, beats)
        assert addr // PAGE == (addr + beats * self.B - 1) // PAGE, f"burst at 0x{addr:x} crosses 4 KiB"
        self.bursts += 1

    async def serve_reads(self, ctx, rd) -> None:
        pending: list[tuple[int, bool]] = []
        async for _, _, arv, arr, ara, arl, rv, rr in ctx.tick().sample(
                rd.arvalid, rd.arready, rd.araddr, rd.arlen, rd.rvalid, rd.rready):
            if rv and rr:
                pending.pop(0)
            if arv and arr:
                self._check_burst(ara, arl + 1)
                pending += [(ara + i * self.B, i == arl) for i in range(arl + 1)]
            ctx.set(rd.arready, self.rng.random() > self.pause)
            if pending and self.rng.random() > self.pause:
                addr, last = pending[0]
                ctx.set(rd.rdata, int.from_bytes(self.mem[addr:addr + self.B], "little"))
                ctx.set(rd.rlast, last)
                ctx.set(rd.rresp, 0)
                ctx.set(rd.rvalid, 1)
            else:
                ctx.set(rd.rvalid, 0)

    async def serve_writes(self, ctx, wr) -> None:
        bursts: list[list[int]] = []  # [address, beats left]
        responses = 0
        async for _, _, awv, awr, awa, awl, wv, wrd, wd, ws, wl, bv, br in ctx.tick().sample(
                wr.awvalid, wr.awready, wr.awaddr, wr.awlen, wr.wvalid, wr.wready, wr.wdata, wr.wstrb, wr.wlast,
                wr.bvalid, wr.bready):
            if bv and br:
                responses -= 1
            if wv and wrd:
                assert bursts, "W beat before its AW was accepted"
                addr, left = bursts[0]
                assert wl == (left == 1), "WLAST must mark exactly the last beat of a burst"
                for i in range(self.B):
                    if ws >> i & 1:
                        self.mem[addr + i] = wd >> (8 * i) & 0xFF
                bursts[0] = [addr + self.B, left - 1]
                if left == 1:
                    bursts.pop(0)
                    responses += 1
            if awv and awr:
                self._check_burst(awa, awl + 1)
                bursts.append([awa, awl + 1])
            ctx.set(wr.awready, self.rng.random() > self.pause)
            ctx.set(wr.wready, self.rng.random() > self.pause)
            ctx.set(wr.bvalid, responses > 0 and self.rng.random() > self.pause)
            ctx.set(wr.bresp, 0)


def random_transfer(rng: random.Random, opcode: str) -> Instr:
    dim = CONFIG.dim
    mem = rng.choice([Mem.SP, Mem.ACC, Mem.LUT] if opcode == "load" else [Mem.SP, Mem.ACC])
    esize = 4 if mem is Mem.ACC else 1
    sizes = [rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)]
    strides = [rng.randint(0, 3 * dim * esize) for _ in range(3)]
    row_elems = rng.randint(0, dim)
    span = sum((n - 1) * s for n, s in zip(sizes, strides, strict=True)) + (row_elems or dim) * esize
    # offsets near the 4 KiB page boundary of the arena (ARENA + 0x1000) exercise split bursts
    offset = rng.choice([rng.randrange(0, ARENA_SIZE - 64 - span), PAGE - rng.randint(1, 40)])  # 64: golden program
    fields = dict(row_elems=row_elems, dram_offset=offset, x_size=sizes[0], y_size=sizes[1], z_size=sizes[2],
                  x_stride=strides[0], y_stride=strides[1], z_stride=strides[2])
    if opcode == "store":
        return Instr("store", src=mem, src_row=rng.randrange(0, 100), **fields)
    pads = [rng.choice([0, 0, 1, 2]) for _ in range(4)]
    rows = sizes[2] * (sizes[1] + pads[2] + pads[3]) * (sizes[0] + pads[0] + pads[1])
    limit = CONFIG.lut_rows if mem is Mem.LUT else 100
    if rows > limit:
        pads = [0, 0, 0, 0]
        rows = sizes[0] * sizes[1] * sizes[2]
    return Instr("load", dst=mem, pad_value=rng.randrange(256), dst_row=rng.randrange(0, limit - rows + 1),
                 x_pad_before=pads[0], x_pad_after=pads[1], y_pad_before=pads[2], y_pad_after=pads[3], **fields)


def golden_machine(dram: bytearray, instr: Instr, sp: np.ndarray, acc: np.ndarray) -> Machine:
    image = np.frombuffer(bytes(dram), dtype=np.uint8).copy()
    prog_off = ARENA_SIZE - 64
    image[ARENA + prog_off: ARENA + prog_off + 64] = np.frombuffer(assemble([instr, Instr("end")]), np.uint8)
    m = Machine(CONFIG, image)
    m.sp[:], m.acc[:] = sp, acc
    m.run_task(ARENA + prog_off, 2, ARENA, ARENA_SIZE)
    return m


def run_unit(unit, instr: Instr, serve, on_tick=None, max_cycles: int = 5000, arena_size: int = ARENA_SIZE,
             expect_error: int = 0) -> None:
    """Issue `instr` to the unit and run until its `done`; the unit must then report `expect_error` (0: none)."""
    sim = Simulator(unit)
    sim.add_clock(1e-8)

    async def bench(ctx):
        ctx.set(unit.arena_base, ARENA)
        ctx.set(unit.arena_size, arena_size)
        ctx.set(unit.cmd.issue.payload.instr, int.from_bytes(instr.encode(), "little"))
        ctx.set(unit.cmd.issue.payload.pc, 7)
        ctx.set(unit.cmd.issue.valid, 1)
        for _ in range(max_cycles):
            _, _, ready, done = await ctx.tick().sample(unit.cmd.issue.ready, unit.cmd.done)
            if ready:
                ctx.set(unit.cmd.issue.valid, 0)
            if done:
                error = ctx.get(unit.error.code) if ctx.get(unit.error.valid) else 0
                assert error == expect_error, f"{instr}: error {error}, expected {expect_error}"
                if error:
                    assert ctx.get(unit.error.pc) == 7
                return
        raise AssertionError(f"{instr} did not finish in {max_cycles} cycles")

    sim.add_testbench(bench)
    sim.add_testbench(serve, background=True)
    if on_tick is not None:
        sim.add_testbench(on_tick, background=True)
    sim.run()


@pytest.mark.parametrize("seed", range(12))
def test_load_unit_matches_golden(seed):
    rng = random.Random(seed)
    dram = bytearray(np.random.default_rng(seed).integers(0, 256, 0x8000, dtype=np.uint8).tobytes())
    for _ in range(4):
        instr = random_transfer(rng, "load")
        unit = LoadUnit(CONFIG)
        memory = AxiMemory(dram, CONFIG.axi_data_bits // 8, seed)
        written = {Mem.SP: {}, Mem.ACC: {}, Mem.LUT: {}}

        async def serve(ctx, unit=unit, memory=memory):
            await memory.serve_reads(ctx, unit.rd)

        async def watch(ctx, unit=unit, written=written):
            ports = ((Mem.SP, unit.sp_wr, 1), (Mem.ACC, unit.acc_wr, 4), (Mem.LUT, unit.lut_wr, 1))
            signals = [s for _, p, _ in ports for s in (p.en, p.addr, p.data)]
            async for _, _, *values in ctx.tick().sample(*signals):
                for i, (mem, _, esize) in enumerate(ports):
                    en, addr, value = values[3 * i: 3 * i + 3]
                    if en:
                        row = value.to_bytes(CONFIG.dim * esize, "little")
                        written[mem][addr] = np.frombuffer(row, "<i4" if esize == 4 else np.uint8)

        run_unit(unit, instr, serve, watch)
        sp = np.zeros((CONFIG.sp_rows, CONFIG.dim), np.uint8)
        acc = np.zeros((CONFIG.acc_rows, CONFIG.dim), np.int32)
        m = golden_machine(dram, instr, sp, acc)
        target = Mem(instr.dst)
        expected = m.memory(target)
        rows = set(np.flatnonzero((expected != 0).any(axis=1)))
        assert rows <= set(written[target]), f"{instr}: rows {sorted(rows - set(written[target]))} not written"
        for row, value in written[target].items():
            np.testing.assert_array_equal(value, expected[row], err_msg=f"{instr}: row {row}")
        assert not any(rows_ for m_, rows_ in written.items() if m_ is not target)


@pytest.mark.parametrize("seed", range(12))
def test_store_unit_matches_golden(seed):
    rng = random.Random(100 + seed)
    gen = np.random.default_rng(seed)
    sp = gen.integers(0, 256, (CONFIG.sp_rows, CONFIG.dim), dtype=np.uint8)
    acc = gen.integers(-2**31, 2**31, (CONFIG.acc_rows, CONFIG.dim), dtype=np.int64).astype(np.int32)
    for _ in range(4):
        instr = random_transfer(rng, "store")
        dram = bytearray(gen.integers(0, 256, 0x8000, dtype=np.uint8).tobytes())
        expected = golden_machine(dram, instr, sp, acc).dram
        unit = StoreUnit(CONFIG)
        memory = AxiMemory(dram, CONFIG.axi_data_bits // 8, seed)

        async def serve(ctx, unit=unit, memory=memory):
            await memory.serve_writes(ctx, unit.wr)

        async def read_ports(ctx, unit=unit):  # synchronous read ports: data the cycle after en
            async for _, _, sp_en, sp_addr, acc_en, acc_addr in ctx.tick().sample(
                    unit.sp_rd.en, unit.sp_rd.addr, unit.acc_rd.en, unit.acc_rd.addr):
                if sp_en:
                    ctx.set(unit.sp_rd.data, int.from_bytes(sp[sp_addr].tobytes(), "little"))
                if acc_en:
                    ctx.set(unit.acc_rd.data, int.from_bytes(acc[acc_addr].astype("<i4").tobytes(), "little"))

        run_unit(unit, instr, serve, read_ports)
        got = np.frombuffer(bytes(dram), np.uint8)
        end = ARENA + ARENA_SIZE - 64  # the golden copy holds its program above this
        diff = np.flatnonzero(got[:end] != expected[:end])
        assert diff.size == 0, f"{instr}: {diff.size} bytes differ, first at 0x{diff[0]:x}"


def test_fetch_streams_program_across_pages_with_backpressure():
    """Fetch stays inside 4 KiB pages and prog_len, keeps order, under random pauses and a stalling consumer."""
    n = 45
    base = 2 * PAGE - 32 * 7  # the program straddles a page boundary
    code = bytes(random.Random(3).randbytes(32 * n))
    dram = bytearray(3 * PAGE)
    dram[base: base + len(code)] = code
    unit = FetchUnit(CONFIG)
    memory = AxiMemory(dram, CONFIG.axi_data_bits // 8, 5)
    got: list[tuple[int, bytes]] = []
    rng = random.Random(9)

    async def serve(ctx):
        await memory.serve_reads(ctx, unit.rd)

    async def bench(ctx):
        ctx.set(unit.prog_base, base)
        ctx.set(unit.prog_len, n)
        ctx.set(unit.start, 1)
        await ctx.tick()
        ctx.set(unit.start, 0)
        for _ in range(3000):
            ready = rng.random() < 0.6
            ctx.set(unit.out.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(unit.out.valid, unit.out.payload)
            if valid and ready:
                got.append((payload.pc, payload.instr.to_bytes(32, "little")))
            if len(got) == n:
                break
        ctx.set(unit.out.ready, 0)
        for _ in range(50):
            await ctx.tick()
        assert not ctx.get(unit.out.valid), "fetched past prog_len"

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(serve, background=True)
    sim.run()
    assert [pc for pc, _ in got] == list(range(n))
    assert b"".join(b for _, b in got) == code
    assert memory.bursts >= n // 4


@pytest.mark.parametrize("opcode", ["load", "store"])
def test_per_access_arena_check_reports_internal(opcode):
    """A row outside the arena that dispatch let through is skipped and reported as INTERNAL; the unit finishes."""
    dram = bytearray(0x8000)
    instr = Instr(opcode, dram_offset=0x100, x_size=3, x_stride=0x10)
    unit = LoadUnit(CONFIG) if opcode == "load" else StoreUnit(CONFIG)
    memory = AxiMemory(dram, CONFIG.axi_data_bits // 8, 1)

    async def serve(ctx):
        if opcode == "load":
            await memory.serve_reads(ctx, unit.rd)
        else:
            await memory.serve_writes(ctx, unit.wr)

    # the second row (offset 0x110..0x113) ends past an arena of 0x112 bytes
    run_unit(unit, instr, serve, arena_size=0x112, expect_error=ErrorCode.INTERNAL)
    assert memory.bursts == 1, "only the row inside the arena may reach the bus"
