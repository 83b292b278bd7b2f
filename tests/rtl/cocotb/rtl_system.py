"""pytest-side helpers of the RTL system tests: cases, the golden reference run, the Verilator build, comparison.

A `Case` is what the host does: put bytes in DRAM, submit tasks, wait. `golden_outcome` plays it on
`nux.golden.GoldenDevice` through the same registers the cocotb bench (nux_tb.py) uses on the RTL, so both sides
are observed identically. `NpuSim` builds the Verilog once per configuration (content-hashed, file-locked, cached)
and runs a batch of cases in one simulation.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock
from nux.driver.golden_backend import GoldenDevice
from nux.isa import DETERMINISTIC_COUNTERS, PERF, REG, Instr, NpuConfig, Status, assemble
from nux.rtl.isa_layout import RTL_ISA_MINOR

HERE = Path(__file__).resolve().parent
DRAM_SIZE = 1 << 16
KEEP_BUILDS = 4  # Verilator builds kept in the cache (one per config and RTL version)
OBSERVED_REGS = ("STATUS", "FAULT_PC", "FAULT_TAG", "COMPLETED", "LAST_TAG", "IRQ_STATUS", "CMDQ_FREE")


@dataclass
class Case:
    """One host interaction: DRAM image, tasks (prog_base, prog_len, arena_base, arena_size, tag), regions."""

    name: str
    dram: list[tuple[int, bytes]]
    tasks: list[tuple[int, int, int, int, int]]
    regions: list[tuple[int, int]] = field(default_factory=lambda: [(0, DRAM_SIZE)])
    max_cycles: int = 400_000
    #: when > 0: write CTRL.RESET this many cycles after the doorbells, in the middle of the work
    abort_after: int = 0
    #: compare INSTRET and DMA byte counters (not for data-bus errors: the golden model detects those before
    #: executing the instruction, the hardware while executing it, so how much it counted is not architectural)
    check_counters: bool = True


def aborted(case: Case, cycles: int) -> Case:
    """`case` cut short by CTRL.RESET after `cycles`: the NPU must be idle and clean right after the write."""
    return Case(f"{case.name}-abort@{cycles}", case.dram, case.tasks, regions=[], abort_after=cycles)


def program_case(name: str, program: list[Instr], data: list[tuple[int, bytes]] = (), arena_base: int = 0x1000,
                 arena_size: int = 0x8000, tag: int = 0x55, extra_tasks: int = 0) -> Case:
    """A case that runs `program` at the start of its arena (data offsets are arena offsets)."""
    code = assemble(program)
    dram = [(arena_base, code)] + [(arena_base + off, bytes(b)) for off, b in data]
    tasks = [(arena_base, len(program), arena_base, arena_size, tag + i) for i in range(1 + extra_tasks)]
    return Case(name, dram, tasks)


def golden_outcome(config: NpuConfig, case: Case, timeout: float = 60.0) -> dict:
    """What GoldenDevice shows after the case: the registers, counters, IRQ line and DRAM regions.

    For an aborted case: the state CTRL.RESET | PERF_CLEAR leaves (docs/isa.md section 6), whatever ran before.
    """
    if case.abort_after:
        regs = dict.fromkeys(OBSERVED_REGS, 0)
        regs["CMDQ_FREE"] = config.cmdq_depth
        return {"name": case.name, "regs": regs, "counters": dict.fromkeys(PERF, 0), "irq": 0, "regions": []}
    with GoldenDevice(config, dram_size=DRAM_SIZE, isa_minor=RTL_ISA_MINOR) as dev:
        dev.write32(REG["IRQ_ENABLE"], 3)
        for addr, data in case.dram:
            dev.write(addr, data)
        for prog_base, prog_len, arena_base, arena_size, tag in case.tasks:
            for name, value in (("TASK_PROG_BASE_LO", prog_base & 0xFFFFFFFF), ("TASK_PROG_BASE_HI", prog_base >> 32),
                                ("TASK_PROG_LEN", prog_len), ("TASK_ARENA_BASE_LO", arena_base & 0xFFFFFFFF),
                                ("TASK_ARENA_BASE_HI", arena_base >> 32), ("TASK_ARENA_SIZE", arena_size),
                                ("TASK_TAG", tag), ("DOORBELL", 1)):
                dev.write32(REG[name], value)
        deadline = time.monotonic() + timeout
        while True:
            status = dev.read32(REG["STATUS"])
            if status & Status.ERROR or not status & Status.BUSY:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"golden device did not finish case {case.name}")
            time.sleep(0.001)
        regs = {name: dev.read32(REG[name]) for name in OBSERVED_REGS}
        counters = {}
        for name, offset in PERF.items():
            lo = dev.read32(offset)
            counters[name] = dev.read32(offset + 4) << 32 | lo
        irq = int(bool(regs["IRQ_STATUS"] & dev.read32(REG["IRQ_ENABLE"])))
        regions = [dev.read(addr, n).hex() for addr, n in case.regions]
    return {"name": case.name, "regs": regs, "counters": counters, "irq": irq, "regions": regions}


def mismatches(expected: dict, observed: dict, check_counters: bool = True) -> list[str]:
    """Human-readable differences (deterministic state only: CYCLES and STALL_* are timing)."""
    out = []
    if observed.get("timeout"):
        out.append("timed out (STATUS still BUSY)")
    for name in OBSERVED_REGS:
        if expected["regs"][name] != observed["regs"][name]:
            out.append(f"{name}: golden 0x{expected['regs'][name]:x}, rtl 0x{observed['regs'][name]:x}")
    for name in DETERMINISTIC_COUNTERS if check_counters else ():
        if expected["counters"][name] != observed["counters"][name]:
            out.append(f"{name}: golden {expected['counters'][name]}, rtl {observed['counters'][name]}")
    if expected["irq"] != observed["irq"]:
        out.append(f"irq: golden {expected['irq']}, rtl {observed['irq']}")
    for i, (e, o) in enumerate(zip(expected["regions"], observed["regions"], strict=True)):
        if e != o:
            eb, ob = bytes.fromhex(e), bytes.fromhex(o)
            diff = np.flatnonzero(np.frombuffer(eb, np.uint8) != np.frombuffer(ob, np.uint8))
            out.append(f"region {i}: {diff.size} bytes differ, first at +0x{diff[0]:x} "
                       f"(golden {eb[diff[0]]:#04x}, rtl {ob[diff[0]]:#04x})")
    return out


class NpuSim:
    """A Verilator build of nux_npu for one config, cached by the hash of its Verilog, run through cocotb."""

    def __init__(self, config: NpuConfig, cache_root: Path):
        from nux.rtl.verilog import generate_verilog
        from nux.toolchain import ensure_verilator_on_path

        ensure_verilator_on_path()
        self.config = config
        text = generate_verilog(config)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.build_dir = Path(cache_root) / f"nux_npu_{digest}"
        self.build_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.build_dir) + ".lock"):
            source = self.build_dir / "nux_npu.v"
            if not (self.build_dir / "built.ok").exists():
                source.write_text(text)
                self._build(source)
                (self.build_dir / "built.ok").write_text("ok\n")
                self._prune(Path(cache_root))

    def _prune(self, cache_root: Path, keep: int = KEEP_BUILDS) -> None:
        """Drop the oldest builds (each RTL change makes a new one) so the cache stays bounded."""
        builds = sorted((d for d in cache_root.glob("nux_npu_*") if d.is_dir() and d != self.build_dir),
                        key=lambda d: d.stat().st_mtime, reverse=True)
        for old in builds[keep - 1:]:
            shutil.rmtree(old, ignore_errors=True)
            Path(str(old) + ".lock").unlink(missing_ok=True)

    def _build(self, source: Path) -> None:
        from cocotb_tools.runner import get_runner
        from nux.toolchain import VERILATOR_MAKEFLAGS

        runner = get_runner("verilator")
        # cocotb runs `make` itself, so the PCH fix must also reach it: variable definitions in the MAKEFLAGS
        # environment variable act like make command-line overrides.
        pch_fix = VERILATOR_MAKEFLAGS[1]
        saved = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = f"{saved} {pch_fix}" if saved else pch_fix
        try:
            runner.build(sources=[source], hdl_toplevel="nux_npu", build_dir=self.build_dir,
                         build_args=[*VERILATOR_MAKEFLAGS, "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign",
                                     "fast", "--x-initial", "fast", "-O2"],
                         always=True, log_file=self.build_dir / "build.log")
        finally:
            if saved is None:
                del os.environ["MAKEFLAGS"]
            else:
                os.environ["MAKEFLAGS"] = saved

    def run(self, cases: list[Case], workdir: Path, seed: int = 1, pause: float = 0.3) -> list[dict]:
        """Run all cases in one simulation; return the observed outcome of each (in order)."""
        from cocotb_tools.runner import get_runner

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        cases_path, results_path = workdir / "cases.pkl", workdir / "results.json"
        cases_path.write_bytes(pickle.dumps([types.SimpleNamespace(**asdict(c)) for c in cases]))
        if results_path.exists():
            results_path.unlink()
        runner = get_runner("verilator")
        env = {"NUX_TB_CASES": str(cases_path), "NUX_TB_RESULTS": str(results_path), "NUX_TB_SEED": str(seed),
               "NUX_TB_PAUSE": str(pause), "NUX_TB_DRAM": str(DRAM_SIZE)}
        if str(HERE) not in sys.path:  # the runner hands this process's sys.path to the simulator's Python
            sys.path.insert(0, str(HERE))
        runner.test(test_module="nux_tb", hdl_toplevel="nux_npu", hdl_toplevel_lang="verilog",
                    build_dir=self.build_dir, test_dir=workdir, extra_env=env,
                    results_xml=str(workdir / "results.xml"), log_file=workdir / "sim.log")
        if not results_path.exists():
            log = (workdir / "sim.log").read_text()[-3000:] if (workdir / "sim.log").exists() else ""
            raise RuntimeError(f"the cocotb bench wrote no results; end of its log:\n{log}")
        return json.loads(results_path.read_text())
