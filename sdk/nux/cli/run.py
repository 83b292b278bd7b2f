"""`nux run OUT.enf --device golden|sim [--input NAME=x.npy ...] [-o out.npz] [--raw]`: run a compiled model
(NPU programs on the device, host fallbacks with onnxruntime) and print its outputs and the perf counters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from nux.errors import NuxError


def _feeds(items: list[str] | None, executor, seed: int, raw: bool) -> dict[str, np.ndarray]:
    """Inputs from NAME=file.npy; random ones (uniform [0, 1) for float inputs, any integer of the stored type
    with --raw or integer inputs) for those not given."""
    given = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise NuxError(f"--input wants NAME=file.npy, got {item!r}")
        given[name] = np.load(path)
    rng = np.random.default_rng(seed)
    for info in executor.inputs():
        if info.name in given:
            continue
        if executor.io_dtypes.get(info.name) == "float32" and not raw:
            given[info.name] = rng.random(info.shape, dtype=np.float32)
        else:
            limits = np.iinfo(info.dtype.numpy)
            given[info.name] = rng.integers(limits.min, limits.max + 1, info.shape).astype(info.dtype.numpy)
    return given


def run_command(
    enf: Annotated[Path, typer.Argument(help="compiled model", metavar="OUT.enf")],
    device: Annotated[str, typer.Option("-d", "--device", help="golden, sim, xdma[:N], ...")] = "golden",
    inputs: Annotated[Optional[list[str]], typer.Option("--input", help="NAME=x.npy (repeatable)")] = None,  # noqa: UP045
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="write outputs to .npz")] = None,  # noqa: UP045
    raw: Annotated[bool, typer.Option("--raw", help="exchange the NPU's stored integers")] = False,
    seed: Annotated[int, typer.Option(help="seed of the random inputs")] = 0,
) -> None:
    """Run OUT.enf once (or k times for inputs k times the compiled batch) and print outputs and counters."""
    from tqdm import tqdm

    from nux.executor import Executor

    with Executor(enf, device) as ex:
        feeds = _feeds(inputs, ex, seed, raw)
        bar = tqdm(desc="run", unit="inference", leave=False, disable=None)

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        outputs = ex.run(feeds, raw=raw, progress=advance)
        bar.close()
        for name, value in outputs.items():
            typer.echo(f"{name}: {value.dtype} {tuple(value.shape)}  min {value.min():.6g}  max {value.max():.6g}")
        perf = ex.last_perf
        dim = ex.enf.config.dim
        util = perf.get("MACS", 0) / max(1, perf.get("CYCLES", 0) * dim * dim)
        typer.echo("perf: " + "  ".join(f"{k.lower()}={v}" for k, v in perf.items()) +
                   f"  utilization={100 * util:.1f}%")
    if output is not None:
        np.savez(output, **outputs)
        typer.echo(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
