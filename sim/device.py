"""`SimDevice`: the NPU's RTL, simulated by Verilator, as a driver `Device` (backend "sim").

MMIO is a real AXI-Lite transaction (a few simulated cycles); host DMA is a backdoor copy into the harness's DRAM
array (no simulated time, as a host DMA engine runs beside the NPU). `wait_irq` is where simulated time really
passes: it runs the clock in C++ in chunks sized to take ~20 ms of wall time each, so Python checks its timeout
between chunks and a hung NPU costs exactly the timeout, never a Python loop per cycle.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from nux.device import check_dma, check_mmio
from nux.isa import CONFIG_FIELDS, NPU_ID, REG, NpuConfig
from nux.sim.build import BuildOptions, build
from nux.sim.library import SimError, Simulator, Until, load_library

#: Environment variable: dump an FST trace of every SimDevice to this path (see docs/sim.md).
TRACE_ENV = "NUX_SIM_TRACE"
#: wall-clock time one C++ run chunk of wait_irq aims for
CHUNK_SECONDS = 0.02
_trace_counter = itertools.count()


def trace_path_from_env() -> Path | None:
    """The trace file NUX_SIM_TRACE asks for; the 2nd, 3rd... device of a process get `-1`, `-2` before the suffix,
    so devices never overwrite each other's traces."""
    value = os.environ.get(TRACE_ENV)
    if not value:
        return None
    path = Path(value)
    n = next(_trace_counter)
    return path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")


class SimDevice:
    """A Verilator simulation of the NPU for `config`, built (or taken from the cache) on creation.

    dram_size: bytes of simulated device DRAM (a multiple of 4096).
    trace: write an FST waveform of the whole run to this path (default: $NUX_SIM_TRACE, else no trace).
    latency: extra cycles (beyond the minimum 1) from an AXI read address, or the last write beat, to the answer.
    bandwidth: DRAM data beats per cycle on each of the read and write channels, in (0, 1].
    verilog / parameters: the design to simulate instead of the real RTL (tests use a stub top).
    build_options: Verilator/compiler settings (default: the measured fastest, see benchmarks/sim_speed.py).
    progress: show build progress (default: when stderr is a terminal).
    """

    def __init__(
        self,
        config: NpuConfig | None = None,
        dram_size: int = 64 << 20,
        trace: str | os.PathLike | None = None,
        latency: int = 20,
        bandwidth: float = 1.0,
        verilog: str | None = None,
        parameters: dict[str, int] | None = None,
        build_options: BuildOptions | None = None,
        progress: bool | None = None,
    ) -> None:
        self.config = config or NpuConfig()
        if progress is None:
            progress = os.isatty(2)
        self.build = build(self.config, verilog, build_options, parameters, progress=progress)
        self.sim = Simulator(load_library(self.build.library), dram_size, latency, bandwidth)
        self.dram_size = dram_size
        self._chunk = 10_000
        self.trace_path = Path(trace) if trace is not None else trace_path_from_env()
        try:
            if self.trace_path is not None:
                self.sim.trace_open(self.trace_path)
            self._check_identity()
        except BaseException:
            self.sim.close()
            raise

    def _check_identity(self) -> None:
        """Refuse a library whose design does not report the NpuConfig it was built for (a wrong build)."""
        ident = self.sim.mmio_read(REG["ID"])
        if ident != NPU_ID:
            raise SimError(f"the simulated design answers ID 0x{ident:08x}, not 0x{NPU_ID:08x}: not a nux NPU")
        reported = {field: self.sim.mmio_read(reg.offset) for field, reg in CONFIG_FIELDS.items()}
        if reported != self.config.to_dict():
            raise SimError(f"the simulator built for {self.config} reports {reported}; the build is inconsistent")

    # ---------------------------------------------------------------------------------------------- Device
    def read32(self, addr: int) -> int:
        check_mmio(addr)
        return self.sim.mmio_read(addr)

    def write32(self, addr: int, value: int) -> None:
        check_mmio(addr)
        self.sim.mmio_write(addr, value)

    def write(self, dev_addr: int, data: bytes) -> None:
        check_dma(self, dev_addr, len(data))
        self.sim.dram_write(dev_addr, data)

    def read(self, dev_addr: int, n: int) -> bytes:
        check_dma(self, dev_addr, n)
        return self.sim.dram_read(dev_addr, n)

    def wait_irq(self, timeout: float) -> bool:
        """Run simulated time until the irq output rises or `timeout` wall-clock seconds pass."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self.sim.irq:
            now = time.monotonic()
            if now >= deadline:
                return False
            self.sim.run(self._chunk, Until.IRQ)
            elapsed = time.monotonic() - now
            # size the next chunk to take about CHUNK_SECONDS, within [1k, 10M] cycles
            scale = CHUNK_SECONDS / elapsed if elapsed > 0 else 2.0
            self._chunk = int(min(max(self._chunk * min(max(scale, 0.5), 2.0), 1_000), 10_000_000))
        return True

    def close(self) -> None:
        self.sim.close()

    # ---------------------------------------------------------------------------------------------- extras
    @property
    def cycles(self) -> int:
        """Clock cycles simulated so far (MMIO transactions included)."""
        return self.sim.cycles

    def __enter__(self) -> SimDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SimDevice({self.config}, dram_size=0x{self.dram_size:x}, library={self.build.library})"
