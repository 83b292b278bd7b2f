"""`Session`: one model on one NPU, run synchronously (`run`) or asynchronously (`submit`). docs/session.md."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future

import numpy as np

from nux.driver import Npu, OutOfDeviceMemory
from nux.driver.registry import split_spec
from nux.enf import Enf
from nux.executor import DEFAULT_TIMEOUT
from nux.session.dispatch import Dispatcher, Job, Slot
from nux.session.source import as_enf, compile_cached
from nux.session.tensors import SessionError, TensorDesc, describe, stored_feeds

#: Devices whose configuration the host chooses: a session builds them with the configuration its ENF targets.
MODEL_DEVICES = ("golden", "sim")


def default_device() -> str:
    """The device a session opens when none is given: `$NUX_DEVICE`, else the golden model."""
    return os.environ.get("NUX_DEVICE") or "golden"


def create(model: object, device: str | Npu | None = None, *, timeout: float | None = None,
           max_in_flight: int | None = None, input_shapes: dict | None = None, fallback: bool = True,
           cache: bool = True, **device_options: object) -> Session:
    """Open `device` and load `model` on it; use as a context manager (`with create(...) as sess:`).

    `model`: an ENF (Enf, bytes or path), a quantized ONNX model (ModelProto, bytes or path) or a TFLite file;
    anything but an ENF is compiled for the device's NpuConfig (`input_shapes`, `fallback` go to the compiler)
    and cached on disk unless `cache=False`. `device`: a device string (`golden`, `sim`, `xdma:N`, `pci:BDF`;
    default `$NUX_DEVICE`, else `golden`) or an open `Npu` (borrowed: the session does not close it).
    `timeout`: seconds one inference may take before the device is reset (default 600: the golden model runs
    large layers for minutes). `max_in_flight`: inferences queued at once by `submit` (default: the device's
    command-queue depth). `device_options` go to the backend (e.g. `config=NpuConfig(...)` for golden/sim).
    """
    enf = as_enf(model)
    if isinstance(device, Npu):
        if device_options or timeout is not None:
            raise SessionError("device options and timeout apply only when the session opens a device string")
        npu, owns = device, False
    else:
        device = device or default_device()
        if enf is not None and split_spec(device)[0] in MODEL_DEVICES:
            device_options.setdefault("config", enf.config)
        npu, owns = Npu(device, timeout=DEFAULT_TIMEOUT if timeout is None else timeout, **device_options), True
    try:
        if enf is None:
            enf = compile_cached(model, npu.config, input_shapes=input_shapes, fallback=fallback, cache=cache,
                                 isa_minor=npu.version[1])
        return Session(enf, npu, owns_npu=owns, max_in_flight=max_in_flight)
    except BaseException:
        if owns:
            npu.close()
        raise


class Session:
    """A loaded model (see `create`). `run` and `inputs`/`outputs` are for one thread at a time; `submit` may be
    called from any thread."""

    def __init__(self, enf: Enf, npu: Npu, *, owns_npu: bool = False, max_in_flight: int | None = None):
        self.enf = enf
        self.npu = npu
        self._owns_npu = owns_npu
        self._inputs, self._outputs = describe(enf)
        depth = npu.config.cmdq_depth if max_in_flight is None else max_in_flight
        if depth < 1:
            raise SessionError(f"max_in_flight must be at least 1, got {depth}")
        self._slots = [Slot(npu, enf)]
        self.max_in_flight = depth if self._slots[0].npu_only else 1
        self._lock = threading.Lock()
        self._dispatcher: Dispatcher | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------ metadata
    def inputs(self) -> list[TensorDesc]:
        return list(self._inputs)

    def outputs(self) -> list[TensorDesc]:
        return list(self._outputs)

    def summary(self) -> str:
        """Print (and return) the inputs and outputs as a table."""
        from nux.session.report import tensor_table

        text = tensor_table(self.enf, self._inputs, self._outputs, self.npu)
        print(text)
        return text

    # ------------------------------------------------------------------------------------------ running
    def run(self, inputs: object, raw: bool = False) -> list[np.ndarray]:
        """One inference. `inputs`: one array (one-input models), a list in input order or a dict by name.
        Returns the outputs as a list of arrays in output order (float32 for float outputs, stored integers
        with `raw=True`)."""
        stored = stored_feeds(self._inputs, inputs, raw)
        with self._lock:
            self._check_open()
            if self._dispatcher is None:
                return self._convert(self._slots[0].run(stored), raw)
        return self._submit(stored, raw).result()  # the dispatcher owns the device now

    def submit(self, inputs: object, raw: bool = False) -> Future:
        """Queue one inference; the Future's result is what `run` returns. Inputs are checked here, at once."""
        return self._submit(stored_feeds(self._inputs, inputs, raw), raw)

    def _submit(self, stored: dict[str, np.ndarray], raw: bool) -> Future:
        future: Future = Future()
        with self._lock:
            self._check_open()
            if self._dispatcher is None:
                self._dispatcher = Dispatcher(self._load_slots())
            self._dispatcher.submit(Job(stored, future, lambda outputs: self._convert(outputs, raw)))
        return future

    def _load_slots(self) -> list[Slot]:
        """Copies of the model up to max_in_flight, fewer when device memory runs out."""
        while len(self._slots) < self.max_in_flight:
            try:
                self._slots.append(Slot(self.npu, self.enf))
            except OutOfDeviceMemory:
                break
        return list(self._slots)

    def _convert(self, stored: dict[str, np.ndarray], raw: bool) -> list[np.ndarray]:
        return [d.from_stored(stored[d.name], raw) for d in self._outputs]

    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("the session is closed")

    # ------------------------------------------------------------------------------------------ lifetime
    def close(self, cancel: bool = True) -> None:
        """Finish the inferences on the device, cancel (or, with `cancel=False`, finish) the queued ones, stop the
        dispatch thread, unload the model and close the device the session opened. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            dispatcher.close(cancel)
        for slot in self._slots:
            slot.close()
        if self._owns_npu:
            self.npu.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        names = [d.name for d in self._inputs], [d.name for d in self._outputs]
        return f"Session({self.enf.meta.get('name', '')!r}, inputs={names[0]}, outputs={names[1]}, npu={self.npu!r})"
