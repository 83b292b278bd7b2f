"""Run lowered layers on the golden Machine: in program order and under random decoupled interleavings."""

from __future__ import annotations

import numpy as np
from nux.compiler.lower import ActTensor, ArenaEmitter
from nux.golden.decoupled import run_decoupled
from nux.golden.machine import Machine
from nux.isa import ISA_VERSION, Instr, NpuConfig, Opcode, assemble


def to_dram(t: ActTensor, value: np.ndarray) -> np.ndarray:
    """Logical (NCHW for 4-D) values as the bytes stored in DRAM (NHWC for 4-D)."""
    arr = np.asarray(value, dtype=t.dtype).reshape(t.shape)
    return arr.transpose(0, 2, 3, 1) if arr.ndim == 4 else arr


def from_dram(t: ActTensor, raw: np.ndarray) -> np.ndarray:
    if len(t.shape) == 4:
        n, c, h, w = t.shape
        return raw.view(t.dtype).reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return raw.view(t.dtype).reshape(t.shape)


def run(em: ArenaEmitter, inputs: dict[ActTensor, np.ndarray], outputs: list[ActTensor],
        seeds: int = 2) -> list[np.ndarray]:
    """Execute em.program + END in order; check that `seeds` decoupled runs give the same outputs."""
    code = assemble(em.program + [Instr(Opcode.END)])
    base = -(-em.end // 64) * 64
    image = np.zeros(base + len(code), dtype=np.uint8)
    for offset, blob in em.blobs:
        image[offset : offset + len(blob)] = np.frombuffer(blob, dtype=np.uint8)
    for t, value in inputs.items():
        raw = np.ascontiguousarray(to_dram(t, value)).view(np.uint8).ravel()
        image[t.offset : t.offset + raw.size] = raw
    image[base:] = np.frombuffer(code, dtype=np.uint8)
    results = None
    for seed in range(-1, seeds):
        dram = image.copy()
        machine = Machine(em.config, dram)
        if seed < 0:
            machine.run_task(base, len(code) // 32, 0, dram.size)
        else:
            run_decoupled(machine, base, len(code) // 32, 0, seed)
        got = [from_dram(t, dram[t.offset : t.offset + t.nbytes]).copy() for t in outputs]
        if results is None:
            results = got
        else:
            for a, b in zip(results, got, strict=True):
                np.testing.assert_array_equal(b, a, err_msg=f"decoupled run (seed {seed}) differs: a race")
    return results


def emitter(dim: int = 8, sp_rows: int = 512, acc_rows: int = 256, isa_minor: int = ISA_VERSION[1]) -> ArenaEmitter:
    """An emitter for a dim x dim NPU implementing ISA 1.`isa_minor` (default: the newest)."""
    return ArenaEmitter(NpuConfig(dim=dim, sp_rows=sp_rows, acc_rows=acc_rows), isa_minor=isa_minor)
