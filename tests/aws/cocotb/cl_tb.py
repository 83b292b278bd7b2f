"""cocotb bench for `nux_cl_core`: cocotbext-axi plays the AWS shell around the whole custom logic.

OCL: AxiLiteMaster (BAR0). PCIS: AxiMaster, 512-bit, host ID 0x20 or an XDMA channel ID, data written in
random pieces (so strobes are partial and bursts start anywhere) with random pauses on every channel. DDR:
AxiRam with random pauses. IRQ: a responder that acknowledges each request after a random delay and checks
the shell's rule (no second request on a vector before its ack).

For each job (see test_cl.py): write the images through PCIS, ring the doorbell through OCL, wait for the
interrupt (or poll STATUS), read the output back through PCIS. Optionally CTRL.RESET in the middle of the task
first, and host traffic on PCIS to a scratch area while the NPU runs. What was observed goes to
NUX_TB_RESULTS as JSON; pytest compares it with the golden model.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiRam
from nux.isa import REG, Ctrl, Irq, Status
from nux.isa.aws import CL_REG, NPU_BAR0_OFFSET

HOST_ID = 0x20
POLL_CYCLES = 50


def _pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


class IrqResponder:
    """The shell's side of cl_sh_apppf_irq_req / sh_cl_apppf_irq_ack."""

    def __init__(self, dut, rng: random.Random):
        self.dut, self.rng = dut, rng
        self.requests = 0
        self.violations = 0
        self.event = Event()
        dut.irq_ack.value = 0
        cocotb.start_soon(self._run())

    async def _run(self) -> None:
        waiting = False
        while True:
            await RisingEdge(self.dut.clk)
            if not int(self.dut.irq_req.value):
                continue
            if waiting:
                self.violations += 1
            self.requests += 1
            self.event.set()
            waiting = True
            for _ in range(self.rng.randint(1, 12)):
                await RisingEdge(self.dut.clk)
                self.violations += int(self.dut.irq_req.value)
            self.dut.irq_ack.value = 1
            await RisingEdge(self.dut.clk)
            self.dut.irq_ack.value = 0
            waiting = False


class Host:
    """What the host does over BAR0 (OCL) and BAR4 (PCIS)."""

    def __init__(self, dut, rng: random.Random, pause: float):
        self.rng = rng
        self.ocl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "ocl"), dut.clk, dut.rst)
        self.pcis = AxiMaster(AxiBus.from_prefix(dut, "pcis"), dut.clk, dut.rst)
        if pause > 0:
            for ch in (self.pcis.write_if.aw_channel, self.pcis.write_if.w_channel, self.pcis.write_if.b_channel,
                       self.pcis.read_if.ar_channel, self.pcis.read_if.r_channel):
                ch.set_pause_generator(_pauses(random.Random(rng.random()), pause))

    def _id(self) -> int:
        return self.rng.choice([HOST_ID, HOST_ID, 0, 1, 2, 3])

    async def reg(self, name: str) -> int:
        return await self.ocl.read_dword(NPU_BAR0_OFFSET + REG[name])

    async def set_reg(self, name: str, value: int) -> None:
        await self.ocl.write_dword(NPU_BAR0_OFFSET + REG[name], value)

    async def write(self, addr: int, data: bytes) -> None:
        """Random-sized pieces: unaligned starts and ends give partial strobes on 64-byte beats."""
        done = 0
        while done < len(data):
            n = min(len(data) - done, self.rng.choice([1, 3, 17, 64, 100, 333, 1500, 5000]))
            await self.pcis.write(addr + done, data[done : done + n], awid=self._id())
            done += n

    async def read(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            k = min(n - len(out), self.rng.choice([5, 64, 200, 4096]))
            out += (await self.pcis.read(addr + len(out), k, arid=self._id())).data
        return bytes(out)

    async def submit(self, task) -> None:
        prog_base, prog_len, arena_base, arena_size, tag = task
        for name, value in (("TASK_PROG_BASE_LO", prog_base & 0xFFFFFFFF), ("TASK_PROG_BASE_HI", prog_base >> 32),
                            ("TASK_PROG_LEN", prog_len), ("TASK_ARENA_BASE_LO", arena_base & 0xFFFFFFFF),
                            ("TASK_ARENA_BASE_HI", arena_base >> 32), ("TASK_ARENA_SIZE", arena_size),
                            ("TASK_TAG", tag), ("DOORBELL", 1)):
            await self.set_reg(name, value)

    async def poll_idle(self, max_cycles: int, clk) -> int:
        for _ in range(max_cycles // POLL_CYCLES):
            status = await self.reg("STATUS")
            if status & Status.ERROR or not status & Status.BUSY:
                return status
            await ClockCycles(clk, POLL_CYCLES)
        raise TimeoutError("the NPU stayed busy")


async def side_traffic(host: Host, base: int, stop: Event, finished: Event, log: list) -> None:
    """Host reads and writes to a scratch area while the NPU runs: the arbiter's other master."""
    rng = random.Random(host.rng.random())
    while not stop.is_set():
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 700)))
        offset = rng.randrange(0, 8192)
        await host.write(base + offset, data)
        log.append((await host.read(base + offset, len(data))) == data)
    finished.set()


