"""REDUCE in RTL (rtl/compute_reduce.py, rtl/rowops.py) against the golden model, bit for bit.

* SrdhmPipe: random and edge pairs, one per cycle, against `nux.golden.requant.srdhm`.
* RowOpsUnit: thousands of RECIP / RSQRT inputs (0, 1, 2, 2^29 - 1, 2^29, INT32_MAX, negatives, INT32_MIN,
  powers of two and their neighbours, log-uniform randoms; random post_shift) against `nux.golden.rowops`.
* ReduceEngine: random valid REDUCE programs at every dim (every rop/src/dst/post combination, every
  last_lanes, in-place and overlapping outputs) leave SP and ACC exactly as `nux.golden` does; cycle counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from nux.golden.requant import srdhm
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier
from nux.isa import Instr, Mem, NpuConfig, Opcode, ReduceOp, ReducePost
from nux.rtl.compute_reduce import ReduceEngine
from nux.rtl.rowops import RowOpsUnit, SrdhmPipe
from rowunit_harness import check, random_state

pytestmark = pytest.mark.rtl

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
DIMS = (4, 8, 16, 32)


# ---------------------------------------------------------------------------------------------- SRDHM


def test_srdhm_pipe_one_result_per_cycle():
    rng = np.random.default_rng(1)
    edges = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, 1 << 30, -(1 << 30)]
    pairs = [(a, b) for a in edges for b in edges]
    pairs += [tuple(int(v) for v in rng.integers(INT32_MIN, INT32_MAX + 1, 2)) for _ in range(1000)]
    dut = SrdhmPipe(tag_width=16)
    got: dict[int, int] = {}

    async def bench(ctx):
        for i, (a, b) in enumerate(pairs + [(0, 0)] * SrdhmPipe.LATENCY):
            ctx.set(dut.valid, i < len(pairs))
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.tag, i)
            await ctx.tick()
            if ctx.get(dut.o_valid):
                assert i - ctx.get(dut.o_tag) == SrdhmPipe.LATENCY - 1
                got[ctx.get(dut.o_tag)] = ctx.get(dut.y)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    a, b = np.array(pairs).T
    assert [got[i] for i in range(len(pairs))] == srdhm(a, b).tolist()


# ---------------------------------------------------------------------------------------------- RECIP / RSQRT


def rowops_inputs(n_random: int, seed: int) -> list[int]:
    """Edge values of r, then log-uniform positive and some negative randoms."""
    rng = np.random.default_rng(seed)
    edges = {0, 1, 2, 3, 4, 5, 7, (1 << 29) - 1, 1 << 29, (1 << 29) + 1, INT32_MAX, INT32_MAX - 1, -1, -2,
             INT32_MIN, INT32_MIN + 1}
    for k in range(31):
        edges |= {(1 << k) - 1, 1 << k, (1 << k) + 1}
    bits = rng.integers(1, 32, n_random)
    randoms = [int(rng.integers(1 << (b - 1), (1 << b) - 1, endpoint=True)) for b in bits]
    randoms[::9] = [-int(v) for v in randoms[::9]]
    return sorted(e for e in edges if INT32_MIN <= e <= INT32_MAX) + randoms


def run_rowops(jobs: list[tuple[int, ReducePost, int]]) -> tuple[list[tuple[int, int]], list[int]]:
    """(m, s) and the cycles from acceptance to o_valid, for each (r, post, post_shift)."""
    dut = RowOpsUnit()
    out: list[tuple[int, int]] = []
    cycles: list[int] = []
    now = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            now[0] += 1

    async def bench(ctx):
        for r, post, shift in jobs:
            ctx.set(dut.i_r, r)
            ctx.set(dut.i_post, post)
            ctx.set(dut.i_shift, shift)
            ctx.set(dut.i_valid, 1)  # the unit is idle here: it takes the job at this edge
            await ctx.tick()
            ctx.set(dut.i_valid, 0)
            taken = now[0]
            out.append(await ctx.tick().sample(dut.o_m, dut.o_s).until(dut.o_valid))
            cycles.append(now[0] - taken)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run()
    return out, cycles


def check_rowops(post: ReducePost, n_random: int, seed: int) -> list[int]:
    rs = rowops_inputs(n_random, seed)
    shifts = np.random.default_rng(seed + 1).integers(-128, 128, len(rs))
    shifts[:3] = (0, -128, 127)
    got, cycles = run_rowops([(r, post, int(s)) for r, s in zip(rs, shifts, strict=True)])
    reference = recip_multiplier if post is ReducePost.RECIP else rsqrt_multiplier
    want_m, want_s = reference(np.array(rs, np.int64), shifts.astype(np.int64))
    bad = [(r, int(s), g, (int(wm), int(ws))) for r, s, g, wm, ws in zip(rs, shifts, got, want_m, want_s, strict=True)
           if g != (int(wm), int(ws))]
    assert not bad, f"{len(bad)} of {len(rs)} differ, e.g. (r, P, rtl, golden) {bad[:4]}"
    for r, s, g in zip(rs[:20], shifts[:20], got[:20], strict=True):  # the scalar form agrees too
        assert (recip_multiplier if post is ReducePost.RECIP else rsqrt_multiplier)(r, int(s)) == g
    return cycles


@pytest.mark.parametrize("post", [ReducePost.RECIP, ReducePost.RSQRT], ids=["recip", "rsqrt"])
def test_rowops_against_golden(post):
    cycles = check_rowops(post, 1000, seed=int(post))
    assert max(cycles) <= (36 if post is ReducePost.RECIP else 60), max(cycles)  # docs/rtl_rowunit.md


@pytest.mark.slow
@pytest.mark.parametrize("post", [ReducePost.RECIP, ReducePost.RSQRT], ids=["recip", "rsqrt"])
def test_rowops_against_golden_many(post):
    check_rowops(post, 20_000, seed=100 + int(post))


# ---------------------------------------------------------------------------------------------- the engine


def config_for(dim: int) -> NpuConfig:
    return NpuConfig(dim=dim, sp_rows=max(64, 2 * dim), acc_rows=max(64, 2 * dim))


class ReduceGen:
    """Random valid REDUCE instructions: every field inside the ISA's BAD_FIELD and SPAD_OOB rules."""

    def __init__(self, config: NpuConfig, rng: np.random.Generator):
        self.config, self.rng = config, rng

    def __call__(self, rop: ReduceOp | None = None, src: Mem | None = None, post: ReducePost | None = None,
                 dst_sp: int | None = None, last_lanes: int | None = None) -> Instr:
        rng, dim = self.rng, self.config.dim
        rop = ReduceOp(rng.integers(0, 3)) if rop is None else rop
        if src is None:
            src = Mem.SP if rop is ReduceOp.SUMSQ or rng.random() < 0.5 else Mem.ACC
        post = ReducePost(rng.integers(0, 3)) if post is None else post
        dst_sp = int(post is ReducePost.NONE and rng.random() < 0.5) if dst_sp is None else dst_sp
        group_rows, n_groups = (int(v) for v in rng.integers(1, 6, 2))
        a_rstride, a_gstride = (int(v) for v in rng.integers(0, 5, 2))
        src_rows = self.config.sp_rows if src is Mem.SP else self.config.acc_rows
        dst_rows = self.config.sp_rows if dst_sp else self.config.acc_rows
        span = (n_groups - 1) * a_gstride + (group_rows - 1) * a_rstride
        fields = dict(
            rop=rop, src=src, dst_sp=dst_sp, post=post,
            last_lanes=int(rng.integers(0, dim + 1)) if last_lanes is None else last_lanes,
            a_base=int(rng.integers(0, src_rows - span)), out_row=int(rng.integers(0, dst_rows - n_groups + 1)),
            group_rows=group_rows, n_groups=n_groups, a_rstride=a_rstride, a_gstride=a_gstride,
            post_shift=0 if post is ReducePost.NONE else int(rng.integers(-128, 128)),
        )
        if src is Mem.SP:
            fields.update(a_signed=int(rng.integers(0, 2)), a_zp=int(rng.integers(0, 256)))
        return Instr(Opcode.REDUCE, **fields)


