"""The C bench program (nux_bench.c): libnux's end-to-end latency, sync and with K tasks in flight, timed in C.

Why a C program and not ctypes: the figures are meant to be libnux's own, with no Python in the timed loop. The
program is built against the cached libnux (`nux.clib.build`) and cached next to it under a hash of its source,
so `nux bench` compiles it once. This module only builds and runs it and parses its two result lines; choosing
the ENF and the device is `nux.cli.bench_c`'s job (this layer may not import the compiler or the simulator).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from nux.clib import ClibError, build, compile_program
from nux.errors import NuxError

SOURCE = Path(__file__).resolve().parent / "nux_bench.c"
MODES = {"sync": "sync", "task": "async"}  # the program's line name -> the mode `nux bench` reports


class CBenchError(NuxError):
    """The C bench program failed (a libnux error, e.g. the device could not be opened)."""


@dataclass(frozen=True)
class CRun:
    """One mode measured by the C program: wall time of the n inferences and each one's latency (µs)."""

    mode: str
    in_flight: int
    seconds: float
    latencies_us: tuple[float, ...]


def program() -> Path:
    """The bench executable, built against the current libnux unless the cache has it already."""
    clib = build()
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    exe = clib.root / "bin" / f"nux_bench-{digest}"
    exe.parent.mkdir(exist_ok=True)
    with FileLock(str(exe.with_suffix(".lock"))):
        if not exe.is_file():
            tmp = exe.with_name(exe.name + ".tmp")
            compile_program([SOURCE], tmp)
            os.replace(tmp, exe)
    return exe


def parse(line: str, workers: int) -> CRun:
    """A result line, "sync|task SECONDS LAT_US...", as a CRun."""
    name, seconds, *latencies = line.split()
    if name not in MODES:
        raise ClibError(f"nux_bench printed an unexpected line: {line[:80]!r}")
    return CRun(MODES[name], 1 if name == "sync" else workers, float(seconds), tuple(map(float, latencies)))


def run(enf_path: Path, n: int, workers: int, env: Mapping[str, str],
        progress: Callable[[int], None] | None = None) -> list[CRun]:
    """Run the bench program on `enf_path` (n inferences per mode, `workers` tasks in flight) with `env` added to
    the environment (NUX_DEVICE, NUX_SIM_LIBRARY); `progress(n)` after each mode."""
    cmd = [str(program()), str(enf_path), str(n), str(workers)]
    runs = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **env}) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            runs.append(parse(line, workers))
            if progress:
                progress(n)
        error = proc.stderr.read().strip()
    if proc.returncode:
        raise CBenchError(f"the C bench failed on {enf_path.name} (exit {proc.returncode}): {error[:2000]}")
    return runs
