"""The furiosa-sdk style asynchronous API: `submitter, queue = nux.session.create_async(model)`.

`submitter.submit(inputs, context=...)` queues an inference (inputs are checked at once); `queue.recv(timeout)`
returns `(context, outputs)` in completion order, which is submission order here (one device runs them in
turn). A failed inference makes `recv` raise `InferenceError` carrying its context. `submitter.close()` stops
submissions and lets the queued work finish; once its last result has been received, `recv` raises
`SessionError` instead of blocking. `queue.close()` closes the session: work not yet on the device is cancelled.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import numpy as np

from nux.errors import NuxError
from nux.session.session import Session, create
from nux.session.tensors import SessionError


class InferenceError(NuxError):
    """An asynchronous inference failed; `context` is what it was submitted with, `__cause__` the error."""

    def __init__(self, context: object, cause: BaseException | None):
        self.context = context
        super().__init__(f"inference {context!r} failed: {cause if cause is not None else 'cancelled'}")


class RecvTimeout(NuxError, TimeoutError):
    """`recv(timeout)` found no result in time."""


_END = object()  # put after the last result once the submitter is closed


class CompletionQueue:
    """Results of a Submitter's inferences, as `(context, outputs)` pairs."""

    def __init__(self, session: Session):
        self._session = session
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False

    def recv(self, timeout: float | None = None) -> tuple[object, list[np.ndarray]]:
        """The next `(context, outputs)`; InferenceError if that inference failed, RecvTimeout after `timeout`
        seconds without a result, SessionError once the queue is closed or drained after `submitter.close()`."""
        if self._closed:
            raise SessionError("the completion queue is closed")
        try:
            item = self._results.get(timeout=timeout)
        except queue.Empty:
            raise RecvTimeout(f"no inference finished within {timeout:g} s") from None
        if item is _END:
            self._results.put(_END)
            raise SessionError("no more results: the submitter is closed and every result has been received")
        context, future = item
        if future.cancelled():
            raise InferenceError(context, None)
        if future.exception() is not None:
            raise InferenceError(context, future.exception()) from future.exception()
        return context, future.result()

    def _put(self, item: object) -> None:
        self._results.put(item)

    def close(self) -> None:
        """Close the session behind the queue (queued work is cancelled, work on the device finishes)."""
        self._closed = True
        self._session.close()

    def __enter__(self) -> CompletionQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Submitter:
    """Queues inferences whose results arrive on the paired CompletionQueue."""

    def __init__(self, session: Session, results: CompletionQueue):
        self.session = session
        self._results = results
        self._lock = threading.Lock()
        self._outstanding = 0
        self._closed = False

    def submit(self, inputs: object, context: object = None, raw: bool = False) -> None:
        """Queue one inference of `inputs` (as `Session.run` takes them); `context` comes back with its result."""
        with self._lock:
            if self._closed:
                raise SessionError("the submitter is closed")
            future = self.session.submit(inputs, raw)
            self._outstanding += 1
        future.add_done_callback(lambda f: self._done(context, f))

    def _done(self, context: object, future: Future) -> None:
        self._results._put((context, future))
        with self._lock:
            self._outstanding -= 1
            if self._closed and not self._outstanding:
                self._results._put(_END)

    def close(self) -> None:
        """No more submissions; queued inferences still finish and reach the queue. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._outstanding:
                self._results._put(_END)

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_async(model: object, device: object = None, **options: object) -> tuple[Submitter, CompletionQueue]:
    """`nux.session.create(model, device, **options)` wrapped as a (Submitter, CompletionQueue) pair."""
    session = create(model, device, **options)
    results = CompletionQueue(session)
    return Submitter(session, results), results
