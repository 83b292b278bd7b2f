"""The SP and ACC port members every compute engine declares: one place for their address widths and row shapes.

Engines (GEMM, VECTOR/POOL/REQUANT, REDUCE, LUTW) and the ComputeUnit that muxes them all talk to the same banked
memories, so their read and write ports must agree exactly; declaring them here keeps them from drifting.
"""

from __future__ import annotations

from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In
from nux.isa import NpuConfig


def sp_addr_bits(config: NpuConfig) -> int:
    return (config.sp_rows - 1).bit_length()


def acc_addr_bits(config: NpuConfig) -> int:
    return (config.acc_rows - 1).bit_length()


def sp_read(config: NpuConfig) -> In:
    """A scratchpad read port (one row of dim bytes), driven by the engine."""
    return In(ReadPort.Signature(addr_width=sp_addr_bits(config), shape=config.dim * 8))


def sp_write(config: NpuConfig) -> In:
    return In(WritePort.Signature(addr_width=sp_addr_bits(config), shape=config.dim * 8))


def acc_read(config: NpuConfig) -> In:
    """An accumulator read port (one row of dim int32)."""
    return In(ReadPort.Signature(addr_width=acc_addr_bits(config), shape=config.dim * 32))


def acc_write(config: NpuConfig) -> In:
    return In(WritePort.Signature(addr_width=acc_addr_bits(config), shape=config.dim * 32))
