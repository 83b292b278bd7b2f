"""System tests: the Verilated nux_npu (cocotb + cocotbext-axi) against the golden model, bit for bit.

Every case is played on GoldenDevice and on the RTL through the same MMIO sequence; the final STATUS, FAULT_*,
COMPLETED, LAST_TAG, IRQ_STATUS/irq line, CMDQ_FREE, deterministic perf counters and the whole 64 KiB DRAM must be
equal. DRAM answers with seeded random ready/valid pauses on every AXI channel. One Verilator build per config
(cached by Verilog hash) and one simulation per test runs all its cases, resetting through CTRL.RESET between them,
so a case passing after an error case also shows that the reset recovers the core.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "cocotb"))
sys.path.insert(0, str(HERE))

from nux.compiler.lower.tiled_gemm import tiled_gemm_program, tiled_gemm_requant_program  # noqa: E402
from nux.isa import STATUS, ErrorCode, Instr, NpuConfig, assemble  # noqa: E402
from randprog import RandomProgram  # noqa: E402
from rtl_system import DRAM_SIZE, Case, NpuSim, aborted, golden_outcome, mismatches, program_case  # noqa: E402

pytestmark = pytest.mark.rtl

CI_CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)
ARENA_BASE = 0x1000


@pytest.fixture(scope="session")
def rtl_cache(request, tmp_path_factory) -> Path:
    """pytest's cache keeps cocotb builds across runs; without the cache plugin (-p no:cacheprovider) a temp dir."""
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("nux_rtl_builds")) if cache is not None else tmp_path_factory.mktemp("nux_rtl_builds")


def random_case(config: NpuConfig, seed: int, kinds: tuple[str, ...] = RandomProgram.KINDS, length: int = 24) -> Case:
    rp = RandomProgram(config, seed, kinds=kinds, length=length)
    lay = rp.layout
    data = np.random.default_rng(seed).integers(0, 256, lay.input_bytes, dtype=np.uint8).tobytes()
    return program_case(f"random-{'+'.join(kinds) if kinds != RandomProgram.KINDS else 'all'}-{seed}", rp.instrs,
                        [(lay.input_offset, data)], arena_base=ARENA_BASE, arena_size=lay.arena_size,
                        tag=seed & 0xFFFF)


def check_all(config: NpuConfig, sim: NpuSim, cases: list[Case], workdir: Path, seed: int = 1,
              pause: float = 0.3) -> None:
    observed = sim.run(cases, workdir, seed=seed, pause=pause)
    assert [o["name"] for o in observed] == [c.name for c in cases]
    failures = []
    for case, obs in zip(cases, observed, strict=True):
        problems = mismatches(golden_outcome(config, case), obs, case.check_counters)
        if problems:
            failures.append(f"{case.name}: " + "; ".join(problems[:6]))
    assert not failures, f"{len(failures)}/{len(cases)} cases differ from the golden model:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------------- case families

def class_cases(config: NpuConfig, seeds: range) -> list[Case]:
    """Each instruction class on its own (with the loads that feed it and the dump that shows its results)."""
    families = [("load",), ("load", "store"), ("gemm",), ("requant",), ("vector",), ("pool",), ("nop", "sync"),
                ("gemm", "requant", "store")]
    return [random_case(config, seed, kinds) for kinds in families for seed in seeds]


