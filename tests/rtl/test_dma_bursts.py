"""Burst coalescing of the load and store units: contiguous whole-beat rows share long INCR bursts.

Counts AR/AW bursts for contiguous LOADs/STOREs (exactly, without bus pauses, where the load schedule is
deterministic) and checks the data against the golden model with random pauses; the protocol checks (<= 256
beats, no 4 KiB crossing, aligned, WLAST, W after AW) are those of `test_dma.AxiMemory`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from amaranth.sim import Simulator
from nux.isa import ErrorCode, Instr, Mem, NpuConfig
from nux.rtl.axi import MAX_BURST_BEATS
from nux.rtl.dma_load import READ_BURST_BEATS, LoadUnit
from nux.rtl.dma_store import StoreUnit
from test_dma import ARENA, ARENA_SIZE, CONFIG, PAGE, AxiMemory, golden_machine, run_unit

pytestmark = pytest.mark.rtl
BEAT = CONFIG.axi_data_bits // 8
ACC_ROW = CONFIG.dim * 4  # an ACC row is a whole number of beats at this config: coalescable


def load_and_count(instr: Instr, pause: float, seed: int = 0, config: NpuConfig = CONFIG) -> int:
    """Run one LOAD to ACC on a unit built for `config` (only the bus width may differ from CONFIG), check the
    rows against the golden model and return the number of AR bursts."""
    dram = bytearray(np.random.default_rng(seed).integers(0, 256, 0x8000, dtype=np.uint8).tobytes())
    unit = LoadUnit(config)
    memory = AxiMemory(dram, config.axi_data_bits // 8, seed, pause=pause)
    written: dict[int, np.ndarray] = {}

    async def serve(ctx):
        await memory.serve_reads(ctx, unit.rd)

    async def watch(ctx):
        async for _, _, en, addr, value in ctx.tick().sample(unit.acc_wr.en, unit.acc_wr.addr, unit.acc_wr.data):
            if en:
                written[addr] = np.frombuffer(value.to_bytes(ACC_ROW, "little"), "<i4")

    run_unit(unit, instr, serve, watch)
    sp = np.zeros((CONFIG.sp_rows, CONFIG.dim), np.uint8)
    acc = np.zeros((CONFIG.acc_rows, CONFIG.dim), np.int32)
    expected = golden_machine(dram, instr, sp, acc).acc
    rows = ((instr.x_size + instr.x_pad_before + instr.x_pad_after)
            * (instr.y_size + instr.y_pad_before + instr.y_pad_after) * instr.z_size)
    assert sorted(written) == list(range(instr.dst_row, instr.dst_row + rows))
    for row, value in written.items():
        np.testing.assert_array_equal(value, expected[row], err_msg=f"row {row}")
    return memory.bursts


@pytest.mark.parametrize("pause", [0.0, 0.3])
def test_contiguous_rows_share_bursts(pause):
    """Bursts are sized from the rows left in the run, so their number does not depend on bus pauses."""
    rows = 40
    instr = Instr("load", dst=Mem.ACC, dram_offset=0x40, x_size=rows, x_stride=ACC_ROW)
    beats = rows * ACC_ROW // BEAT
    assert load_and_count(instr, pause=pause) == -(-beats // READ_BURST_BEATS)


def test_coalesced_burst_splits_at_4k_page():
    rows = 8  # 0x80 bytes, half before the arena's 4 KiB page boundary (ARENA + 0x1000), half after
    offset = PAGE - 0x40
    assert (ARENA + offset + 0x40) % PAGE == 0
    instr = Instr("load", dst=Mem.ACC, dram_offset=offset, x_size=rows, x_stride=ACC_ROW)
    assert load_and_count(instr, pause=0.0) == 2


def test_coalesced_load_cut_inside_a_row_at_the_page():
    """16-byte rows 8 bytes off the page: the first burst ends mid-row at 4 KiB, the next covers the rest."""
    instr = Instr("load", dst=Mem.ACC, dram_offset=PAGE - 13 * BEAT, x_size=100, x_stride=ACC_ROW)
    rest = 100 * ACC_ROW // BEAT - 13
    assert load_and_count(instr, pause=0.3, seed=5) == 1 + -(-rest // READ_BURST_BEATS)


def test_narrow_bus_page_cut_inside_a_row_then_cap_cuts():
    """32-bit bus, 4-beat ACC rows, 26 beats to the page: 26, then 32-beat bursts from the page on."""
    narrow = replace(CONFIG, axi_data_bits=32)
    instr = Instr("load", dst=Mem.ACC, dram_offset=PAGE - 26 * 4, x_size=128, x_stride=ACC_ROW)
    assert load_and_count(instr, pause=0.3, seed=6, config=narrow) == 1 + -(-(128 * 4 - 26) // READ_BURST_BEATS)


def test_rows_of_three_beats_coalesce_with_cuts_inside_rows():
    """12-byte rows on a 32-bit bus (3 beats): the run's bursts are cut by the 32-beat cap and at the page, both
    inside rows (34 beats to the page: 32 + 2, then 146 beats: 4 x 32 + 18), and the data stays right."""
    narrow = replace(CONFIG, axi_data_bits=32)
    rows, offset = 60, PAGE - 11 * 12 - 4  # row 11 straddles the page
    instr = Instr("load", dst=Mem.ACC, dram_offset=offset, x_size=rows, x_stride=12, row_elems=3)
    assert load_and_count(instr, pause=0.3, seed=8, config=narrow) == 2 + 5


def test_strided_rows_are_not_coalesced():
    instr = Instr("load", dst=Mem.ACC, dram_offset=0x40, x_size=6, x_stride=2 * ACC_ROW)
    assert load_and_count(instr, pause=0.0) == 6


def test_padding_and_y_runs_keep_coalescing_correct():
    """Padding rows and contiguous y runs in between coalesced rows, under random bus pauses."""
    instr = Instr("load", dst=Mem.ACC, dram_offset=0x80, x_size=5, x_stride=ACC_ROW, y_size=4,
                  y_stride=5 * ACC_ROW, x_pad_before=1, y_pad_after=1, pad_value=0x81)
    assert load_and_count(instr, pause=0.3, seed=4) == 4, "one burst per x run of 5 data rows"


@pytest.mark.parametrize("seed", range(3))
def test_contiguous_load_with_pauses_matches_golden(seed):
    rows = 70
    instr = Instr("load", dst=Mem.ACC, dram_offset=0x40 + seed * BEAT, x_size=rows, x_stride=ACC_ROW)
    assert load_and_count(instr, pause=0.3, seed=seed) == -(-rows * ACC_ROW // BEAT // READ_BURST_BEATS)


def store_and_count(instr: Instr, pause: float, seed: int = 0, arena_size: int = ARENA_SIZE,
                    expect_error: int = 0, config: NpuConfig = CONFIG) -> int:
    """Run one STORE on a unit built for `config` (the bus width may differ from the golden model's CONFIG,
    which never changes results), check DRAM against the golden model and return the number of AW bursts."""
    gen = np.random.default_rng(seed)
    sp = gen.integers(0, 256, (CONFIG.sp_rows, CONFIG.dim), dtype=np.uint8)
    acc = gen.integers(-2**31, 2**31, (CONFIG.acc_rows, CONFIG.dim), dtype=np.int64).astype(np.int32)
    dram = bytearray(gen.integers(0, 256, 0x8000, dtype=np.uint8).tobytes())
    expected = golden_machine(dram, instr, sp, acc).dram if not expect_error else None
    unit = StoreUnit(config)
    memory = AxiMemory(dram, config.axi_data_bits // 8, seed, pause=pause)

    async def serve(ctx):
        await memory.serve_writes(ctx, unit.wr)

    async def read_ports(ctx):  # synchronous read ports: data the cycle after en
        async for _, _, sp_en, sp_addr, acc_en, acc_addr in ctx.tick().sample(
                unit.sp_rd.en, unit.sp_rd.addr, unit.acc_rd.en, unit.acc_rd.addr):
            if sp_en:
                ctx.set(unit.sp_rd.data, int.from_bytes(sp[sp_addr].tobytes(), "little"))
            if acc_en:
                ctx.set(unit.acc_rd.data, int.from_bytes(acc[acc_addr].astype("<i4").tobytes(), "little"))

    run_unit(unit, instr, serve, read_ports, arena_size=arena_size, expect_error=expect_error)
    if expected is not None:
        got = np.frombuffer(bytes(dram), np.uint8)
        end = ARENA + ARENA_SIZE - 64  # the golden copy holds its program above this
        diff = np.flatnonzero(got[:end] != expected[:end])
        assert diff.size == 0, f"{instr}: {diff.size} bytes differ, first at 0x{diff[0]:x}"
    return memory.bursts


def test_contiguous_store_is_one_burst_per_run():
    rows = 40
    instr = Instr("store", src=Mem.ACC, dram_offset=0x40, x_size=rows, x_stride=ACC_ROW, y_size=3,
                  y_stride=0x400)
    assert rows * ACC_ROW // BEAT <= MAX_BURST_BEATS
    assert store_and_count(instr, pause=0.0) == 3


def test_store_burst_cut_inside_a_row_at_the_page():
    """A run of 16-byte rows that starts 8 bytes off a row-multiple of the page: the page cuts a row in two."""
    offset = PAGE - 13 * BEAT  # arena offset 0xf98: 13 beats to the page end at arena offset 0x1000
    instr = Instr("store", src=Mem.ACC, dram_offset=offset, x_size=100, x_stride=ACC_ROW)
    assert store_and_count(instr, pause=0.3, seed=3) == 2  # 13 beats, then the other 187


def test_store_burst_cut_at_256_beats_on_a_narrow_bus():
    """On a 32-bit bus 128 ACC rows are 512 beats: cut at the page (inside a row) and at 256 beats."""
    narrow = replace(CONFIG, axi_data_bits=32)
    offset = PAGE - 26 * 4  # 26 beats to the page end, 8 bytes into a row
    instr = Instr("store", src=Mem.ACC, dram_offset=offset, x_size=128, x_stride=ACC_ROW)
    assert store_and_count(instr, pause=0.3, seed=4, config=narrow) == 3  # 26, 256 and 230 beats


@pytest.mark.parametrize("seed", range(3))
def test_store_strided_or_unaligned_rows_stay_per_row(seed):
    """Unaligned rows, a gap between rows, rows shorter than a beat multiple: one burst (at least) per row."""
    fields = [dict(dram_offset=0x41, x_stride=ACC_ROW), dict(dram_offset=0x40, x_stride=ACC_ROW + 8),
              dict(dram_offset=0x40, x_stride=12, row_elems=3)][seed]
    instr = Instr("store", src=Mem.ACC, x_size=6, **fields)
    assert store_and_count(instr, pause=0.3, seed=seed) >= 6


def test_store_run_leaving_the_arena_is_checked_per_row():
    """A run that ends past the arena is not coalesced: in-arena rows are written, the rest reported."""
    instr = Instr("store", src=Mem.ACC, dram_offset=0x100, x_size=4, x_stride=ACC_ROW)
    assert store_and_count(instr, pause=0.0, arena_size=0x100 + 3 * ACC_ROW - 1,
                           expect_error=ErrorCode.INTERNAL) == 2


def test_back_to_back_loads_overlap_and_complete_in_order():
    """The next LOAD is accepted while the previous one's data is still arriving; rows and `done` stay in order."""
    instrs = [Instr("load", dst=Mem.ACC, dram_offset=0x40, x_size=12, x_stride=ACC_ROW, dst_row=0),
              Instr("load", dst=Mem.SP, dram_offset=0x203, x_size=5, x_stride=7, row_elems=3, pad_value=9,
                    dst_row=3, x_pad_after=1),
              Instr("load", dst=Mem.ACC, dram_offset=0x400, x_size=4, x_stride=ACC_ROW, dst_row=40)]
    dram = bytearray(np.random.default_rng(7).integers(0, 256, 0x8000, dtype=np.uint8).tobytes())
    unit = LoadUnit(CONFIG)
    memory = AxiMemory(dram, BEAT, 7, pause=0.3)
    written = {Mem.SP: {}, Mem.ACC: {}}
    accepted: list[int] = []
    done: list[int] = []

    async def serve(ctx):
        await memory.serve_reads(ctx, unit.rd)

    async def watch(ctx):
        ports = ((Mem.SP, unit.sp_wr, 1), (Mem.ACC, unit.acc_wr, 4))
        async for _, _, *values in ctx.tick().sample(*[s for _, p, _ in ports for s in (p.en, p.addr, p.data)]):
            for i, (mem, _, esize) in enumerate(ports):
                en, addr, value = values[3 * i: 3 * i + 3]
                if en:
                    row = value.to_bytes(CONFIG.dim * esize, "little")
                    written[mem][addr] = np.frombuffer(row, "<i4" if esize == 4 else np.uint8)

    async def bench(ctx):
        ctx.set(unit.arena_base, ARENA)
        ctx.set(unit.arena_size, ARENA_SIZE)
        queue = list(instrs)
        for cycle in range(3000):
            if queue:
                ctx.set(unit.cmd.issue.payload.instr, int.from_bytes(queue[0].encode(), "little"))
            ctx.set(unit.cmd.issue.valid, bool(queue))
            _, _, ready, pulse = await ctx.tick().sample(unit.cmd.issue.ready, unit.cmd.done)
            if queue and ready:
                queue.pop(0)
                accepted.append(cycle)
            if pulse:
                done.append(cycle)
            if len(done) == len(instrs):
                assert not ctx.get(unit.error.valid)
                return
        raise AssertionError(f"accepted {accepted}, done {done}")

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(serve, background=True)
    sim.add_testbench(watch, background=True)
    sim.run()
    assert accepted[1] < done[0], "the second LOAD must start before the first one's data is all back"
    sp = np.zeros((CONFIG.sp_rows, CONFIG.dim), np.uint8)
    acc = np.zeros((CONFIG.acc_rows, CONFIG.dim), np.int32)
    for instr in instrs:
        machine = golden_machine(dram, instr, sp, acc)
        sp, acc = machine.sp.copy(), machine.acc.copy()
    for mem, expected in ((Mem.SP, sp), (Mem.ACC, acc)):
        rows = set(np.flatnonzero((expected != 0).any(axis=1)))
        assert rows <= set(written[mem])
        for row, value in written[mem].items():
            np.testing.assert_array_equal(value, expected[row], err_msg=f"{mem.name} row {row}")
