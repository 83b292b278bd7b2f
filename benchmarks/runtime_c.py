"""libnux on the `sim` device: host overhead per synchronous model_run, task latency and tasks/s.

    python benchmarks/runtime_c.py [--dim 4] [--runs 500] [--tasks 5000] [--batch 8]

The model is the smallest useful one: a program that copies a (2, 8) int8 input to the output (one LOAD, one
STORE), so the figures are dominated by the runtime (ENF tensors in and out, TASK_* registers, doorbell, interrupt,
callbacks) plus the few hundred simulated cycles the NPU needs. For comparison, the Python driver's Npu("sim")
model.run() on the same ENF is timed too. Figures are wall-clock on a shared machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "driver"))


def percentiles(samples: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.array(samples) * 1e6, [50, 95, 99])
    return f"{p50:9.1f} {p95:9.1f} {p99:9.1f}"


def python_runs(enf_path: Path, config, runs: int) -> list[float]:
    from nux.driver import Npu

    with Npu("sim", config=config) as npu:
        model = npu.load(enf_path)
        model.set_input(0, np.zeros((2, 8), dtype=np.int8))
        model.run()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model.run()
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=4, choices=(4, 8))
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    from npu_programs import copy_enf
    from nux.clib import compile_program
    from nux.enf import save_enf
    from nux.isa import TEST_CONFIGS
    from nux.sim.build import build

    config = next(c for c in TEST_CONFIGS if c.dim == args.dim)
    with tempfile.TemporaryDirectory() as tmp:
        enf_path = Path(tmp) / "copy.enf"
        save_enf(copy_enf(config, (2, 8)), enf_path)
        exe = compile_program([ROOT / "benchmarks" / "runtime_c.c"], Path(tmp) / "runtime_c")
        env = {**os.environ, "NUX_DEVICE": "sim", "NUX_SIM_LIBRARY": str(build(config, progress=False).library)}
        out = subprocess.run([str(exe), str(enf_path), str(args.runs), str(args.tasks), str(args.batch)],
                             capture_output=True, text=True, env=env, check=True).stdout
        py = python_runs(enf_path, config, min(args.runs, 200))
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    sync, task = [float(x) for x in lines["sync"]], [float(x) for x in lines["task"]]
    print(f"libnux on sim, dim {config.dim}, copy (2, 8) int8; load average {os.getloadavg()[0]:.1f}")
    print(f"{'what':44} {'p50 us':>9} {'p95 us':>9} {'p99 us':>9}")
    print(f"{'C model_run (sync), ' + str(len(sync)) + ' runs':44} {percentiles(sync)}")
    print(f"{'Python Npu(sim) model.run, ' + str(len(py)) + ' runs':44} {percentiles(py)}")
    print(f"{'C task execute->finish, max_batch ' + str(args.batch):44} {percentiles(task)}")
    print(f"C tasks/s ({len(task)} tasks, max_batch {args.batch}): {float(lines['tasks_per_s'][0]):.0f}")


if __name__ == "__main__":
    main()
