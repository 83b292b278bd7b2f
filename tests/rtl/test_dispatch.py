"""Dispatch-time checks of the RTL (`InstrChecker`, amaranth.sim) against the golden model's checks.

Random instructions are drawn around the interesting values (0, 1, limits, 32-bit extremes, undefined enum
values, reserved bits, every dependency flag) with random program-order token counts, weight-tile state and
arena size; the RTL's first failing ErrorCode must equal the golden model's, and for instructions that pass, the
token channels popped/pushed and the queue must equal what the golden dispatcher records.
"""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator
from nux.golden.checks import CHANNELS, DEP_FLAGS, Tokens, check_arena, check_fields, check_rows, queue_of
from nux.golden.errors import NpuFault
from nux.isa import DecodeError, ErrorCode, Instr, NpuConfig, Opcode, decode, fields_of, opcodes, reserved_masks
from nux.rtl.dispatch import DISPATCHER, InstrChecker
from nux.rtl.isa_layout import RTL_ISA_MINOR

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)
N_CASES = 4000


def golden_code(raw: bytes, tokens: list[int], tile: bool, arena_size: int) -> tuple[int, Instr | None]:
    """The ErrorCode the golden dispatcher gives `raw` (0 when it passes), in the spec's check order."""
    try:
        ins = decode(raw, isa_minor=RTL_ISA_MINOR)
    except DecodeError as exc:
        return (ErrorCode.ILLEGAL_OPCODE if exc.reason == "opcode" else ErrorCode.BAD_FIELD), None
    try:
        check_fields(ins, CONFIG, 0, RTL_ISA_MINOR)
        t = Tokens()
        t.counts = list(tokens)
        t.check(ins, 0)
        if ins.opcode is Opcode.GEMM and not ins.preload and not tile:
            raise NpuFault(ErrorCode.BAD_DEP, 0, "no tile")
        check_rows(ins, CONFIG, 0)
        check_arena(ins, CONFIG, arena_size, 0)
    except NpuFault as fault:
        return fault.code, ins
    return 0, ins


def _value(rng: random.Random, width: int) -> int:
    top = (1 << width) - 1
    return rng.choice([0, 0, 1, 1, 2, 3, rng.randint(0, 8), rng.randint(0, 300) & top, top, top - 1,
                       rng.randint(0, top), 1 << (width - 1)]) & top


def random_instruction(rng: random.Random) -> bytes:
    if rng.random() < 0.05:
        opcode = rng.choice([0, 10, 11, 15])
        return bytes([opcode | rng.randint(0, 15) << 4]) + rng.randbytes(31)
    op = rng.choice(opcodes(RTL_ISA_MINOR))
    words = [0] * 8
    for f in fields_of(op):
        value = int(op) if f.name == "opcode" else (rng.random() < 0.15) if f.width == 1 else _value(rng, f.width)
        if f.name.endswith("_size") or f.name in ("n_rows", "win_x", "win_y"):
            value = value if rng.random() < 0.1 else rng.randint(1, 6)
        if f.name.endswith(("_stride", "_xstride", "_ystride")) or f.name == "dram_offset":
            value = value if rng.random() < 0.3 else rng.randint(0, 64)
        if f.name in ("dst_row", "src_row", "a_base", "b_base", "w_row", "acc_base", "sp_base", "out_base",
                      "param_row"):
            value = value if rng.random() < 0.3 else rng.randint(0, 140)
        words[f.word] |= (int(value) & f.mask) << f.lsb
    if rng.random() < 0.1:
        w = rng.randrange(8)
        free = [b for b in range(32) if reserved_masks(op, RTL_ISA_MINOR)[w] >> b & 1]
        if free:
            words[w] |= 1 << rng.choice(free)
    return b"".join(w.to_bytes(4, "little") for w in words)


def expected_routing(ins: Instr) -> tuple[int, int, int]:
    """(queue, pop bits, push bits) the dispatcher records for a passing instruction."""
    queue = queue_of(ins)
    if queue is None:
        return DISPATCHER, 0, 0
    pops = pushes = 0
    for flag, channel in zip(DEP_FLAGS, CHANNELS[queue], strict=True):
        if channel is not None and ins.values[flag]:
            if flag.startswith("pop"):
                pops |= 1 << channel
            else:
                pushes |= 1 << channel
    return int(queue), pops, pushes


@pytest.mark.rtl
def test_checker_matches_golden():
    rng = random.Random(2024)
    dut = InstrChecker(CONFIG)
    failures: list[str] = []
    codes_seen: set[int] = set()

    async def bench(ctx):
        for _ in range(N_CASES):
            raw = random_instruction(rng)
            tokens = [rng.choice([0, 1, 2, 254, 255]) for _ in range(4)]
            tile = rng.random() < 0.7
            arena_size = rng.choice([0, 64, 4096, 1 << 20, (1 << 32) - 1])
            want, ins = golden_code(raw, tokens, tile, arena_size)
            ctx.set(dut.instr, int.from_bytes(raw, "little"))
            for c, n in enumerate(tokens):
                ctx.set(dut.tokens[c], n)
            ctx.set(dut.weights_loaded, tile)
            ctx.set(dut.arena_size, arena_size)
            got = ctx.get(dut.code)
            codes_seen.add(want)
            if got != want:
                failures.append(f"{raw.hex()} tokens={tokens} tile={tile} arena={arena_size}: "
                                f"golden {ErrorCode(want).name}, rtl {got}")
            elif want == 0:
                routing = (ctx.get(dut.queue), ctx.get(dut.pops), ctx.get(dut.pushes))
                if routing != expected_routing(ins):
                    failures.append(f"{ins}: routing {routing} != {expected_routing(ins)}")

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} mismatches, first: " + "\n".join(failures[:5])
    wanted = {0, ErrorCode.ILLEGAL_OPCODE, ErrorCode.BAD_FIELD, ErrorCode.BAD_DEP, ErrorCode.SPAD_OOB,
              ErrorCode.ARENA_VIOLATION}
    assert wanted <= codes_seen, f"the random instructions never produced {wanted - codes_seen}"
