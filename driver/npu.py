"""`Npu`: the host-side handle of one NPU. It identifies the device, owns its memory, loads ENFs and runs tasks.

    with Npu("golden") as npu:
        model = npu.load("net.enf")
        model.set_input(0, x)
        model.run()
        y = model.get_output(0)

Errors leave the device usable: a task that stops the NPU raises NpuExecutionError, a task that does not finish
in time raises NpuTimeout, and in both cases the device has already been reset.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping

from nux.device import Device
from nux.driver.errors import NpuError
from nux.driver.identify import identify
from nux.driver.memory import DeviceMemory
from nux.driver.model import LoadedModel, Run
from nux.driver.registry import open_device
from nux.driver.tasks import CommandQueue, Task, TaskDescriptor
from nux.enf import Enf, EnfError, code_minor, load_enf, read_enf, required_isa_minor, validate_enf
from nux.errors import IsaVersionError
from nux.isa import INSTR_BYTES, PERF_COUNTERS, REG, STATUS, ConfigError, Ctrl, Instr, assemble

ARENA_ALIGN = 4096


def _as_enf(source: Enf | bytes | str | os.PathLike) -> Enf:
    """An Enf from an Enf, the bytes of an ENF file, or its path (validated either way)."""
    if isinstance(source, Enf):
        validate_enf(source)  # an Enf built in Python has not been through read_enf's checks
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        return read_enf(bytes(source))
    if isinstance(source, str | os.PathLike):
        return load_enf(source)
    raise EnfError(f"load() takes an Enf, ENF bytes or a path, got {type(source).__name__}")


class Npu:
    """One NPU behind a Device (or a device string such as "golden", "xdma:0"; `options` go to the backend)."""

    def __init__(self, device: Device | str, timeout: float = 10.0, reset: bool = True, **options: object):
        if isinstance(device, str):
            self.device = open_device(device, **options)
            self._owns_device = True
        else:
            if options:
                raise NpuError(f"backend options {sorted(options)} only apply when Npu opens a device string")
            self.device = device
            self._owns_device = False
        try:
            identity = identify(self.device)
            self.version, self.config = identity.version, identity.config
            self.timeout = timeout
            # Device memory the NPU can address: the DMA window, capped by the address width it reports.
            self.memory = DeviceMemory(min(self.device.dram_size, 1 << self.config.dram_addr_bits))
            self.queue = CommandQueue(self.device, self.config.cmdq_depth)
            self._models: list[LoadedModel] = []
            if reset:
                self.reset()
        except BaseException:
            if self._owns_device:
                self.device.close()
            raise

    # ------------------------------------------------------------------------------------------- control
    def reset(self) -> None:
        """CTRL.RESET and wait until idle; tasks in flight are aborted (their handles raise TaskAborted)."""
        self.queue.reset("Npu.reset() was called")

    def clear_perf(self) -> None:
        self.device.write32(REG["CTRL"], int(Ctrl.PERF_CLEAR))

    def perf(self) -> dict[str, int]:
        """Every 64-bit perf counter; LO is read first because reading it latches HI (docs/isa.md §6)."""
        out = {}
        for counter in PERF_COUNTERS:
            lo = self.device.read32(counter.offset)
            out[counter.name] = self.device.read32(counter.hi) << 32 | lo
        return out

    def status(self) -> dict[str, int]:
        """STATUS decoded, plus the completion and fault registers (for `nux info` and debugging)."""
        raw = self.device.read32(STATUS.offset)
        return {
            "status": raw,
            **{name.lower(): value for name, value in STATUS.decode(raw).items()},
            "completed": self.device.read32(REG["COMPLETED"]),
            "last_tag": self.device.read32(REG["LAST_TAG"]),
            "cmdq_free": self.device.read32(REG["CMDQ_FREE"]),
            "fault_pc": self.device.read32(REG["FAULT_PC"]),
            "fault_tag": self.device.read32(REG["FAULT_TAG"]),
        }

    # ------------------------------------------------------------------------------------------- memory
    def alloc(self, size: int, align: int = ARENA_ALIGN) -> int:
        """Reserve `size` bytes of device memory; OutOfDeviceMemory when it does not fit."""
        return self.memory.alloc(size, align)

    def free(self, addr: int) -> None:
        self.memory.free(addr)

    # ------------------------------------------------------------------------------------------- models
    def load(self, enf: Enf | bytes | str | os.PathLike, name: str = "") -> LoadedModel:
        """Check the ENF against this NPU, allocate its arena, and copy code and constants into it.

        The whole arena is written once (zeros around code and constants), so a model never sees a previous
        model's data and runs are reproducible.
        """
        enf = _as_enf(enf)
        self._check_isa(required_isa_minor(enf))
        problem = enf.config.compatibility_error(self.config)
        if problem:
            raise ConfigError(
                f"the ENF was compiled for {enf.config}, which does not fit this NPU ({self.config}): {problem}"
            )
        base = self.alloc(enf.arena_size)
        try:
            image = bytearray(enf.arena_size)
            for program in enf.programs:
                image[program.offset : program.offset + len(program.code)] = program.code
            image[enf.const_offset : enf.const_offset + len(enf.consts)] = enf.consts
            self.device.write(base, bytes(image))
        except BaseException:
            self.free(base)
            raise
        model = LoadedModel(self, enf, base, name)
        self._models.append(model)
        return model

    def _check_isa(self, minor: int) -> None:
        """IsaVersionError before anything runs when the code needs a newer ISA minor than this NPU reports."""
        if minor > self.version[1]:
            raise IsaVersionError((self.version[0], minor), self.version)

    def _forget(self, model: LoadedModel) -> None:
        self._models.remove(model)

    @property
    def models(self) -> list[LoadedModel]:
        return list(self._models)

    # ------------------------------------------------------------------------------------------- tasks
    def _timeout(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    def _deadline(self, timeout: float | None = None) -> tuple[float, float]:
        """(timeout, time.monotonic() deadline) for an operation starting now (`timeout` None: the Npu's)."""
        timeout = self._timeout(timeout)
        return timeout, time.monotonic() + timeout

    def submit_task(self, desc: TaskDescriptor, timeout: float | None = None, deadline: float | None = None) -> Task:
        """Queue one task (blocks while the hardware command queue is full, up to `timeout` or `deadline`)."""
        return self.queue.submit(desc, self._timeout(timeout), deadline)

    def wait(self, handle: Task | Run | Iterable[Task], timeout: float | None = None,
             deadline: float | None = None) -> None:
        """Wait for a task or a whole run (one deadline for all of it); raise its error if it failed."""
        self.queue.wait([handle] if isinstance(handle, Task) else list(handle), self._timeout(timeout), deadline)

    def run_program(
        self,
        code: bytes | Iterable[Instr],
        arena_size: int,
        inputs: Mapping[int, bytes] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Run one program in a fresh zeroed arena and return the arena's bytes afterwards (a test helper).

        The code sits at arena offset 0; `inputs` maps arena offsets to bytes written before the run.
        """
        code = bytes(code) if isinstance(code, bytes | bytearray) else assemble(code)
        if not code or len(code) % INSTR_BYTES:
            raise NpuError(f"code must be a non-empty multiple of {INSTR_BYTES} bytes, got {len(code)}")
        self._check_isa(code_minor(code))
        image = bytearray(arena_size)
        for offset, data in [(0, code), *sorted((inputs or {}).items())]:
            if offset < 0 or offset + len(data) > arena_size:
                raise NpuError(f"{len(data)} bytes at arena offset {offset} do not fit the arena of {arena_size} bytes")
            image[offset : offset + len(data)] = data
        base = self.alloc(arena_size)
        try:
            self.device.write(base, bytes(image))
            desc = TaskDescriptor(base, len(code) // INSTR_BYTES, base, arena_size, "run_program", code)
            timeout, deadline = self._deadline(timeout)
            self.wait(self.submit_task(desc, timeout, deadline), timeout, deadline)
            return self.device.read(base, arena_size)
        finally:
            self.free(base)

    # ------------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Unload every model and, if this Npu opened the device, close it."""
        for model in list(self._models):
            model.unload()
        if self._owns_device:
            self.device.close()
            self._owns_device = False

    def __enter__(self) -> Npu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Npu({self.device!r}, v{self.version[0]}.{self.version[1]}, {self.config})"

