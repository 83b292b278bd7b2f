"""Running inferences: slots (copies of the model in device memory) and the thread that keeps several in flight.

Inputs and outputs live in a model's arena, so two inferences in flight at once need two copies of the model:
a `Slot` is one copy (loaded by nux.executor.Executor on a shared Npu). A model made only of NPU programs is
started with the driver's submit path and collected later, so up to one inference per slot is queued on the
device while the host prepares the next. A model with host-fallback steps runs step by step through the
executor (the host graphs need the NPU results before them), so it has one slot and runs serially.

The `Dispatcher` is the only thread that touches the device while it exists (the driver is not thread-safe):
callers hand it jobs through a queue and get `concurrent.futures.Future`s back.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from nux.driver import Npu, Run
from nux.enf import Enf, StepKind
from nux.executor import Executor


class Slot:
    """One copy of the model in device memory, running one inference at a time."""

    def __init__(self, npu: Npu, enf: Enf):
        self.executor = Executor(enf, npu)
        self.npu_only = all(step.kind == StepKind.NPU for step in enf.run_steps())

    def start(self, stored: dict[str, np.ndarray]) -> Run | dict[str, np.ndarray]:
        """Write the inputs and queue the NPU programs (NPU-only models), or run every step (fallback models)."""
        if not self.npu_only:
            return self.executor.run_once(stored, raw=True)
        model = self.executor.model
        for name, array in stored.items():
            model.set_input(name, array)
        return model.submit()

    def finish(self, pending: Run | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Wait for a started inference and read its stored outputs."""
        if isinstance(pending, dict):
            return pending
        pending.wait()
        return {t.name: self.executor.model.get_output(t.name) for t in self.executor.outputs()}

    def run(self, stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.finish(self.start(stored))

    def close(self) -> None:
        self.executor.close()


@dataclass(eq=False)
class Job:
    """One inference: stored inputs, the future to settle, and how to turn stored outputs into the result."""

    stored: dict[str, np.ndarray]
    future: Future
    convert: Callable[[dict[str, np.ndarray]], object]


_STOP = None  # the job that tells the dispatcher to finish what is in flight and exit


class Dispatcher:
    """A thread that starts jobs on free slots and settles their futures in submission order."""

    def __init__(self, slots: list[Slot]):
        self._slots = slots
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="nux-session-dispatch", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def close(self, cancel: bool) -> None:
        """Stop after the jobs on the device (and, unless `cancel`, the queued ones) finish; join the thread.
        Cancelled jobs' futures end up cancelled."""
        while cancel:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not _STOP:
                job.future.cancel()
        self._jobs.put(_STOP)
        self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        inflight: collections.deque[tuple[Job, Slot, object]] = collections.deque()
        free = collections.deque(self._slots)
        stopping = False
        while not (stopping and not inflight):
            while free and not stopping:  # start as many jobs as there are free slots, waiting only when idle
                try:
                    job = self._jobs.get(block=not inflight)
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                elif job.future.set_running_or_notify_cancel():
                    slot = free.popleft()
                    try:
                        inflight.append((job, slot, slot.start(job.stored)))
                    except Exception as exc:  # noqa: BLE001 - any failure belongs to the job's future
                        job.future.set_exception(exc)
                        free.append(slot)
            if inflight:
                job, slot, pending = inflight.popleft()
                try:
                    job.future.set_result(job.convert(slot.finish(pending)))
                except Exception as exc:  # noqa: BLE001
                    job.future.set_exception(exc)
                free.append(slot)
