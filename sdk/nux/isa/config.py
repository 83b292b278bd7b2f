"""NpuConfig: the hardware parameters a program is compiled for and a device reports in its ID registers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nux.errors import NuxError


class ConfigError(NuxError):
    """An NpuConfig is invalid, or an ENF and a device disagree about it."""


@dataclass(frozen=True)
class NpuConfig:
    """Parameters of one NPU build.

    dim: the systolic array is dim x dim PEs; a scratchpad row is dim int8 lanes, an accumulator row dim int32.
    sp_rows / acc_rows: scratchpad and accumulator depth in rows.
    axi_data_bits: width of the DRAM AXI4 master; changes speed, never results.
    dram_addr_bits: device DRAM address width (arena and program bases must fit).
    cmdq_depth: how many tasks the command queue holds (asynchronous submission depth).
    """

    dim: int = 8
    sp_rows: int = 4096
    acc_rows: int = 1024
    axi_data_bits: int = 64
    dram_addr_bits: int = 32
    cmdq_depth: int = 4

    def __post_init__(self) -> None:
        if self.dim not in (4, 8, 16, 32):
            raise ConfigError(
                f"dim must be 4, 8, 16 or 32 (a power of two dividing the 256-entry LUT), got {self.dim}"
            )
        for name in ("sp_rows", "acc_rows"):
            rows = getattr(self, name)
            if not (2 * self.dim <= rows <= 65536) or rows & (rows - 1):
                raise ConfigError(f"{name} must be a power of two in [2*dim, 65536], got {rows}")
        if self.axi_data_bits not in (32, 64, 128, 256, 512):
            raise ConfigError(f"axi_data_bits must be 32..512 (power of two), got {self.axi_data_bits}")
        if not 16 <= self.dram_addr_bits <= 64:
            raise ConfigError(f"dram_addr_bits must be in [16, 64], got {self.dram_addr_bits}")
        if not 1 <= self.cmdq_depth <= 255:
            raise ConfigError(f"cmdq_depth must be in [1, 255], got {self.cmdq_depth}")

    @property
    def lut_rows(self) -> int:
        """The 256-entry LUT seen as rows of dim bytes (LOAD dst=lut writes whole rows)."""
        return 256 // self.dim

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, int]) -> NpuConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown NpuConfig fields: {sorted(unknown)}")
        return cls(**values)

    def compatibility_error(self, device: NpuConfig) -> str | None:
        """Why a program compiled for `self` cannot run on `device`, or None when it can.

        dim must match (it fixes the data layout); the device's memories must be at least as deep as the ones the
        program was compiled for. Bus width and command-queue depth change speed only.
        """
        problems = []
        if device.dim != self.dim:
            problems.append(f"dim {self.dim} != device dim {device.dim}")
        if device.sp_rows < self.sp_rows:
            problems.append(f"sp_rows {self.sp_rows} > device sp_rows {device.sp_rows}")
        if device.acc_rows < self.acc_rows:
            problems.append(f"acc_rows {self.acc_rows} > device acc_rows {device.acc_rows}")
        if device.dram_addr_bits < self.dram_addr_bits:
            problems.append(f"dram_addr_bits {self.dram_addr_bits} > device {device.dram_addr_bits}")
        return "; ".join(problems) or None


#: Small configurations used by tests; F1 builds use dim 16-32.
TEST_CONFIGS = (
    NpuConfig(dim=4, sp_rows=256, acc_rows=128),
    NpuConfig(dim=8, sp_rows=512, acc_rows=256),
    NpuConfig(dim=16, sp_rows=1024, acc_rows=512, axi_data_bits=128),
)
