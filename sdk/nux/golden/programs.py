"""The smallest useful program (LOAD, STORE, END), shared by the driver and simulator tests.

Tiled GEMM, conv and other operator programs are built by `nux.compiler.lower`.
"""

from __future__ import annotations

from nux.isa import Instr, NpuConfig


def copy_program(config: NpuConfig, src: int, dst: int, rows: int, extra: list[Instr] | None = None) -> list[Instr]:
    """The smallest useful program: LOAD `rows` rows of dim bytes from arena offset `src` into SP, STORE them to
    `dst`, END. `extra` instructions go between the STORE and END (to plant a fault after real work)."""
    d = config.dim
    return [
        Instr("load", dram_offset=src, x_size=rows, x_stride=d),
        Instr("sync"),
        Instr("store", dram_offset=dst, x_size=rows, x_stride=d),
        *(extra or []),
        Instr("end"),
    ]


__all__ = ["copy_program"]
