"""`nux rtl`: write the NPU's top-level Verilog (and its config as JSON) for an NpuConfig, optionally linted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nux.isa import NpuConfig

_DEFAULTS = NpuConfig()


def rtl(
    output: Annotated[Path, typer.Option("-o", "--output", help="directory for nux_npu.v and nux_npu.json")],
    dim: Annotated[int, typer.Option(help="systolic array size (4, 8, 16, 32)")] = _DEFAULTS.dim,
    sp_rows: Annotated[int, typer.Option(help="scratchpad rows")] = _DEFAULTS.sp_rows,
    acc_rows: Annotated[int, typer.Option(help="accumulator rows")] = _DEFAULTS.acc_rows,
    axi_data_bits: Annotated[int, typer.Option(help="AXI4 data width")] = _DEFAULTS.axi_data_bits,
    dram_addr_bits: Annotated[int, typer.Option(help="DRAM address width")] = _DEFAULTS.dram_addr_bits,
    cmdq_depth: Annotated[int, typer.Option(help="command queue depth")] = _DEFAULTS.cmdq_depth,
    lint: Annotated[bool, typer.Option("--lint", help="run verilator --lint-only -Wall (documented waivers)")] = False,
) -> None:
    """Generate the top-level Verilog (module nux_npu) for one NpuConfig."""
    from nux.rtl.verilog import lint_verilog, write_verilog

    config = NpuConfig(dim=dim, sp_rows=sp_rows, acc_rows=acc_rows, axi_data_bits=axi_data_bits,
                       dram_addr_bits=dram_addr_bits, cmdq_depth=cmdq_depth)
    path = write_verilog(config, output)
    typer.echo(f"wrote {path} and {path.with_suffix('.json')}")
    if lint:
        lint_verilog(path)
        typer.echo("verilator lint: clean")


def register(app: typer.Typer) -> None:
    app.command("rtl")(rtl)
