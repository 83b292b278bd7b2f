"""A model loaded into device memory: its arena, its tensors, and running its NPU steps.

Several LoadedModels coexist, each in its own arena. Inputs and outputs live in the arena, so two runs of the
*same* model in flight at once share them: submit the same model again only after the previous run's outputs
have been read (or load it twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from nux.driver import tensors
from nux.driver.errors import NpuError, TensorError, UnsupportedError
from nux.driver.tasks import Task, TaskDescriptor
from nux.enf.model import Enf, StepKind, TensorInfo, TensorRole
from nux.isa import INSTR_BYTES

if TYPE_CHECKING:
    from nux.driver.npu import Npu


@dataclass(frozen=True, eq=False)
class Run:
    """One submission of a model: its NPU tasks in order. `wait()` blocks until all are done."""

    model: LoadedModel
    tasks: tuple[Task, ...]

    @property
    def done(self) -> bool:
        return all(t.done for t in self.tasks)

    def wait(self, timeout: float | None = None) -> None:
        self.model.npu.wait(self, timeout)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)


class LoadedModel:
    """An ENF whose code and constants are in device memory (see the module docstring)."""

    def __init__(self, npu: Npu, enf: Enf, arena_base: int, name: str = ""):
        self.npu = npu
        self.enf = enf
        self.arena_base = arena_base
        self.arena_size = enf.arena_size
        self.name = name or str(enf.meta.get("name", "")) or f"model@0x{arena_base:x}"
        self._loaded = True
        self._descriptors = [
            TaskDescriptor(
                prog_base=arena_base + p.offset,
                prog_len=len(p.code) // INSTR_BYTES,
                arena_base=arena_base,
                arena_size=enf.arena_size,
                label=f"{self.name} program {i}" + (f" {p.name!r}" if p.name else ""),
                code=bytes(p.code),
            )
            for i, p in enumerate(enf.programs)
        ]

    # ------------------------------------------------------------------------------------------- tensors
    def _check_loaded(self) -> None:
        if not self._loaded:
            raise NpuError(f"{self.name} has been unloaded")

    def _tensor(self, key: str | int, role: TensorRole) -> TensorInfo:
        candidates = [t for t in self.enf.tensors if t.role == role]
        names = [t.name for t in candidates]
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TensorError(f"{role.name.lower()} key must be a name or an index, got {key!r}")
        if isinstance(key, int):
            if not 0 <= key < len(candidates):
                raise TensorError(f"{self.name} has {len(candidates)} {role.name.lower()}s {names}; no index {key}")
            return candidates[key]
        for t in candidates:
            if t.name == key:
                return t
        raise TensorError(f"{self.name} has no {role.name.lower()} {key!r}; its {role.name.lower()}s are {names}")

    def set_input(self, key: str | int, array: np.ndarray) -> None:
        """Write input `key` (name or index among the inputs) into the arena, checking dtype and shape."""
        self._check_loaded()
        info = self._tensor(key, TensorRole.INPUT)
        self.npu.device.write(self.arena_base + info.offset, tensors.encode(info, array, self.npu.config.dim))

    def get_output(self, key: str | int) -> np.ndarray:
        """Read output `key` (name or index among the outputs) from the arena."""
        self._check_loaded()
        info = self._tensor(key, TensorRole.OUTPUT)
        n = tensors.stored_nbytes(info, self.npu.config.dim)
        return tensors.decode(info, self.npu.device.read(self.arena_base + info.offset, n), self.npu.config.dim)

    # ------------------------------------------------------------------------------------------- running
    def _npu_programs(self) -> list[int]:
        steps = self.enf.run_steps()
        host = [i for i, s in enumerate(steps) if s.kind == StepKind.HOST]
        if host:
            raise UnsupportedError(
                f"{self.name} has host-fallback steps (step {host[0]} of {len(steps)}); the driver runs NPU programs "
                "only: run the model with nux.session, which executes host graphs with onnxruntime"
            )
        return [s.index for s in steps]

    def submit(self, timeout: float | None = None, deadline: float | None = None) -> Run:
        """Queue every NPU step without waiting for completion. Blocks only while the command queue is full, and
        then no longer than `timeout` seconds (default: the Npu's) for all steps together, or until `deadline`."""
        self._check_loaded()
        programs = self._npu_programs()  # refuse before queuing anything
        timeout, start_deadline = self.npu._deadline(timeout)
        deadline = start_deadline if deadline is None else deadline
        return Run(self, tuple(self.npu.submit_task(self._descriptors[i], timeout, deadline) for i in programs))

    def run(self, timeout: float | None = None) -> None:
        """Run every NPU step and wait; raises NpuExecutionError / NpuTimeout (the device is reset and usable).

        `timeout` (default: the Npu's) is a deadline for the whole run, from the call to the last step's end,
        however many steps the model has: queuing and every step share it.
        """
        timeout, deadline = self.npu._deadline(timeout)
        self.npu.wait(self.submit(timeout, deadline), timeout, deadline)

    def unload(self) -> None:
        """Free the arena; the model cannot be used afterwards."""
        if self._loaded:
            self._loaded = False
            self.npu.memory.free(self.arena_base)
            self.npu._forget(self)

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, arena=0x{self.arena_base:x}+0x{self.arena_size:x})"
