"""ComputeUnit against the golden model: SP/ACC after a program equal `nux.golden` executing the same instructions.

A small harness owns the SP and ACC memories (preloaded with random contents) and the LUT rows, as the top will;
the test feeds instructions through the `issue` stream, waits for one `done` per instruction and `idle`, then
compares every SP and ACC row with the golden Machine (`nux.golden.units.execute`, program order) bit for bit.

Generated programs respect the ISA's rules the dispatcher enforces (rows in range, a preload before the first
GEMM without one) and one rule the ISA leaves open (reported in docs/rtl_compute.md): a VECTOR/POOL output row is
never one of the same instruction's input rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from nux.golden.machine import Machine
from nux.golden.units import execute
from nux.isa import Instr, NpuConfig, Opcode, PoolOp, VectorOp
from nux.rtl.compute import ComputeUnit
from rowunit_harness import Harness, pack, unpack

CONFIG = NpuConfig(dim=4, sp_rows=64, acc_rows=32)
PARAM_REGION = 8  # ACC rows 0..7 start with sensible multipliers/shifts so requant outputs are not all clamped


# ---------------------------------------------------------------------------------------------- harness


class Run:
    """What one simulation observed: final memories and the per-cycle trace of array_row and done."""

    def __init__(self) -> None:
        self.sp: np.ndarray | None = None
        self.acc: np.ndarray | None = None
        self.rows: list[int] = []  # cycles with array_row
        self.done: list[int] = []  # cycles with done
        self.at_done: list[tuple[np.ndarray, np.ndarray]] = []  # (SP, ACC) as they were in each done cycle
        self.cycles = 0


def simulate(config: NpuConfig, program: list[Instr], sp, acc, lut, max_cycles: int = 200_000,
             gaps: np.random.Generator | None = None) -> Run:
    """Run `program` on the ComputeUnit with the given initial SP/ACC/LUT contents.

    With `gaps`, `issue.valid` drops for random stretches between instructions (as token waits do in the top),
    and the memories are recorded in every cycle with a `done` pulse.
    """
    dut = Harness(ComputeUnit(config), config, sp, acc)
    cu, dim = dut.engine, config.dim
    run = Run()
    n_sp, n_acc = config.sp_rows, config.acc_rows
    rows = [dut.sp.data[i] for i in range(n_sp)] + [dut.acc.data[i] for i in range(n_acc)] if gaps else []

    async def monitor(ctx):
        cycle = 0
        async for _clk, _rst, row, done, *mem in ctx.tick().sample(cu.array_row, cu.done, *rows):
            if row:
                run.rows.append(cycle)
            if done:
                run.done.append(cycle)
                if rows:
                    run.at_done.append((
                        np.array([unpack(w, 8, dim) for w in mem[:n_sp]], np.uint8),
                        np.array([unpack(w, 32, dim) for w in mem[n_sp:]], np.uint32).view(np.int32),
                    ))
            cycle += 1
            run.cycles = cycle

    async def driver(ctx):
        for r in range(256 // dim):  # the load unit's job in the real top
            ctx.set(cu.lut_wr, {"addr": r, "data": pack(lut[r * dim : (r + 1) * dim], 8), "en": 1})
            await ctx.tick()
        ctx.set(cu.lut_wr, {"addr": 0, "data": 0, "en": 0})
        for pc, ins in enumerate(program):
            if gaps is not None and gaps.random() < 0.5:
                ctx.set(cu.issue.valid, 0)
                await ctx.tick().repeat(int(gaps.integers(1, 40)))
            ctx.set(cu.issue.payload, {"instr": int.from_bytes(ins.encode(), "little"), "pc": pc})
            ctx.set(cu.issue.valid, 1)
            await ctx.tick().until(cu.issue.ready)
        ctx.set(cu.issue.valid, 0)
        for _ in range(max_cycles):
            if len(run.done) == len(program) and ctx.get(cu.idle):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"compute unit did not finish: {len(run.done)}/{len(program)} done")
        for _ in range(3):  # a stray late done pulse would show up here
            await ctx.tick()
        run.sp = np.array([unpack(ctx.get(dut.sp.data[i]), 8, dim) for i in range(config.sp_rows)], np.uint8)
        run.acc = np.array([unpack(ctx.get(dut.acc.data[i]), 32, dim) for i in range(config.acc_rows)],
                           np.uint32).view(np.int32)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(monitor)
    sim.add_testbench(driver)
    sim.run()
    assert run.sp is not None, "simulation ended before the driver finished"
    return run


def golden(config: NpuConfig, program: list[Instr], sp, acc, lut, states: list | None = None) -> Machine:
    """The golden Machine after `program`; `states` collects (SP, ACC) copies after each instruction."""
    machine = Machine(config, np.zeros(64, np.uint8))
    machine.sp[:], machine.acc[:], machine.lut[:] = sp, acc, lut
    for pc, ins in enumerate(program):
        execute(machine, ins, 0, pc, None)
        if states is not None:
            states.append((machine.sp.copy(), machine.acc.copy()))
    return machine


def written_rows(ins: Instr) -> tuple[str, range]:
    """The memory ("sp" or "acc") and rows an instruction writes."""
    if ins.opcode is Opcode.GEMM:
        return "acc", range(ins.acc_base, ins.acc_base + ins.x_size * ins.y_size)
    if ins.opcode is Opcode.REQUANT:
        return "sp", range(ins.sp_base, ins.sp_base + ins.n_rows)
    return "sp", range(ins.out_base, ins.out_base + ins.x_size * ins.y_size)


def check_done_timing(program: list[Instr], run: Run, states: list) -> None:
    """In the cycle of instruction i's done pulse, all of i's writes are in memory (the token contract)."""
    assert len(run.at_done) == len(program)
    for i, ins in enumerate(program):
        mem, rows = written_rows(ins)
        got = run.at_done[i][0 if mem == "sp" else 1][rows.start : rows.stop]
        want = states[i][0 if mem == "sp" else 1][rows.start : rows.stop]
        assert (got == want).all(), f"instruction {i} ({ins}) signalled done before its {mem} writes landed"


def initial_state(config: NpuConfig, rng: np.random.Generator):
    sp = rng.integers(0, 256, (config.sp_rows, config.dim), dtype=np.uint8)
    acc = rng.integers(-(1 << 31), 1 << 31, (config.acc_rows, config.dim), dtype=np.int64)
    for r in range(0, PARAM_REGION, 2):
        acc[r] = rng.integers(1 << 29, 1 << 31, config.dim)  # multipliers
        acc[r + 1] = rng.integers(-14, 3, config.dim)  # shifts
    lut = rng.integers(0, 256, 256, dtype=np.uint8)
    return sp, acc.astype(np.int32), lut


def check_against_golden(config: NpuConfig, program: list[Instr], seed: int, gaps: bool = False) -> Run:
    sp, acc, lut = initial_state(config, np.random.default_rng(seed))
    run = simulate(config, program, sp, acc, lut, gaps=np.random.default_rng(seed + 1) if gaps else None)
    states: list = []
    ref = golden(config, program, sp, acc, lut, states)
    if gaps:
        check_done_timing(program, run, states)
    assert len(run.done) == len(program)
    assert len(run.rows) == ref.counters["ARRAY_BUSY"], "array_row pulses differ from ARRAY_BUSY"
    bad_sp = np.nonzero((run.sp != ref.sp).any(axis=1))[0]
    bad_acc = np.nonzero((run.acc != ref.acc).any(axis=1))[0]
    assert not bad_sp.size and not bad_acc.size, (
        f"seed {seed}: SP rows {bad_sp.tolist()} ACC rows {bad_acc.tolist()} differ\n"
        + "\n".join(f"{i}: {p}" for i, p in enumerate(program))
    )
    return run


# ---------------------------------------------------------------------------------------------- generators


class ProgramGen:
    """Random valid compute-queue instructions for one config (rows in range, dispatch rules respected)."""

    def __init__(self, config: NpuConfig, rng: np.random.Generator):
        self.c, self.rng = config, rng
        self.tile_loaded = False

    def _int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def _byte(self) -> int:
        return self._int(0, 255)

    def _walk(self, x: int, y: int, limit: int, max_stride: int = 3) -> tuple[int, int, int]:
        """(base, xstride, ystride) such that every row base + y*ys + x*xs stays below limit."""
        xs, ys = self._int(0, max_stride), self._int(0, max_stride)
        span = (x - 1) * xs + (y - 1) * ys
        if span >= limit:
            xs, ys, span = 1, x, x * y - 1
        return self._int(0, limit - 1 - span), xs, ys

    def _out_stage(self) -> dict[str, int]:
        signed = self._int(0, 1)
        lo, hi = sorted((self._byte(), self._byte())) if self.rng.random() < 0.9 else (self._byte(), self._byte())
        if signed:  # sorted as int8 values
            lo, hi = sorted((lo, hi), key=lambda b: b - 256 if b >= 128 else b)
        return {"out_signed": signed, "out_zp": self._byte(), "clamp_lo": lo, "clamp_hi": hi,
                "param_row": self._int(0, PARAM_REGION - 2) if self.rng.random() < 0.8
                else self._int(0, self.c.acc_rows - 2)}

    def gemm(self, max_rows: int = 8) -> Instr:
        preload = 1 if not self.tile_loaded else self._int(0, 1)
        self.tile_loaded = True
        x = self._int(1, max_rows)
        y = self._int(1, 2)
        a_base, xs, ys = self._walk(x, y, self.c.sp_rows)
        return Instr(
            Opcode.GEMM, preload=preload, accumulate=self._int(0, 1), a_signed=self._int(0, 1),
            w_signed=self._int(0, 1), a_zp=self._byte(), w_zp=self._byte(),
            w_row=self._int(0, self.c.sp_rows - self.c.dim), acc_base=self._int(0, self.c.acc_rows - x * y),
            a_base=a_base, x_size=x, y_size=y, a_xstride=xs, a_ystride=ys,
        )

    def requant(self) -> Instr:
        n = self._int(1, 8)
        out = self._out_stage()
        return Instr(Opcode.REQUANT, acc_base=self._int(0, self.c.acc_rows - n),
                     sp_base=self._int(0, self.c.sp_rows - n), n_rows=n, **out)

    def _disjoint_out(self, n: int, reads: set[int]) -> int:
        for _ in range(100):
            base = self._int(0, self.c.sp_rows - n)
            if not reads & set(range(base, base + n)):
                return base
        raise AssertionError("could not place a disjoint output range")

    def vector(self, vop: VectorOp | None = None) -> Instr:
        vop = VectorOp(self._int(0, 4)) if vop is None else vop
        x, y = self._int(1, 4), self._int(1, 3)
        a_base, axs, ays = self._walk(x, y, self.c.sp_rows)
        b_base, bxs, bys = self._walk(x, y, self.c.sp_rows)
        out = self._out_stage()
        if vop is VectorOp.ADD:
            out["param_row"] = self._int(0, PARAM_REGION - 6)
        reads = {a_base + j * ays + i * axs for j in range(y) for i in range(x)}
        reads |= {b_base + j * bys + i * bxs for j in range(y) for i in range(x)}
        return Instr(
            Opcode.VECTOR, vop=vop, a_signed=self._int(0, 1), b_signed=self._int(0, 1),
            add_shift=self._int(0, 31) if self.rng.random() < 0.3 else 20, a_zp=self._byte(), b_zp=self._byte(),
            a_base=a_base, b_base=b_base, x_size=x, y_size=y, a_xstride=axs, a_ystride=ays, b_xstride=bxs,
            b_ystride=bys, out_base=self._disjoint_out(x * y, reads), **out,
        )

    def pool(self) -> Instr:
        x, y = self._int(1, 3), self._int(1, 2)
        wx, wy = self._int(1, 3), self._int(1, 3)
        wxs, wys = self._int(0, 3), self._int(0, 4)
        a_base, axs, ays = self._walk(x, y, self.c.sp_rows - (wx - 1) * wxs - (wy - 1) * wys)
        reads = {a_base + j * ays + i * axs + v * wys + u * wxs
                 for j in range(y) for i in range(x) for v in range(wy) for u in range(wx)}
        out = self._out_stage()
        return Instr(
            Opcode.POOL, pop=self._int(0, 1), a_signed=self._int(0, 1), a_zp=self._byte(), a_base=a_base,
            x_size=x, y_size=y, a_xstride=axs, a_ystride=ays, win_x=wx, win_y=wy, win_xstride=wxs,
            win_ystride=wys, out_base=self._disjoint_out(x * y, reads), **out,
        )

    def any(self) -> Instr:
        kind = self.rng.choice(["gemm", "gemm", "requant", "vector", "pool"])
        return getattr(self, str(kind))()


# ---------------------------------------------------------------------------------------------- tests


def test_gemm_preload_stream_accumulate() -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(10))
    program = [gen.gemm() for _ in range(6)]
    check_against_golden(CONFIG, program, seed=10)


def test_gemm_accumulate_hazards_are_forwarded() -> None:
    """Short GEMMs back to back whose first ACC row is the previous GEMM's last (or last but one) row: the reads
    that the read-modify-write pipeline must forward from its two pending writes."""
    base = {"a_signed": 1, "w_signed": 1, "accumulate": 1, "a_zp": 3, "w_zp": 250}
    rows = [(5, 2), (6, 2), (7, 1), (7, 1), (7, 3), (8, 2), (9, 1), (8, 1), (8, 2), (8, 3), (9, 2)]
    program = [Instr(Opcode.GEMM, preload=1, w_row=8, acc_base=5, a_base=1, x_size=2, **base)]
    for i, (acc_base, x_size) in enumerate(rows):
        program.append(Instr(Opcode.GEMM, acc_base=acc_base, a_base=2 + i, x_size=x_size, **base))
    program.append(Instr(Opcode.GEMM, preload=1, w_row=20, acc_base=9, a_base=3, x_size=1, **base))
    program.append(Instr(Opcode.GEMM, acc_base=9, a_base=4, x_size=1, **base))
    run = check_against_golden(CONFIG, program, seed=11)
    first_run = run.rows[: 2 + sum(x for _, x in rows)]
    assert first_run[-1] - first_run[0] + 1 == len(first_run), "the short GEMMs must chain without bubbles"


def test_back_to_back_gemms_stream_without_bubbles() -> None:
    """Preloading GEMMs of 3*dim rows each: from the first to the last row, a row enters the array every cycle.

    All accumulate into the same rows, so a tile reloaded while an older row still used it would show in ACC.
    """
    dim = CONFIG.dim
    rows = 3 * dim
    program = [
        Instr(Opcode.GEMM, preload=1, accumulate=int(t > 0), w_row=4 * t, acc_base=0, a_base=t, x_size=rows,
              a_xstride=1, a_signed=1, w_signed=t % 2)
        for t in range(6)
    ]
    run = check_against_golden(CONFIG, program, seed=12)
    span = run.rows[-1] - run.rows[0] + 1
    assert len(run.rows) == 6 * rows
    assert span == len(run.rows), f"{span - len(run.rows)} bubble cycles between the first and last row"


def test_requant() -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(13))
    check_against_golden(CONFIG, [gen.requant() for _ in range(5)], seed=13)


@pytest.mark.parametrize("vop", list(VectorOp))
def test_vector(vop: VectorOp) -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(20 + vop))
    check_against_golden(CONFIG, [gen.vector(vop) for _ in range(3)], seed=20 + vop)


def test_vector_in_place() -> None:
    """docs/isa.md "Overlap rules": an output row may be the (only) A row its element reads."""
    out = {"out_signed": 1, "out_zp": 0, "clamp_lo": 0x80, "clamp_hi": 0x7F}
    walk = {"x_size": 4, "y_size": 3, "a_xstride": 1, "a_ystride": 4}
    program = [
        Instr(Opcode.VECTOR, vop="max", a_signed=1, b_signed=1, a_base=20, b_base=20, b_xstride=1, b_ystride=4,
              out_base=20, param_row=0, **walk, **out),  # requantizing copy in place, B = A
        Instr(Opcode.VECTOR, vop="add", a_signed=1, b_signed=0, add_shift=20, a_base=20, b_base=40, out_base=20,
              param_row=2, **walk, **out),
        Instr(Opcode.VECTOR, vop="lut", a_base=20, out_base=20, **walk),
    ]
    check_against_golden(CONFIG, program, seed=25)


@pytest.mark.parametrize("pop", list(PoolOp))
def test_pool(pop: PoolOp) -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(30 + pop))
    program = [gen.pool().replace(pop=pop) for _ in range(4)]
    check_against_golden(CONFIG, program, seed=30 + pop)


@pytest.mark.parametrize("seed", range(8))
def test_random_programs(seed: int) -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(1000 + seed))
    check_against_golden(CONFIG, [gen.any() for _ in range(10)], seed=1000 + seed)


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_with_issue_gaps(seed: int) -> None:
    """Instructions arrive with random pauses; each done pulse finds all of its instruction's writes done."""
    gen = ProgramGen(CONFIG, np.random.default_rng(2000 + seed))
    check_against_golden(CONFIG, [gen.any() for _ in range(12)], seed=2000 + seed, gaps=True)


