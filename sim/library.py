"""ctypes binding of the C ABI in harness/nux_sim.h: one `SimLibrary` per built .so, one `Simulator` per instance.

ctypes releases the GIL around every foreign call, so a long `run` lets other Python threads go on. Errors come
back as negative codes plus a message (nux_sim_last_error); they are raised here as SimError.
"""

from __future__ import annotations

import ctypes
import enum
import functools
import json
from pathlib import Path

from nux.errors import NuxError

ABI_VERSION = 1  # NUX_SIM_ABI_VERSION in nux_sim.h


class SimError(NuxError):
    """The simulator refused an operation (bad address, MMIO timeout, unwritable trace file, ABI mismatch)."""


class Until(enum.IntFlag):
    """Stop conditions of Simulator.run (NUX_SIM_UNTIL_*)."""

    IRQ = 1
    IDLE = 2


class Stop(enum.IntEnum):
    """Why Simulator.run returned (NUX_SIM_STOP_*)."""

    LIMIT = 0
    IRQ = 1
    IDLE = 2


_u32, _u64, _int, _ptr = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p
_PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    "nux_sim_abi_version": (_u32, []),
    "nux_sim_build_info": (ctypes.c_char_p, []),
    "nux_sim_create": (_ptr, [_u64, _u32, ctypes.c_double]),
    "nux_sim_destroy": (None, [_ptr]),
    "nux_sim_last_error": (ctypes.c_char_p, [_ptr]),
    "nux_sim_reset": (None, [_ptr, _u32]),
    "nux_sim_mmio_write": (_int, [_ptr, _u32, _u32]),
    "nux_sim_mmio_read": (_int, [_ptr, _u32, ctypes.POINTER(_u32)]),
    "nux_sim_dram_write": (_int, [_ptr, _u64, ctypes.c_char_p, _u64]),
    "nux_sim_dram_read": (_int, [_ptr, _u64, ctypes.c_void_p, _u64]),
    "nux_sim_dram_size": (_u64, [_ptr]),
    "nux_sim_step": (None, [_ptr, _u64]),
    "nux_sim_run": (_int, [_ptr, _u64, _u32]),
    "nux_sim_set_poll_interval": (None, [_ptr, _u32]),
    "nux_sim_cycles": (_u64, [_ptr]),
    "nux_sim_irq": (_int, [_ptr]),
    "nux_sim_protocol_errors": (_u64, [_ptr]),
    "nux_sim_protocol_error": (ctypes.c_char_p, [_ptr]),
    "nux_sim_trace_open": (_int, [_ptr, ctypes.c_char_p]),
    "nux_sim_trace_close": (None, [_ptr]),
}


class SimLibrary:
    """A loaded libnux_sim.so with its prototypes declared and its ABI version checked."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise SimError(f"cannot load the simulator library {self.path}: {exc}") from exc
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(self.lib, name)
            except AttributeError as exc:
                raise SimError(f"{self.path} does not export {name}: not a nux simulator library") from exc
            fn.restype = restype
            fn.argtypes = argtypes
        version = self.lib.nux_sim_abi_version()
        if version != ABI_VERSION:
            raise SimError(f"{self.path} has simulator ABI {version}, this nux expects {ABI_VERSION}; rebuild it")

    @functools.cached_property
    def build_info(self) -> dict:
        """What the library was built for: top, NpuConfig fields, Verilator flags (from nux_sim_build_info)."""
        return json.loads(self.lib.nux_sim_build_info().decode())


@functools.cache
def load_library(path: Path) -> SimLibrary:
    """Load a library once per process (dlopen of the same path returns the same handle anyway)."""
    return SimLibrary(path)


class Simulator:
    """One simulated NPU with its DRAM; a thin, checked wrapper of the nux_sim_* calls."""

    def __init__(self, library: SimLibrary, dram_size: int, latency: int = 0, bandwidth: float = 1.0) -> None:
        if dram_size <= 0 or dram_size % 4096:
            raise SimError(f"dram_size must be a positive multiple of 4096, got {dram_size}")
        if not 0 <= latency < 2**32:
            raise SimError(f"latency must be a cycle count in [0, 2^32), got {latency}")
        if not 0 < bandwidth <= 1:
            raise SimError(f"bandwidth must be in (0, 1] beats per cycle, got {bandwidth}")
        self.library = library
        self._lib = library.lib
        handle = self._lib.nux_sim_create(dram_size, latency, bandwidth)
        if not handle:
            raise SimError(f"cannot create a simulator with {dram_size} bytes of DRAM (out of memory?)")
        self._handle: int | None = handle
        self.dram_size = dram_size

    @property
    def handle(self) -> int:
        if self._handle is None:
            raise SimError("the simulator is closed")
        return self._handle

    def _check(self, rc: int, what: str) -> int:
        if rc < 0:
            message = self._lib.nux_sim_last_error(self.handle).decode(errors="replace")
            raise SimError(f"{what}: {message}")
        return rc

    def reset(self, cycles: int = 4) -> None:
        """Pulse the `rst` input; DRAM keeps its contents, bus transactions in flight are dropped."""
        self._lib.nux_sim_reset(self.handle, cycles)

    def mmio_write(self, addr: int, value: int) -> None:
        self._check(self._lib.nux_sim_mmio_write(self.handle, addr, value & 0xFFFFFFFF), "MMIO write")

    def mmio_read(self, addr: int) -> int:
        value = _u32()
        self._check(self._lib.nux_sim_mmio_read(self.handle, addr, ctypes.byref(value)), "MMIO read")
        return value.value

    def dram_write(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        self._check(self._lib.nux_sim_dram_write(self.handle, addr, data, len(data)), "DRAM write")

    def dram_read(self, addr: int, n: int) -> bytes:
        buf = ctypes.create_string_buffer(n)
        self._check(self._lib.nux_sim_dram_read(self.handle, addr, buf, n), "DRAM read")
        return buf.raw

    def step(self, cycles: int) -> None:
        self._lib.nux_sim_step(self.handle, cycles)

    def run(self, max_cycles: int, until: Until) -> Stop:
        """Advance until a condition of `until` holds or `max_cycles` pass (in C++, GIL released)."""
        return Stop(self._check(self._lib.nux_sim_run(self.handle, max_cycles, int(until)), "run"))

    def set_poll_interval(self, cycles: int) -> None:
        self._lib.nux_sim_set_poll_interval(self.handle, cycles)

    @property
    def cycles(self) -> int:
        return self._lib.nux_sim_cycles(self.handle)

    @property
    def irq(self) -> bool:
        return bool(self._lib.nux_sim_irq(self.handle))

    @property
    def protocol_errors(self) -> tuple[int, str]:
        """(count, first description) of AXI protocol violations the DRAM model saw from the NPU."""
        count = self._lib.nux_sim_protocol_errors(self.handle)
        return count, self._lib.nux_sim_protocol_error(self.handle).decode(errors="replace")

    def trace_open(self, path: str | Path) -> None:
        self._check(self._lib.nux_sim_trace_open(self.handle, str(path).encode()), "trace")

    def trace_close(self) -> None:
        self._lib.nux_sim_trace_close(self.handle)

    def close(self) -> None:
        """Destroy the simulator (flushes and closes a trace); idempotent."""
        if self._handle is not None:
            self._lib.nux_sim_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
