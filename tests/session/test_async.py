"""Asynchronous inference: Session.submit futures and create_async (submitter, queue) give the same results as
run, keep several inferences on the device, survive a hang, and leave no thread behind when closed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import numpy as np
import nux.session
import pytest
from nux.session import InferenceError, InputTypeError, RecvTimeout, SessionError
from session_models import X_SHAPE


def many_inputs(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    return [rng.uniform(-1, 1, X_SHAPE).astype(np.float32) for _ in range(count)]


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("nux-session-dispatch", "nux-golden-npu")]


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    before = set(session_threads())
    yield
    assert set(session_threads()) <= before


@pytest.mark.parametrize("model", ["npu_enf", "fallback_enf"])
def test_futures_equal_sync_runs(model, request):
    enf = request.getfixturevalue(model)
    xs = many_inputs(6)
    with nux.session.create(enf) as sess:
        expected = [sess.run(x)[0] for x in xs]
        futures = [sess.submit(x) for x in xs]
        results = [f.result(timeout=60)[0] for f in futures]
        assert sess.run(xs[0])[0].tobytes() == expected[0].tobytes()  # run goes through the dispatcher now
        raw = sess.submit(sess.inputs()[0].to_stored(xs[1]), raw=True).result(timeout=60)[0]
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert raw.dtype == np.int8


def test_npu_only_models_keep_several_inferences_on_the_device(npu_enf):
    with nux.session.create(npu_enf, max_in_flight=3) as sess:
        assert sess.max_in_flight == 3
        futures = [sess.submit(x) for x in many_inputs(9)]
        [f.result(timeout=60) for f in futures]
        assert len(sess.npu.models) == 3  # three copies of the model, one per inference in flight
    with pytest.raises(SessionError, match="max_in_flight must be at least 1"):
        nux.session.create(npu_enf, max_in_flight=0)


def test_create_async_delivers_every_context_with_its_outputs(npu_enf):
    xs = many_inputs(5)
    with nux.session.create(npu_enf) as sess:
        expected = [sess.run(x)[0] for x in xs]
    submitter, queue = nux.session.create_async(npu_enf)
    with submitter, queue:
        for i, x in enumerate(xs):
            submitter.submit(x, context=("request", i))
        submitter.close()
        with pytest.raises(SessionError, match="the submitter is closed"):
            submitter.submit(xs[0])
        received = dict(queue.recv(timeout=60) for _ in xs)
        with pytest.raises(SessionError, match="no more results"):
            queue.recv(timeout=5)
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(received[("request", i)][0], want)
    with pytest.raises(SessionError, match="the completion queue is closed"):
        queue.recv()


def test_recv_times_out_and_bad_inputs_fail_at_submit(npu_enf):
    submitter, queue = nux.session.create_async(npu_enf)
    with submitter, queue:
        start = time.monotonic()
        with pytest.raises(RecvTimeout, match="no inference finished within 0.2 s"):
            queue.recv(timeout=0.2)
        assert time.monotonic() - start >= 0.2
        with pytest.raises(InputTypeError):
            submitter.submit(np.zeros(X_SHAPE, np.int8))


def test_a_hang_fails_the_inferences_on_the_device_and_the_session_recovers(npu_enf):
    xs = many_inputs(3)
    with nux.session.create(npu_enf) as sess:
        expected = [sess.run(x)[0] for x in xs]
    submitter, queue = nux.session.create_async(npu_enf, timeout=0.3, hang=True)
    with submitter, queue:
        for i, x in enumerate(xs):
            submitter.submit(x, context=i)
        for i in range(len(xs)):  # the first times out; the device reset aborts the others
            with pytest.raises(InferenceError, match=rf"inference {i} failed: .*(did not finish|did not run)") as e:
                queue.recv(timeout=30)
            assert e.value.context == i and isinstance(e.value.__cause__, nux.driver.NpuError)
        submitter.session.npu.device.hang = False
        for i, x in enumerate(xs):
            submitter.submit(x, context=i)
        for _ in xs:
            i, (y,) = queue.recv(timeout=30)
            np.testing.assert_array_equal(y, expected[i])


def test_close_cancels_queued_work_and_finishes_what_is_on_the_device(npu_enf):
    sess = nux.session.create(npu_enf, max_in_flight=1)
    futures = [sess.submit(x) for x in many_inputs(20)]
    deadline = time.monotonic() + 30
    while not (futures[0].running() or futures[0].done()) and time.monotonic() < deadline:
        time.sleep(0.001)  # let the dispatcher put the first one on the device
    sess.close()
    states = ["cancelled" if f.cancelled() else "done" if f.done() else "pending" for f in futures]
    assert "pending" not in states and states[0] == "done" and "cancelled" in states
    assert states == sorted(states, key=lambda s: s == "cancelled")  # a prefix ran, the rest was cancelled
    for f in futures:
        if f.cancelled():
            with pytest.raises(CancelledError):
                f.result()
        else:
            assert f.result()[0].shape == (1, 3, 6, 6)


def test_close_without_cancel_finishes_everything(fallback_enf):
    sess = nux.session.create(fallback_enf)
    futures = [sess.submit(x) for x in many_inputs(4)]
    sess.close(cancel=False)
    assert all(f.done() and not f.cancelled() for f in futures)