def reduce_state(config: NpuConfig, rng: np.random.Generator):
    """Random SP/ACC; half the ACC rows small and positive so RECIP/RSQRT of sums take their general path."""
    sp, acc = random_state(config, rng)
    small = rng.random(config.acc_rows) < 0.5
    acc[small] = rng.integers(0, 1 << 22, (int(small.sum()), config.dim))
    return sp, acc


COMBOS = [(rop, src, post, dst_sp)
          for rop in ReduceOp for src in (Mem.SP, Mem.ACC) for post in ReducePost for dst_sp in (0, 1)
          if not (src is Mem.ACC and rop is ReduceOp.SUMSQ) and not (post is not ReducePost.NONE and dst_sp)]


@pytest.mark.parametrize("dim", DIMS)
def test_reduce_every_combination(dim):
    """Each rop x src x dst x post, each with its own random shape, in one program."""
    config = config_for(dim)
    rng = np.random.default_rng(dim)
    gen = ReduceGen(config, rng)
    program = [gen(rop, src, post, dst_sp) for rop, src, post, dst_sp in COMBOS]
    check(ReduceEngine(config), config, program, *reduce_state(config, rng))


@pytest.mark.parametrize("dim", DIMS)
def test_reduce_every_lane_count(dim):
    """last_lanes 0 (= dim) and 1..dim: the unused lanes of a group's last row never count, whatever the
    values (SP bytes of -128, ACC words near INT32_MIN, so an identity other than INT32_MIN shows in MAX)."""
    config = config_for(dim)
    rng = np.random.default_rng(100 + dim)
    gen = ReduceGen(config, rng)
    program = [gen(rop=ReduceOp(k % 3), src=Mem.SP, post=ReducePost.NONE, last_lanes=k) for k in range(dim + 1)]
    program += [gen(rop=ReduceOp(k % 2), src=Mem.ACC, post=ReducePost.NONE, dst_sp=1, last_lanes=k)
                for k in range(dim + 1)]
    sp, acc = reduce_state(config, rng)
    sp[:, : dim // 2] = 0x80  # int8 -128 / uint8 128: a dropped lane would change MAX
    acc[:] = rng.integers(INT32_MIN, INT32_MIN + 1000, acc.shape)
    check(ReduceEngine(config), config, program, sp, acc)


def test_reduce_in_place_and_overlapping_outputs():
    """Outputs that later groups read (same memory): each group must see the rows earlier groups wrote."""
    config = config_for(4)
    rng = np.random.default_rng(7)
    program = [
        # group g reads rows 10+g.., writes row 11+g: group g+1 reads what group g wrote
        Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, a_base=10, group_rows=2, a_rstride=1, n_groups=6,
              a_gstride=1, out_row=11),
        Instr(Opcode.REDUCE, rop=ReduceOp.MAX, src=Mem.SP, dst_sp=1, a_base=20, group_rows=1, n_groups=8,
              a_gstride=1, out_row=21, a_signed=1),
        Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, post=ReducePost.RECIP, a_base=30, group_rows=1,
              n_groups=5, a_gstride=1, out_row=31, post_shift=3),
        Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, a_base=40, group_rows=3, a_rstride=2, n_groups=3,
              a_gstride=0, out_row=40),  # every group reads row 40, which every group writes
    ]
    check(ReduceEngine(config), config, program, *reduce_state(config, rng))


