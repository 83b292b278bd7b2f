"""cocotb test bench for `nux_npu`: runs many cases in one simulation and writes what it observed.

Each case (see rtl_system.Case) is: DRAM contents, tasks to submit, then wait until the NPU is idle or stopped.
Between cases the bench resets the core through MMIO (CTRL.RESET | PERF_CLEAR) and rewrites DRAM, so one
Verilator build serves hundreds of programs. AxiLiteMaster drives s_axil; AxiRam serves m_axi with seeded random
ready/valid pauses on all five channels. The comparison with the golden model happens in pytest, from the JSON
this bench writes (NUX_TB_RESULTS).
"""

from __future__ import annotations

import json
import os
import pickle
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
from nux.isa import PERF, REG, Ctrl, Irq, Status

POLL_CYCLES = 64


def _pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


def decode_past_end(ram: AxiRam, size: int) -> None:
    """Make the DRAM answer SLVERR beyond its last byte (AxiRam would wrap the address around instead)."""
    for port, method in ((ram.read_if, "_read"), (ram.write_if, "_write")):
        inner = getattr(port, method)

        async def checked(address, arg, inner=inner):
            n = arg if isinstance(arg, int) else len(arg)
            if address + n > size:
                raise ValueError(f"access at 0x{address:x} past the end of DRAM")
            return await inner(address, arg)

        setattr(port, method, checked)


async def submit(axil: AxiLiteMaster, task) -> None:
    prog_base, prog_len, arena_base, arena_size, tag = task
    for name, value in (("TASK_PROG_BASE_LO", prog_base & 0xFFFFFFFF), ("TASK_PROG_BASE_HI", prog_base >> 32),
                        ("TASK_PROG_LEN", prog_len), ("TASK_ARENA_BASE_LO", arena_base & 0xFFFFFFFF),
                        ("TASK_ARENA_BASE_HI", arena_base >> 32), ("TASK_ARENA_SIZE", arena_size),
                        ("TASK_TAG", tag), ("DOORBELL", 1)):
        await axil.write_dword(REG[name], value)


async def observe(dut, axil: AxiLiteMaster, ram: AxiRam, case) -> dict:
    """Registers, deterministic counters, IRQ line and the DRAM regions the case names."""
    regs = {name: await axil.read_dword(REG[name])
            for name in ("STATUS", "FAULT_PC", "FAULT_TAG", "COMPLETED", "LAST_TAG", "IRQ_STATUS", "CMDQ_FREE")}
    counters = {}
    for name, offset in PERF.items():
        lo = await axil.read_dword(offset)
        hi = await axil.read_dword(offset + 4)
        counters[name] = hi << 32 | lo
    regions = [ram.read(addr, n).hex() for addr, n in case.regions]
    return {"name": case.name, "regs": regs, "counters": counters, "irq": int(dut.irq.value), "regions": regions}


@cocotb.test()
async def run_cases(dut):
    cases = pickle.loads(open(os.environ["NUX_TB_CASES"], "rb").read())
    seed = int(os.environ.get("NUX_TB_SEED", "1"))
    pause = float(os.environ.get("NUX_TB_PAUSE", "0.3"))
    dram_size = int(os.environ.get("NUX_TB_DRAM", str(1 << 16)))
    rng = random.Random(seed)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=dram_size)
    decode_past_end(ram, dram_size)
    if pause > 0:
        for channel in (ram.write_if.aw_channel, ram.write_if.w_channel, ram.write_if.b_channel,
                        ram.read_if.ar_channel, ram.read_if.r_channel):
            channel.set_pause_generator(_pauses(random.Random(rng.random()), pause))
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    await axil.write_dword(REG["IRQ_ENABLE"], int(Irq.DONE | Irq.ERROR))

    results = []
    for case in cases:
        await axil.write_dword(REG["CTRL"], int(Ctrl.RESET | Ctrl.PERF_CLEAR))
        ram.write(0, bytes(dram_size))
        for addr, data in case.dram:
            ram.write(addr, data)
        for task in case.tasks:
            await submit(axil, task)
        cycles, timeout = 0, False
        if case.abort_after:
            await ClockCycles(dut.clk, case.abort_after)
            await axil.write_dword(REG["CTRL"], int(Ctrl.RESET | Ctrl.PERF_CLEAR))
        while True:
            status = await axil.read_dword(REG["STATUS"])
            if status & Status.ERROR or not status & Status.BUSY:
                break
            if cycles >= case.max_cycles:
                timeout = True
                break
            await ClockCycles(dut.clk, POLL_CYCLES)
            cycles += POLL_CYCLES
        result = await observe(dut, axil, ram, case)
        result["timeout"] = timeout
        results.append(result)
        dut._log.info("case %s: status 0x%08x after ~%d cycles", case.name, status, cycles)
    with open(os.environ["NUX_TB_RESULTS"], "w") as f:
        json.dump(results, f)
