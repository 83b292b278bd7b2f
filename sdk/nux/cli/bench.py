"""`nux bench MODEL --device D [-n N] [--workers K] [--json OUT]`: end-to-end inferences/s and latency
(min, mean, p50, p95, p99 µs) of each runtime, synchronous and with K requests in flight.

Runtimes are listed in RUNTIMES as "module:function" and imported on demand; a function takes
`(model, device, n, workers, progress)` and returns a list of `nux.session.bench.Stats`. The C runtime
(libnux) plugs in by adding its entry here; a runtime whose module is not there yet is skipped (or, when asked
for by name with --runtime, reported as an error).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nux.errors import NuxError

RUNTIMES: dict[str, str] = {
    "python": "nux.session.bench:python_runtime",
    "c": "nux.cli.bench_c:c_runtime",
}


def _runner(name: str, required: bool):
    module_name, _, function = RUNTIMES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name) and not required:
            return None
        raise NuxError(f"runtime {name!r} is not available: {exc}") from None
    return getattr(module, function)


def bench_command(
    model: Annotated[Path, typer.Argument(help="ENF, quantized ONNX or TFLite model", metavar="MODEL")],
    device: Annotated[Optional[str], typer.Option("-d", "--device",  # noqa: UP045
                                                  help="golden, sim, xdma[:N], pci:BDF (default $NUX_DEVICE)")] = None,
    n: Annotated[int, typer.Option("-n", help="inferences per mode", min=1)] = 50,
    workers: Annotated[int, typer.Option("--workers", help="requests in flight (async)", min=1)] = 4,
    runtime: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--runtime", help=f"runtimes to measure (default: every available one of {', '.join(RUNTIMES)})")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="write the rows as JSON")] = None,  # noqa: UP045
) -> None:
    """Measure end-to-end throughput and latency of MODEL on a device (compiling it first if it is not an ENF)."""
    from tqdm import tqdm

    from nux.session import default_device
    from nux.session.bench import stats_table

    device = device or default_device()
    unknown = sorted(set(runtime or []) - set(RUNTIMES))
    if unknown:
        raise NuxError(f"unknown runtime(s) {unknown}; known: {sorted(RUNTIMES)}")
    if json_out is not None and not json_out.parent.is_dir():  # say so before minutes of measuring
        raise NuxError(f"--json {json_out}: folder {json_out.parent} does not exist")
    stats = []
    for name in runtime or list(RUNTIMES):
        run = _runner(name, required=runtime is not None)
        if run is None:
            continue
        with tqdm(total=2 * n, desc=f"bench {name}", unit="inference", leave=False, disable=None) as bar:
            stats += run(model, device, n, workers, bar.update)
    typer.echo(stats_table(stats))
    if json_out is not None:
        json_out.write_text(json.dumps({"model": str(model), "device": device, "rows": [s.row() for s in stats]},
                                       indent=1))
        typer.echo(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
