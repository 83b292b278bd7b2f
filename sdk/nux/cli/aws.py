"""`nux aws-cl`: write the AWS F1/F2 custom-logic folder (Verilog, constraints, HDK scripts) for one NpuConfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nux.isa import NpuConfig


def aws_cl(
    output: Annotated[Path, typer.Option("-o", "--output", help="parent folder; the CL folder is created in it")],
    shell: Annotated[str, typer.Option(help="f2 (the shell AWS sells) or f1 (XDMA shell, legacy)")] = "f2",
    dim: Annotated[int, typer.Option(help="systolic array size (overrides --config)")] = 0,
    config: Annotated[Path | None, typer.Option(help="NpuConfig as JSON (e.g. the nux_npu.json `nux rtl` writes)")]
    = None,
) -> None:
    """Generate the CL folder (cl_nux_f2/ or cl_nux_f1/) to build with the AWS HDK; see docs/aws.md."""
    from nux.aws.generate import write_cl_dir
    from nux.errors import NuxError
    from nux.isa.aws import Shell

    try:
        which = Shell[shell.upper()]
    except KeyError:
        raise NuxError(f"--shell must be f1 or f2, not {shell!r}") from None
    values = json.loads(config.read_text()) if config else {}
    if dim:
        values["dim"] = dim
    cfg = NpuConfig.from_dict(values)
    root = write_cl_dir(cfg, which, output)
    typer.echo(f"wrote {root} ({which.name} shell, {cfg}); next: {root}/hdk_build.sh on a Vivado build instance")


def register(app: typer.Typer) -> None:
    app.command("aws-cl")(aws_cl)