def test_every_class_dim8() -> None:
    config = NpuConfig(dim=8, sp_rows=128, acc_rows=64)
    gen = ProgramGen(config, np.random.default_rng(40))
    program = [gen.gemm(), gen.gemm(), gen.requant(), *(gen.vector(v) for v in VectorOp), gen.pool(), gen.pool(),
               gen.gemm(), gen.gemm()]
    check_against_golden(config, program, seed=40)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100))
def test_random_programs_long(seed: int) -> None:
    gen = ProgramGen(CONFIG, np.random.default_rng(5000 + seed))
    check_against_golden(CONFIG, [gen.any() for _ in range(30)], seed=5000 + seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_random_programs_dim8(seed: int) -> None:
    config = NpuConfig(dim=8, sp_rows=128, acc_rows=64)
    gen = ProgramGen(config, np.random.default_rng(7000 + seed))
    check_against_golden(config, [gen.any() for _ in range(20)], seed=7000 + seed)


@pytest.mark.slow
@pytest.mark.parametrize("dim", [16, 32])
def test_every_class_large_dims(dim: int) -> None:
    config = NpuConfig(dim=dim, sp_rows=128, acc_rows=64)
    gen = ProgramGen(config, np.random.default_rng(dim))
    program = [gen.gemm(), gen.gemm(), gen.requant(), *(gen.vector(v) for v in VectorOp), gen.pool(), gen.gemm()]
    check_against_golden(config, program, seed=dim, gaps=True)


def test_vector_lut_dim16() -> None:
    """At dim 16 the LUT is two copies of 8 read ports each (compute_vector.LUT_LANES_PER_COPY): both serve lanes."""
    config = NpuConfig(dim=16, sp_rows=128, acc_rows=64)
    gen = ProgramGen(config, np.random.default_rng(16))
    check_against_golden(config, [gen.vector(VectorOp.LUT) for _ in range(3)], seed=16)
