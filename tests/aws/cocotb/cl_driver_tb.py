"""cocotb bench: the real `xdma` driver backend and `Npu` run an ENF on the simulated F1/F2 custom logic.

The part played here is the kernel's XDMA driver: the backend opens three ordinary files standing in for
/dev/xdma0_user, _h2c_0 and _c2h_0, and its os.pread / os.pwrite on them become AXI-Lite accesses on OCL (user
BAR) and 512-bit bursts on PCIS (the DMA engine's AXI master) of the simulated CL. Everything else -- the
backend (MMIO offset, DMA chunking, card addresses, the ID check), Npu.load / run / get_output -- is the
production code, running in a thread bridged to the simulation (cocotb.bridge / cocotb.resume).
"""

from __future__ import annotations

import os
import pickle
import random
import types
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiRam

try:
    from cocotb import bridge, resume
except ImportError:  # cocotb 2.1 keeps them here
    from cocotb._bridge import bridge, resume


def xdma_kernel(ocl: AxiLiteMaster, pcis: AxiMaster, paths: dict[str, str]) -> types.SimpleNamespace:
    """An `os` stand-in for nux.driver.xdma: pread/pwrite on the three node files go to the CL."""
    role = {os.path.realpath(p): name for name, p in paths.items()}

    def which(fd: int) -> str | None:
        return role.get(os.path.realpath(f"/proc/self/fd/{fd}"))

    def pread(fd: int, n: int, offset: int) -> bytes:
        kind = which(fd)
        if kind == "user":
            assert n == 4, "MMIO is 4 bytes at a time"
            return resume(ocl.read)(offset, 4).data
        if kind == "c2h":
            return resume(pcis.read)(offset, n).data
        return os.pread(fd, n, offset)

    def pwrite(fd: int, data, offset: int) -> int:
        kind = which(fd)
        if kind == "user":
            resume(ocl.write)(offset, bytes(data))
            return len(data)
        if kind == "h2c":
            resume(pcis.write)(offset, bytes(data))
            return len(data)
        return os.pwrite(fd, data, offset)

    return types.SimpleNamespace(**{**vars(os), "pread": pread, "pwrite": pwrite})


@cocotb.test()
async def run_enf(dut):
    job = pickle.loads(Path(os.environ["NUX_TB_JOBS"]).read_bytes())
    rng = random.Random(int(os.environ.get("NUX_TB_SEED", "1")))
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    AxiRam(AxiBus.from_prefix(dut, "ddr"), dut.clk, dut.rst, size=int(os.environ["NUX_TB_DDR"]))
    ocl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "ocl"), dut.clk, dut.rst)
    pcis = AxiMaster(AxiBus.from_prefix(dut, "pcis"), dut.clk, dut.rst)
    for ch in (pcis.write_if.w_channel, pcis.read_if.r_channel):
        ch.set_pause_generator(iter(lambda: rng.random() < 0.2, None))
    dut.irq_ack.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 8)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)

    workdir = Path(os.environ["NUX_TB_RESULTS"]).parent
    paths = {}
    for name in ("user", "h2c", "c2h"):
        paths[name] = str(workdir / f"xdma0_{name}")
        Path(paths[name]).write_bytes(b"")

    import nux.driver.xdma as xdma_backend
    from nux.driver import Npu

    @bridge
    def host() -> dict:
        xdma_backend.os = xdma_kernel(ocl, pcis, paths)
        try:
            dev = xdma_backend.XdmaDevice(0, **paths, chunk=job["chunk"])
            with Npu(dev, timeout=600.0) as npu:
                model = npu.load(job["enf"])
                model.set_input(job["input"], job["a"])
                model.run()
                out = model.get_output(job["output"])
                perf = npu.perf()
            dev.close()
            return {"dram_size": dev.dram_size, "config": npu.config.to_dict(), "output": out, "perf": perf}
        finally:
            xdma_backend.os = os

    result = await host()
    (workdir / "driver_result.pkl").write_bytes(pickle.dumps(result))
    Path(os.environ["NUX_TB_RESULTS"]).write_text("{}")
    assert isinstance(result["output"], np.ndarray)
