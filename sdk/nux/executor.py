"""Run an ENF end to end: NPU programs through the driver, host-fallback graphs through onnxruntime, in STEPS order.

    with Executor("net.enf", device="golden") as ex:
        outputs = ex.run({"input": x})            # float in, float out where the model's own I/O is float
        print(ex.last_perf)                       # NPU perf counters of that run

A layer above nux.driver (which runs NPU programs only): host graphs read their inputs from the task's arena and
write their outputs back into it, so device and host exchange the bytes the tensor table describes. Host graphs run
with `nux.reference.onnx_session` (graph optimizations off), so their results do not depend on the host CPU.
The model's caller sees its own I/O types (ENF META "io_dtypes"): float inputs are quantized with the tensor's
scale and zero point (round half to even, saturate, as QuantizeLinear) and float outputs dequantized; `raw=True`
exchanges the stored integers instead. A leading dimension k times the compiled one runs k inferences in turn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np

from nux.driver import Npu, TaskDescriptor
from nux.driver import tensors as codec
from nux.enf import DType, Enf, StepKind, TensorInfo, load_enf, read_enf
from nux.errors import NuxError
from nux.isa import INSTR_BYTES
from nux.reference import onnx_session, run_session

DEFAULT_TIMEOUT = 600.0  # seconds one NPU step may take (the golden model runs a large layer for minutes)


class ExecutorError(NuxError):
    """Inputs that do not fit the compiled model, or a step that failed."""


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """QuantizeLinear: round half to even, saturate to the tensor's dtype."""
    lo, hi = np.iinfo(info.dtype.numpy).min, np.iinfo(info.dtype.numpy).max
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(info.scale)) + info.zero_point
    return np.clip(q, lo, hi).astype(info.dtype.numpy)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    """DequantizeLinear in float32, as onnxruntime computes it."""
    return ((q.astype(np.int32) - info.zero_point).astype(np.float32) * np.float32(info.scale)).astype(np.float32)


def _enf(source: Enf | bytes | str | os.PathLike) -> Enf:
    if isinstance(source, Enf):
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        return read_enf(bytes(source))
    return load_enf(source)


