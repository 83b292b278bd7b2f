"""The golden test rig: a small Machine with helpers to place data and programs in DRAM and run them."""

from __future__ import annotations

import numpy as np
from nux.golden.machine import Machine
from nux.isa import ISA_VERSION, Instr, NpuConfig, assemble

CONFIG = NpuConfig(dim=4, sp_rows=64, acc_rows=32)
DRAM_SIZE = 1 << 16


class Rig:
    """Machine + DRAM; programs go to `prog_base` inside an arena covering the whole DRAM by default."""

    def __init__(self, config: NpuConfig = CONFIG, dram_size: int = DRAM_SIZE, isa_minor: int = ISA_VERSION[1]):
        self.dram = np.zeros(dram_size, dtype=np.uint8)
        self.machine = Machine(config, self.dram, isa_minor)

    def put(self, addr: int, values: np.ndarray) -> None:
        raw = np.ascontiguousarray(values).view(np.uint8).ravel()
        self.dram[addr : addr + raw.size] = raw

    def get(self, addr: int, count: int, dtype: str = "u1") -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return self.dram[addr : addr + count * size].view(dtype).copy()

    def run(self, program: list[Instr], prog_base: int = 0, arena_base: int = 0, arena_size: int | None = None):
        self.put(prog_base, np.frombuffer(assemble(program), dtype=np.uint8))
        size = self.dram.size - arena_base if arena_size is None else arena_size
        self.machine.run_task(prog_base, len(program), arena_base, size)

    def sp(self, first: int, count: int, signed: bool = False) -> list[list[int]]:
        rows = self.machine.sp[first : first + count]
        return (rows.view(np.int8) if signed else rows).tolist()

    def acc(self, first: int, count: int) -> list[list[int]]:
        return self.machine.acc[first : first + count].tolist()
