"""`nux sim`: build the Verilator simulator ahead of time (`nux sim build --dim 8`) and show the build cache.

Building ahead matters because the first `open_device("sim")` for a new config otherwise pays the whole Verilator
and C++ build (tens of seconds to minutes) inside whatever asked for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nux.isa import NpuConfig
from nux.sim.build import BuildOptions

_DEFAULTS = NpuConfig()

sim_app = typer.Typer(no_args_is_help=True, help="The Verilator simulation of the NPU (the 'sim' device).")


@sim_app.command("build")
def build_command(
    dim: Annotated[int, typer.Option(help="systolic array size (4, 8, 16, 32)")] = _DEFAULTS.dim,
    sp_rows: Annotated[int, typer.Option(help="scratchpad rows")] = _DEFAULTS.sp_rows,
    acc_rows: Annotated[int, typer.Option(help="accumulator rows")] = _DEFAULTS.acc_rows,
    axi_data_bits: Annotated[int, typer.Option(help="AXI4 data width")] = _DEFAULTS.axi_data_bits,
    dram_addr_bits: Annotated[int, typer.Option(help="DRAM address width")] = _DEFAULTS.dram_addr_bits,
    cmdq_depth: Annotated[int, typer.Option(help="command queue depth")] = _DEFAULTS.cmdq_depth,
    threads: Annotated[int, typer.Option(help="Verilator --threads for the model's eval")] = 1,
    opt: Annotated[str, typer.Option(help="C++ optimisation flags of the model")] = BuildOptions().opt_cxx,
    trace: Annotated[bool, typer.Option("--trace/--no-trace", help="compile FST tracing support in")] = True,
    verilog: Annotated[
        Path | None, typer.Option(help="simulate this Verilog file instead of the generated RTL", exists=True)
    ] = None,
) -> None:
    """Build (or find in the cache) the simulator library for one NpuConfig; print its path and build time."""
    from nux.sim.build import build

    config = NpuConfig(dim=dim, sp_rows=sp_rows, acc_rows=acc_rows, axi_data_bits=axi_data_bits,
                       dram_addr_bits=dram_addr_bits, cmdq_depth=cmdq_depth)
    options = BuildOptions(opt_cxx=opt, threads=threads, trace=trace)
    result = build(config, verilog.read_text() if verilog else None, options, progress=True)
    how = "cached" if result.build_seconds is None else f"built in {result.build_seconds:.1f} s"
    typer.echo(f"{how}: {result.library}")


@sim_app.command("cache")
def cache_command(
    clear: Annotated[bool, typer.Option("--clear", help="delete every cached library and Verilog file")] = False,
) -> None:
    """List the cache directory ($NUX_SIM_CACHE) and the libraries in it."""
    from nux.sim.build import LIBRARY_NAME, cache_dir

    root = cache_dir()
    typer.echo(f"cache: {root}")
    if clear and root.is_dir():
        import shutil

        shutil.rmtree(root)
        typer.echo("  cleared")
        return
    entries = sorted(p for p in root.glob(f"*/{LIBRARY_NAME}")) if root.is_dir() else []
    for library in entries:
        meta_path = library.parent / "build.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        config = meta.get("config", {})
        desc = ", ".join(f"{k}={v}" for k, v in config.items())
        typer.echo(f"  {library.parent.name}  {desc}  ({meta.get('build_seconds', '?')} s)")
    if not entries:
        typer.echo("  (empty)")


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