async def run_job(dut, host: Host, irq: IrqResponder, job) -> dict:
    await host.set_reg("CTRL", int(Ctrl.RESET | Ctrl.PERF_CLEAR))
    for addr, data in job.images:
        await host.write(addr, data)
    if job.abort_after:
        await host.submit(job.task)
        await ClockCycles(dut.clk, job.abort_after)
        busy = await host.reg("STATUS") & Status.BUSY  # still running: the reset lands in the middle
        await host.set_reg("CTRL", int(Ctrl.RESET | Ctrl.PERF_CLEAR))
        aborted = {"busy_before": busy, "status": await host.reg("STATUS"), "completed": await host.reg("COMPLETED")}
    else:
        aborted = None
    await host.set_reg("IRQ_STATUS", 0xFFFFFFFF)
    before = irq.requests
    irq.event.clear()
    stop, finished, side_log = Event(), Event(), []
    if job.side_traffic:
        cocotb.start_soon(side_traffic(host, job.side_traffic, stop, finished, side_log))
    else:
        finished.set()
    await host.submit(job.task)
    if job.by_irq:
        await irq.event.wait()
        status = await host.reg("STATUS")
    else:
        status = await host.poll_idle(job.max_cycles, dut.clk)
    stop.set()
    await finished.wait()
    out = await host.read(job.output[0], job.output[1])
    return {"name": job.name, "status": status, "completed": await host.reg("COMPLETED"),
            "last_tag": await host.reg("LAST_TAG"), "irq_status": await host.reg("IRQ_STATUS"),
            "irq_requests": irq.requests - before, "output": out.hex(), "aborted": aborted,
            "side_ok": side_log.count(True), "side_bad": side_log.count(False)}


@cocotb.test()
async def run_jobs(dut):
    jobs = pickle.loads(Path(os.environ["NUX_TB_JOBS"]).read_bytes())
    rng = random.Random(int(os.environ.get("NUX_TB_SEED", "1")))
    pause = float(os.environ.get("NUX_TB_PAUSE", "0.2"))
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    ram = AxiRam(AxiBus.from_prefix(dut, "ddr"), dut.clk, dut.rst, size=int(os.environ["NUX_TB_DDR"]))
    if pause > 0:
        for ch in (ram.write_if.aw_channel, ram.write_if.w_channel, ram.write_if.b_channel,
                   ram.read_if.ar_channel, ram.read_if.r_channel):
            ch.set_pause_generator(_pauses(random.Random(rng.random()), pause))
    host = Host(dut, rng, pause)
    irq = IrqResponder(dut, random.Random(rng.random()))
    dut.rst.value = 1
    await ClockCycles(dut.clk, 8)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)

    cl_regs = {name: await host.ocl.read_dword(offset) for name, offset in CL_REG.items()}
    await host.ocl.write_dword(CL_REG["CL_SCRATCH"], 0xA5A5_0F0F)
    scratch = await host.ocl.read_dword(CL_REG["CL_SCRATCH"])
    unmapped = await host.ocl.read(0x0300_0000, 4)
    await host.set_reg("IRQ_ENABLE", int(Irq.DONE | Irq.ERROR))
    results = {"cl_regs": cl_regs, "scratch": scratch, "unmapped": [unmapped.data.hex(), int(unmapped.resp)],
               "npu_id": await host.reg("ID"), "jobs": []}
    for job in jobs:
        results["jobs"].append(await run_job(dut, host, irq, job))
        dut._log.info("job %s: status 0x%08x", job.name, results["jobs"][-1]["status"])
    results["irq_violations"] = irq.violations
    results["irq_requests"] = irq.requests
    results["irq_count_reg"] = await host.ocl.read_dword(CL_REG["CL_IRQ_COUNT"])
    Path(os.environ["NUX_TB_RESULTS"]).write_text(json.dumps(results))
