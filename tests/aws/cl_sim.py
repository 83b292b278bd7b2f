"""Build and run the CL core (nux_cl_core + nux_npu) under cocotb on Verilator, for the tests in tests/aws.

The build is cached by the hash of the two Verilog files (file-locked, so parallel test workers share it).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock

HERE = Path(__file__).resolve().parent
BENCH = HERE / "cocotb"
DDR_BYTES = 1 << 20
KEEP_BUILDS = 2


@dataclass
class Job:
    """One host interaction: images to write through PCIS, one task, where the output lies."""

    name: str
    images: list[tuple[int, bytes]]
    task: tuple[int, int, int, int, int]  # prog_base, prog_len, arena_base, arena_size, tag
    output: tuple[int, int]  # DDR address, bytes
    by_irq: bool = True  # wait for the interrupt (else poll STATUS)
    abort_after: int = 0  # > 0: run the task once and CTRL.RESET it after this many cycles, then run it again
    side_traffic: int = 0  # > 0: host PCIS traffic to this DDR address while the task runs
    max_cycles: int = 2_000_000
    extra: dict = field(default_factory=dict)


class ClSim:
    """A Verilator build of nux_cl_core for one config and shell."""

    def __init__(self, config, shell, cache_root: Path | None = None):
        from nux.aws.generate import generate_core
        from nux.rtl.verilog import generate_verilog
        from nux.toolchain import ensure_verilator_on_path

        ensure_verilator_on_path()
        if cache_root is None:
            from nux.sim.build import cache_dir

            cache_root = cache_dir().parent / "cl-sim"
        texts = {"nux_npu.v": generate_verilog(config), "nux_cl_core.v": generate_core(config, shell)}
        digest = hashlib.sha256("".join(texts.values()).encode()).hexdigest()[:16]
        self.build_dir = Path(cache_root) / f"nux_cl_core_{digest}"
        self.build_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.build_dir) + ".lock"):
            if not (self.build_dir / "built.ok").exists():
                for name, text in texts.items():
                    (self.build_dir / name).write_text(text)
                self._build([self.build_dir / name for name in texts])
                (self.build_dir / "built.ok").write_text("ok\n")
                self._prune(Path(cache_root))

    def _prune(self, cache_root: Path) -> None:
        """Keep the newest KEEP_BUILDS builds (each is ~165 MB; every RTL change makes a new one)."""
        builds = sorted((d for d in cache_root.glob("nux_cl_core_*") if d.is_dir() and d != self.build_dir),
                        key=lambda d: d.stat().st_mtime, reverse=True)
        for old in builds[KEEP_BUILDS - 1:]:
            shutil.rmtree(old, ignore_errors=True)
            Path(str(old) + ".lock").unlink(missing_ok=True)

    def _build(self, sources: list[Path]) -> None:
        from cocotb_tools.runner import get_runner
        from nux.toolchain import VERILATOR_MAKEFLAGS

        saved = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = f"{saved or ''} {VERILATOR_MAKEFLAGS[1]}".strip()  # cocotb runs make itself
        try:
            get_runner("verilator").build(
                sources=sources, hdl_toplevel="nux_cl_core", build_dir=self.build_dir, always=True,
                build_args=[*VERILATOR_MAKEFLAGS, "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                            "--x-initial", "fast", "-O2"],
                log_file=self.build_dir / "build.log")
        finally:
            if saved is None:
                del os.environ["MAKEFLAGS"]
            else:
                os.environ["MAKEFLAGS"] = saved

    def run(self, jobs: list[Job] | object, workdir: Path, seed: int = 1, pause: float = 0.2,
            bench: str = "cl_tb") -> dict:
        """Run `bench` (a module in tests/aws/cocotb) on `jobs` (Jobs for cl_tb, anything picklable otherwise)."""
        from cocotb_tools.runner import get_runner

        workdir.mkdir(parents=True, exist_ok=True)
        jobs_path, results_path = workdir / "jobs.pkl", workdir / "results.json"
        if isinstance(jobs, list) and all(isinstance(j, Job) for j in jobs):
            jobs = [types.SimpleNamespace(**asdict(j)) for j in jobs]
        jobs_path.write_bytes(pickle.dumps(jobs))
        results_path.unlink(missing_ok=True)
        if str(BENCH) not in sys.path:  # the runner hands this process's sys.path to the simulator's Python
            sys.path.insert(0, str(BENCH))
        env = {"NUX_TB_JOBS": str(jobs_path), "NUX_TB_RESULTS": str(results_path), "NUX_TB_SEED": str(seed),
               "NUX_TB_PAUSE": str(pause), "NUX_TB_DDR": str(DDR_BYTES)}
        get_runner("verilator").test(test_module=bench, hdl_toplevel="nux_cl_core", hdl_toplevel_lang="verilog",
                                     build_dir=self.build_dir,
                                     test_dir=workdir, extra_env=env, results_xml=str(workdir / "results.xml"),
                                     log_file=workdir / "sim.log")
        if not results_path.exists():
            log = (workdir / "sim.log").read_text()[-3000:] if (workdir / "sim.log").exists() else ""
            raise RuntimeError(f"the cocotb bench wrote no results; end of its log:\n{log}")
        return json.loads(results_path.read_text())
