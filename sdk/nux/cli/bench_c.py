"""`nux bench`'s C runtime (libnux): the ENF to hand to C, the device environment, and the rows as Stats.

It lives at the top layer because it needs the compiler (a model that is not an ENF is compiled first, for the
device's NpuConfig, through the session's compile cache, as the Python runtime does) and the simulator build
(libnux opens `sim` but never builds it). The timing itself is nux.clib.bench's C program.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from nux.enf import Enf, StepKind, save_enf
from nux.session.bench import Progress, Stats
from nux.session.source import as_enf, compile_cached

#: Devices libnux has no backend for.
PYTHON_ONLY = ("golden",)


def _skip(reason: str) -> list[Stats]:
    typer.echo(f"runtime c: skipped: {reason}", err=True)
    return []


def _enf_for(model: object, device: str) -> Enf:
    """`model` as an ENF: as is, or compiled for the device's NpuConfig (the Python session's choice)."""
    from nux.driver import Npu

    enf = as_enf(model)
    if enf is not None:
        return enf
    with Npu(device) as npu:
        config, minor = npu.config, npu.version[1]
    return compile_cached(model, config, isa_minor=minor)


def _device_env(enf: Enf, device: str) -> dict[str, str]:
    """libnux's environment: the device string, and for `sim` the simulator library built for the ENF's config."""
    env = {"NUX_DEVICE": device}
    if device.split(",")[0].split(":")[0] == "sim":
        from nux.sim.build import build

        env["NUX_SIM_LIBRARY"] = str(build(enf.config, progress=False).library)
    return env


def c_runtime(model: object, device: str | None, n: int, workers: int, progress: Progress = None) -> list[Stats]:
    """The C rows: sync `model_run` and a task model with `workers` in flight (empty, with the reason printed,
    where libnux cannot run: the golden device, an ENF with host-fallback steps)."""
    from nux.clib import bench
    from nux.session.session import default_device

    device = device or default_device()
    if device.split(",")[0].split(":")[0] in PYTHON_ONLY:
        return _skip(f"libnux has no {device!r} device (it runs sim, xdma and pci)")
    enf = _enf_for(model, device)
    host_steps = sum(step.kind == StepKind.HOST for step in enf.run_steps())
    if host_steps:
        return _skip(f"the ENF has {host_steps} host-fallback step(s), which libnux refuses (run it in Python)")
    with tempfile.TemporaryDirectory(prefix="nux-bench-c-") as tmp:
        path = Path(tmp) / f"{Path(model).stem if isinstance(model, str | os.PathLike) else 'model'}.enf"
        save_enf(enf, path)
        runs = bench.run(path, n, workers, _device_env(enf, device), progress)
    return [Stats("c", r.mode, r.in_flight, r.seconds, r.latencies_us) for r in runs]

