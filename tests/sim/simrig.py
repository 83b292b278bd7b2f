"""Shared helpers of the simulator tests: the stub top and the arguments that build a SimDevice from it.

The stub (stub_npu.v) has the real top's ports and register file, so the harness (clock, AXI-Lite master, DRAM
model, run loops, traces) and the build cache are tested without depending on the real RTL.
"""

from __future__ import annotations

from pathlib import Path

from nux.isa import TEST_CONFIGS, NpuConfig

STUB = Path(__file__).with_name("stub_npu.v")
STUB_CONFIG = TEST_CONFIGS[0]  # dim 4


def stub_parameters(config: NpuConfig) -> dict[str, int]:
    """Verilog parameter overrides that make the stub report `config`.

    Only values that differ from the stub's defaults (which are STUB_CONFIG) are passed, so a plain build of the
    stub file for STUB_CONFIG (e.g. `nux sim build --verilog stub_npu.v`) shares the cache entry of the tests.
    """
    values = {
        "DIM": config.dim,
        "SP_ROWS": config.sp_rows,
        "ACC_ROWS": config.acc_rows,
        "DATA_BITS": config.axi_data_bits,
        "ADDR_BITS": config.dram_addr_bits,
        "CMDQ_DEPTH": config.cmdq_depth,
    }
    defaults = dict(zip(values, (4, 256, 128, 64, 32, 4), strict=True))
    return {name: value for name, value in values.items() if defaults[name] != value}


def stub_device_kwargs(config: NpuConfig = STUB_CONFIG) -> dict:
    return {"config": config, "verilog": STUB.read_text(), "parameters": stub_parameters(config), "progress": False}