class Executor:
    """One loaded ENF on one NPU (`device`: a device string or an open Npu, which the executor then borrows)."""

    def __init__(self, enf: Enf | bytes | str | os.PathLike, device: str | Npu = "golden", **options: object):
        self.enf = _enf(enf)
        self._owns = isinstance(device, str)
        if self._owns:  # a whole network is one long task: the driver's 10 s default is meant for hangs
            options.setdefault("timeout", DEFAULT_TIMEOUT)
        if self._owns and device in ("golden", "sim"):  # model devices: build the config the ENF targets
            options.setdefault("config", self.enf.config)
        self.npu = Npu(device, **options) if self._owns else device
        try:
            self.model = self.npu.load(self.enf)
        except BaseException:
            self.close()
            raise
        self.io_dtypes: dict[str, str] = dict(self.enf.meta.get("io_dtypes", {}))
        self._sessions: dict[int, object] = {}
        self.last_perf: dict[str, int] = {}

    # ------------------------------------------------------------------ tensors in the arena
    def _write(self, info: TensorInfo, array: np.ndarray) -> None:
        self.npu.device.write(self.model.arena_base + info.offset, codec.encode(info, array, self.enf.config.dim))

    def _read(self, info: TensorInfo) -> np.ndarray:
        n = codec.stored_nbytes(info, self.enf.config.dim)
        return codec.decode(info, self.npu.device.read(self.model.arena_base + info.offset, n), self.enf.config.dim)

    def _info(self, name: str) -> TensorInfo:
        return next(t for t in self.enf.tensors if t.name == name)

    def inputs(self) -> list[TensorInfo]:
        return self.enf.inputs()

    def outputs(self) -> list[TensorInfo]:
        return self.enf.outputs()

    # ------------------------------------------------------------------ running
    def _to_stored(self, info: TensorInfo, value: object, raw: bool) -> np.ndarray:
        array = np.asarray(value)
        if tuple(array.shape) != tuple(info.shape):
            raise ExecutorError(f"input {info.name!r}: expected shape {tuple(info.shape)}, got {tuple(array.shape)}")
        floating = self.io_dtypes.get(info.name, "float32" if info.dtype == DType.FLOAT32 else "") == "float32"
        if floating and not raw and info.dtype != DType.FLOAT32:
            if not np.issubdtype(array.dtype, np.floating):
                raise ExecutorError(f"input {info.name!r} is float32 in the model; got {array.dtype} (or use raw)")
            return quantize(array, info)
        if array.dtype != info.dtype.numpy:
            raise ExecutorError(f"input {info.name!r}: expected {info.dtype.numpy} values, got {array.dtype}")
        return array

    def _from_stored(self, info: TensorInfo, q: np.ndarray, raw: bool) -> np.ndarray:
        if raw or info.dtype == DType.FLOAT32 or self.io_dtypes.get(info.name) != "float32":
            return q
        return dequantize(q, info)

    def run_once(self, feeds: Mapping[str, object], raw: bool = False) -> dict[str, np.ndarray]:
        """One inference with inputs of exactly the compiled shapes."""
        names = [t.name for t in self.inputs()]
        unknown = sorted(set(feeds) - set(names))
        missing = [n for n in names if n not in feeds]
        if unknown or missing:
            raise ExecutorError(f"inputs are {names}; missing {missing}, unknown {unknown}")
        for info in self.inputs():
            self._write(info, self._to_stored(info, feeds[info.name], raw))
        self.npu.clear_perf()
        for step in self.enf.run_steps():
            self._npu_step(step.index) if step.kind == StepKind.NPU else self._host_step(step.index)
        self.last_perf = self.npu.perf()
        return {info.name: self._from_stored(info, self._read(info), raw) for info in self.outputs()}

    def run(self, feeds: Mapping[str, object], raw: bool = False,
            progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
        """Inference on inputs whose leading dimension is k times the compiled one: k runs, outputs stacked."""
        k = self._batches(feeds)
        if k == 1:
            return self.run_once(feeds, raw)
        results, perf = [], {}
        for i in range(k):
            part = {n: np.split(np.asarray(v), k)[i] for n, v in feeds.items()}
            results.append(self.run_once(part, raw))
            perf = {c: perf.get(c, 0) + v for c, v in self.last_perf.items()}
            if progress is not None:
                progress(i + 1, k)
        self.last_perf = perf
        return {n: np.concatenate([r[n] for r in results]) for n in results[0]}

    def _batches(self, feeds: Mapping[str, object]) -> int:
        counts = set()
        for info in self.inputs():
            value = np.asarray(feeds.get(info.name, np.empty(info.shape)))
            lead = info.shape[0] if info.shape else 1
            if value.ndim != len(info.shape) or value.shape[1:] != tuple(info.shape[1:]) or value.shape[0] % lead:
                raise ExecutorError(f"input {info.name!r}: expected shape {tuple(info.shape)} (or a multiple of its "
                                    f"leading dimension), got {value.shape}")
            counts.add(value.shape[0] // lead)
        if len(counts) > 1:
            raise ExecutorError(f"inputs have different batch multiples {sorted(counts)}")
        return counts.pop() if counts else 1

    def _npu_step(self, index: int) -> None:
        program = self.enf.programs[index]
        desc = TaskDescriptor(self.model.arena_base + program.offset, len(program.code) // INSTR_BYTES,
                              self.model.arena_base, self.enf.arena_size, f"program {index}", bytes(program.code))
        self.npu.wait(self.npu.submit_task(desc))

    def _host_step(self, index: int) -> None:
        graph = self.enf.host_graphs[index]
        if index not in self._sessions:
            self._sessions[index] = onnx_session(graph.onnx, what=f"host graph {index}")
        feeds = {name: self._read(self._info(name)) for name in graph.inputs}
        results = run_session(self._sessions[index], feeds, outputs=list(graph.outputs), what=f"host graph {index}")
        for name, value in results.items():
            info = self._info(name)
            self._write(info, np.asarray(value, dtype=info.dtype.numpy).reshape(info.shape))

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if getattr(self, "model", None) is not None:
            self.model.unload()
            self.model = None
        if self._owns and getattr(self, "npu", None) is not None:
            self.npu.close()
            self.npu = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Executor", "ExecutorError", "quantize", "dequantize"]
