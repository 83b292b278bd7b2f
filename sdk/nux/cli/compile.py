"""`nux compile MODEL.onnx -o OUT.enf`: quantized ONNX -> ENF, with the per-layer table (placement, reason,
MACs, predicted cycles and utilization) and an optional JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nux.isa import ISA_VERSION, NpuConfig


def _shapes(values: list[str] | None) -> dict[str, tuple[int, ...]]:
    from nux.compiler import CompileError

    shapes = {}
    for item in values or []:
        name, _, dims = item.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise CompileError(f"--input-shape wants NAME=D0,D1,...; got {item!r}") from None
    return shapes


def compile_command(
    model: Annotated[Path, typer.Argument(help="quantized ONNX model (QDQ or QOperator)", metavar="MODEL.onnx")],
    output: Annotated[Path, typer.Option("-o", "--output", help="ENF file to write")],
    dim: Annotated[int, typer.Option(help="systolic array dim")] = NpuConfig.dim,
    sp_rows: Annotated[int, typer.Option(help="scratchpad rows")] = NpuConfig.sp_rows,
    acc_rows: Annotated[int, typer.Option(help="accumulator rows")] = NpuConfig.acc_rows,
    axi_data_bits: Annotated[int, typer.Option(help="DRAM bus width")] = NpuConfig.axi_data_bits,
    report_json: Annotated[Optional[Path], typer.Option("--json", help="write the report as JSON")] = None,  # noqa: UP045
    no_fallback: Annotated[bool, typer.Option("--no-fallback", help="error instead of running ops on the host")
                           ] = False,
    input_shape: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--input-shape", help="fix a dynamic input shape: NAME=1,3,224,224 (repeatable)")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="no layer table")] = False,
    isa_minor: Annotated[int, typer.Option(help="ISA 1.x the target NPU implements (0: ISA 1.1 operators such as "
                                                "Softmax run on the host)")] = ISA_VERSION[1],
) -> None:
    """Compile MODEL.onnx for the NPU; nodes the NPU cannot run fall back to the host (listed with the reason)."""
    from nux.compiler import compile, format_table
    from nux.enf import save_enf

    config = NpuConfig(dim=dim, sp_rows=sp_rows, acc_rows=acc_rows, axi_data_bits=axi_data_bits)
    enf = compile(model, config, input_shapes=_shapes(input_shape), fallback=not no_fallback, progress=None,
                  isa_minor=isa_minor)
    save_enf(enf, output)
    report = enf.meta["report"]
    if not quiet:
        typer.echo(format_table(report))
    if report_json is not None:
        report_json.write_text(json.dumps(report, indent=1))
    typer.echo(f"wrote {output} ({len(enf.programs)} NPU program(s), {len(enf.host_graphs)} host graph(s), "
               f"arena {enf.arena_size:,} bytes)")


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