@pytest.mark.parametrize("seed", range(4))
def test_reduce_random_programs(seed):
    config = config_for(8)
    rng = np.random.default_rng(1000 + seed)
    gen = ReduceGen(config, rng)
    check(ReduceEngine(config), config, [gen() for _ in range(12)], *reduce_state(config, rng))


@pytest.mark.slow
@pytest.mark.parametrize("dim", DIMS)
def test_reduce_random_programs_many(dim):
    config = config_for(dim)
    rng = np.random.default_rng(2000 + dim)
    gen = ReduceGen(config, rng)
    for _ in range(10):
        check(ReduceEngine(config), config, [gen() for _ in range(20)], *reduce_state(config, rng))


def test_reduce_streams_one_row_per_cycle():
    """Without post, groups stream back to back: rows + a constant pipeline fill; with post, the RowOpsUnit
    works on group g while group g+1 streams, so a group costs max(rows, unit latency) cycles."""
    config = config_for(8)
    rng = np.random.default_rng(3)
    sp, acc = reduce_state(config, rng)
    plain = [Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.SP, a_base=0, group_rows=4, a_rstride=1,
                   n_groups=n, a_gstride=4, out_row=0, dst_sp=0) for n in (1, 16)]
    cycles = check(ReduceEngine(config), config, plain, sp, acc).cycles()
    assert cycles[1] - cycles[0] == 15 * 4, cycles  # 60 more rows, 60 more cycles
    recip = [Instr(Opcode.REDUCE, rop=ReduceOp.SUM, src=Mem.ACC, post=ReducePost.RECIP, a_base=0,
                   group_rows=g, a_rstride=1, n_groups=n, a_gstride=g, out_row=50) for g, n in ((1, 1), (1, 8))]
    cycles = check(ReduceEngine(config), config, recip, sp, acc).cycles()
    per_group = (cycles[1] - cycles[0]) / 7
    assert per_group <= 36, cycles  # the unit's RECIP latency, not rows + pipeline + latency
