"""End-to-end throughput and latency of a session: synchronous runs, and asynchronous ones with K in flight.

Latency is measured per inference from the call (`run`, or `submit`) to its result being available in Python,
so it includes quantizing inputs, DMA, the device, host fallbacks and dequantizing outputs. The asynchronous
client is closed-loop: it keeps exactly K inferences outstanding, so latency is not inflated by a queue that
grows without bound. Used by `nux bench` and benchmarks/runtime.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nux.session.report import render
from nux.session.session import Session
from nux.session.tensors import TensorDesc

Progress = Callable[[int], None] | None  # called with the number of inferences just finished


@dataclass(frozen=True)
class Stats:
    """n inferences of one runtime and mode: wall time and per-inference latencies (µs)."""

    runtime: str
    mode: str
    in_flight: int
    seconds: float
    latencies_us: tuple[float, ...]

    def row(self) -> dict[str, object]:
        lat = np.asarray(self.latencies_us)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        return {"runtime": self.runtime, "mode": self.mode, "in_flight": self.in_flight, "n": len(lat),
                "inferences_per_s": len(lat) / self.seconds, "min_us": float(lat.min()),
                "mean_us": float(lat.mean()), "p50_us": float(p50), "p95_us": float(p95), "p99_us": float(p99)}


def random_inputs(descs: Sequence[TensorDesc], seed: int = 0) -> list[np.ndarray]:
    """One input per tensor: uniform [0, 1) for float inputs, any value of the type for integer ones."""
    rng = np.random.default_rng(seed)
    out = []
    for d in descs:
        if np.issubdtype(d.dtype, np.floating):
            out.append(rng.random(d.shape, dtype=np.float32).astype(d.dtype))
        else:
            limits = np.iinfo(d.dtype)
            out.append(rng.integers(limits.min, limits.max + 1, d.shape).astype(d.dtype))
    return out


def measure_sync(sess: Session, inputs: object, n: int, progress: Progress = None, runtime: str = "python"
                 ) -> Stats:
    """n calls of `sess.run(inputs)`, one after the other."""
    latencies = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        sess.run(inputs)
        latencies.append((time.perf_counter() - t) * 1e6)
        if progress:
            progress(1)
    return Stats(runtime, "sync", 1, time.perf_counter() - start, tuple(latencies))


def measure_async(sess: Session, inputs: object, n: int, in_flight: int, progress: Progress = None,
                  runtime: str = "python") -> Stats:
    """n calls of `sess.submit(inputs)`, keeping `in_flight` outstanding; raises the first failure."""
    slots = threading.Semaphore(in_flight)
    latencies: list[float] = []
    futures = []

    def finished(t: float) -> Callable[[object], None]:
        def record(_: object) -> None:
            latencies.append((time.perf_counter() - t) * 1e6)
            slots.release()
            if progress:
                progress(1)
        return record

    start = time.perf_counter()
    for _ in range(n):
        slots.acquire()
        t = time.perf_counter()
        future = sess.submit(inputs)
        future.add_done_callback(finished(t))
        futures.append(future)
    for _ in range(in_flight):  # every callback has run (and recorded its latency) once all slots are back
        slots.acquire()
    seconds = time.perf_counter() - start
    for future in futures:
        future.result()
    return Stats(runtime, "async", in_flight, seconds, tuple(latencies))


def stats_table(stats: Sequence[Stats]) -> str:
    """One row per Stats: inferences/s and latency percentiles in µs."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for name in ("runtime", "mode", "in flight", "n", "inferences/s", "min µs", "mean µs", "p50 µs", "p95 µs",
                 "p99 µs"):
        table.add_column(name, justify="left" if name in ("runtime", "mode") else "right")
    for s in stats:
        r = s.row()
        table.add_row(r["runtime"], r["mode"], str(r["in_flight"]), str(r["n"]), f"{r['inferences_per_s']:,.1f}",
                      *(f"{r[k]:,.0f}" for k in ("min_us", "mean_us", "p50_us", "p95_us", "p99_us")))
    return render(table)


def python_runtime(model: object, device: str | None, n: int, workers: int, progress: Progress = None,
                   **options: object) -> list[Stats]:
    """`nux bench`'s Python rows: a session, one warm-up run, n sync runs, n async runs with `workers` requests
    outstanding (the device holds up to that many; a host-fallback model runs them one at a time). `options` go
    to `nux.session.create`."""
    from nux.session.session import create

    with create(model, device, max_in_flight=workers, **options) as sess:
        inputs = random_inputs(sess.inputs())
        sess.run(inputs)  # warm-up: host-graph sessions, caches
        results = [measure_sync(sess, inputs, n, progress)]
        results.append(measure_async(sess, inputs, n, workers, progress))
    return results