def _with_bit(code: bytes, bit: int) -> bytes:
    out = bytearray(code)
    out[bit // 8] |= 1 << (bit % 8)
    return bytes(out)


def error_cases(config: NpuConfig) -> list[Case]:
    """Error programs: each check, after real work (so 'everything before the fault done' is visible)."""
    dim = config.dim
    work = [Instr("load", dram_offset=0x400, x_size=8, x_stride=dim, push_next=1),
            Instr("nop", queue=1, pop_prev=1, push_next=1),
            Instr("store", dram_offset=0x800, x_size=8, x_stride=dim + 1, pop_prev=1)]
    data = [(0x400, bytes(range(7, 7 + 8 * dim)))]
    bad: dict[str, Instr | bytes] = {
        "illegal-opcode-0": bytes(32),
        "illegal-opcode-15": bytes([0x0F]) + bytes(31),
        "reserved-bit": _with_bit(Instr("load").encode(), 10),  # word 0 bit 10: between dst and pad_value
        "size-zero": Instr("gemm", preload=1, x_size=0),
        "row-elems": Instr("load", row_elems=dim + 1),
        "dst-enum": Instr("load", dst=3),
        "store-lut": Instr("store", src=2),
        "vop-enum": Instr("vector", vop=7),
        "pop-enum": Instr("pool", pop=2),
        "nop-queue": Instr("nop", queue=3),
        "end-flags": bytes([0x18]) + bytes(31),
        "pop-no-token": Instr("store", pop_prev=1),
        "load-pop-prev": Instr("load", pop_prev=1),
        "store-push-next": Instr("store", push_next=1),
        "gemm-no-tile": Instr("gemm", preload=0),
        "sp-oob-load": Instr("load", dst_row=config.sp_rows - 2, x_size=3),
        "acc-oob-gemm": Instr("gemm", preload=1, acc_base=config.acc_rows - 1, x_size=2),
        "lut-oob": Instr("load", dst=2, dst_row=config.lut_rows - 1, x_size=1, y_size=2),
        "sp-oob-pool": Instr("pool", a_base=10, win_y=3, win_ystride=config.sp_rows // 2),
        "param-oob-vector": Instr("vector", vop=0, param_row=config.acc_rows - 5),
        "arena-load": Instr("load", dram_offset=0x8000 - dim + 1),
        "arena-store-z": Instr("store", src=1, dram_offset=0x100, z_size=3, z_stride=0x4000),
    }
    cases = []
    for name, instr in bad.items():
        raw = instr if isinstance(instr, bytes) else instr.encode()
        case = program_case(f"error-{name}", [*work, Instr("end")], data, arena_base=ARENA_BASE)
        # splice the bad instruction in before END
        prog = case.dram[0][1]
        case.dram[0] = (ARENA_BASE, prog[: 3 * 32] + raw + prog[3 * 32:])
        case.tasks = [(ARENA_BASE, 5, ARENA_BASE, 0x8000, 0x77)]
        cases.append(case)
    push = Instr("nop", queue=0, push_next=1)
    cases.append(program_case("error-token-overflow", [push] * 256 + [Instr("end")], arena_base=ARENA_BASE))
    cases.append(program_case("error-overrun", work, data, arena_base=ARENA_BASE))
    ok = [Instr("end")]
    for name, task in {
        "misaligned": (ARENA_BASE + 8, 1, ARENA_BASE, 0x8000, 1),
        "len-zero": (ARENA_BASE, 0, ARENA_BASE, 0x8000, 2),
        "outside-arena": (ARENA_BASE, 1, ARENA_BASE + 0x20, 0x8000, 3),
        "past-address-space": (ARENA_BASE, 1, ARENA_BASE, (1 << config.dram_addr_bits) - 0x800, 4),
    }.items():
        case = program_case(f"bad-task-{name}", ok, arena_base=ARENA_BASE)
        case.tasks = [task]
        cases.append(case)
    # BUS_ERROR: DRAM (64 KiB here) answers SLVERR past its end, inside a valid arena
    fetch_past = program_case("bus-error-fetch", [*work, Instr("end")], data, arena_base=0x8000, arena_size=0x10000)
    fetch_past.dram = [(DRAM_SIZE - 64, fetch_past.dram[0][1][:64]), (0x8000 + 0x400, data[0][1])]
    fetch_past.tasks = [(DRAM_SIZE - 64, 4, 0x8000, 0x10000, 0x42)]  # instruction 2 lies past the DRAM
    cases.append(fetch_past)
    load_past = program_case("bus-error-load", [*work[:1], Instr("nop", queue=1, pop_prev=1), Instr("end")], data,
                             arena_base=0x8000, arena_size=0x10000)
    load_past.dram[0] = (0x8000, assemble([Instr("load", dram_offset=DRAM_SIZE - 0x8000 - 8, x_size=4,
                                                 x_stride=dim, push_next=1)]) + load_past.dram[0][1][32:])
    load_past.check_counters = False
    cases.append(load_past)
    # a faulting first task keeps the queued ones from starting; the next case shows the reset recovers
    case = program_case("error-then-queued", [Instr("gemm", preload=0)], arena_base=ARENA_BASE, extra_tasks=2)
    cases.append(case)
    cases.append(program_case("after-reset", [*work, Instr("end")], data, arena_base=ARENA_BASE, extra_tasks=2))
    return cases


def check_error_codes_covered(cases: list[Case], config: NpuConfig) -> None:
    """The error family must exercise every dispatch-visible ErrorCode (so a dropped case is noticed)."""
    codes = set()
    for case in cases:
        outcome = golden_outcome(config, case)
        codes.add(STATUS.field("ERROR_CODE").get(outcome["regs"]["STATUS"]))
    wanted = {ErrorCode.ILLEGAL_OPCODE, ErrorCode.BAD_FIELD, ErrorCode.BAD_DEP, ErrorCode.SPAD_OOB,
              ErrorCode.ARENA_VIOLATION, ErrorCode.PROGRAM_OVERRUN, ErrorCode.BAD_TASK, ErrorCode.BUS_ERROR}
    assert wanted <= codes, f"error cases miss {sorted(ErrorCode(c).name for c in wanted - codes)}"


def gemm_case(config: NpuConfig, M: int, K: int, N: int, requant: bool, seed: int) -> Case:  # noqa: N803
    """The ENF-level tiled GEMM programs of nux.compiler.lower (double-buffered, all three queues overlap)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    b = rng.integers(-128, 128, (K, N), dtype=np.int8)
    if requant:
        program, layout = tiled_gemm_requant_program(config, M, K, N, a_zp=3, w_zp=-2, out_zp=-5)
        bias = rng.integers(-5000, 5000, N, dtype=np.int32)
        m = rng.integers(1 << 29, 1 << 30, N, dtype=np.int32)
        s = rng.integers(-10, -6, N, dtype=np.int32)
        images = layout.images(a, b, bias, m, s, w_zp=-2)
    else:
        program, layout = tiled_gemm_program(config, M, K, N, a_zp=-7, w_zp=5)
        images = layout.images(a, b, w_zp=5)
    prog_offset = -(-layout.end // 32) * 32
    case = program_case(f"gemm-{'requant' if requant else 'int32'}-{M}x{K}x{N}", program, images,
                        arena_base=ARENA_BASE, arena_size=prog_offset + 32 * len(program))
    code = case.dram[0][1]
    case.dram[0] = (ARENA_BASE + prog_offset, code)
    case.tasks = [(ARENA_BASE + prog_offset, len(program), ARENA_BASE, prog_offset + 32 * len(program), 0x6E)]
    return case


# ---------------------------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def ci_sim(rtl_cache) -> NpuSim:
    return NpuSim(CI_CONFIG, rtl_cache)


def test_instruction_classes_and_errors(ci_sim, tmp_path):
    """Every instruction class, every error code, reset recovery, multi-task queues: one simulation."""
    errors = error_cases(CI_CONFIG)
    check_error_codes_covered(errors, CI_CONFIG)
    check_all(CI_CONFIG, ci_sim, class_cases(CI_CONFIG, range(2)) + errors, tmp_path, seed=11)


@pytest.mark.parametrize("pause", [0.0, 0.3], ids=["full-speed", "backpressure"])
def test_enf_gemm_programs(ci_sim, tmp_path, pause):
    """The tiled GEMM programs the foundation tests use (int32 out, and requant + ReLU), larger than SP/ACC."""
    cases = [gemm_case(CI_CONFIG, 13, 10, 11, True, 1), gemm_case(CI_CONFIG, 70, 17, 9, True, 2),
             gemm_case(CI_CONFIG, 100, 20, 24, False, 3)]
    check_all(CI_CONFIG, ci_sim, cases, tmp_path, seed=3, pause=pause)


def test_reset_aborts_running_task(ci_sim, tmp_path):
    """CTRL.RESET in the middle of DMA-heavy work: idle and clean at once, then the same work runs correctly."""
    work = gemm_case(CI_CONFIG, 70, 17, 9, True, 2)
    cases = []
    for cycles in (40, 150, 400, 1000, 2500):
        cases += [aborted(work, cycles), work]
    check_all(CI_CONFIG, ci_sim, cases, tmp_path, seed=4)


def test_random_programs(ci_sim, tmp_path):
    """200 seeded random valid programs (race-free tokens), random AXI back-pressure."""
    check_all(CI_CONFIG, ci_sim, [random_case(CI_CONFIG, seed) for seed in range(200)], tmp_path, seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("config", [NpuConfig(dim=8, sp_rows=512, acc_rows=256),
                                    NpuConfig(dim=16, sp_rows=1024, acc_rows=512, axi_data_bits=128)],
                         ids=["dim8", "dim16"])
def test_sweep(config, rtl_cache, tmp_path):
    sim = NpuSim(config, rtl_cache)
    cases = class_cases(config, range(3)) + error_cases(config) + [random_case(config, s) for s in range(1000, 1400)]
    check_all(config, sim, cases, tmp_path, seed=9, pause=0.2)
