"""`nux info --device <string>`: who the NPU is and what state it is in (works for every backend)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nux.isa import ERROR_DOCS, REG, ErrorCode

DeviceOption = Annotated[
    str, typer.Option("-d", "--device", help="device string: golden, sim, xdma[:N], pci:<BDF>")
]
BackendOptions = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer needs Optional at run time on 3.10)
    typer.Option("-O", "--option", help="backend option key=value (repeatable), e.g. -O dram_size=0x4000000"),
]


def _error_text(code: int) -> str:
    try:
        return f"{ErrorCode(code).name} ({ERROR_DOCS[ErrorCode(code)]})"
    except ValueError:
        return f"unknown error code {code}"


def info(device: DeviceOption = "golden", option: BackendOptions = None) -> None:
    """Print the NPU's identity, configuration, status and performance counters (without resetting it)."""
    from nux.driver import Npu
    from nux.driver.registry import parse_options

    with Npu(device, reset=False, **parse_options(option)) as npu:
        status = npu.status()
        state = "error" if status["error"] else "busy" if status["busy"] else "idle"
        lines = [
            f"device   {device}  ({npu.device!r})",
            f"id       0x{npu.device.read32(REG['ID']):08x} (NUX1)",
            f"version  ISA v{npu.version[0]}.{npu.version[1]}",
            "config   " + "  ".join(f"{k}={v}" for k, v in npu.config.to_dict().items()),
            f"memory   0x{npu.memory.size:x} bytes of device DRAM",
            f"status   0x{status['status']:08x} {state}, {status['queued']} queued, {status['cmdq_free']} free "
            f"slots, {status['completed']} completed, last tag {status['last_tag']}",
        ]
        if status["error"]:
            lines.append(
                f"fault    {_error_text(status['error_code'])} at pc {status['fault_pc']} of tag {status['fault_tag']}"
            )
        lines.append("perf")
        lines += [f"  {name:<14}{value:>20}" for name, value in npu.perf().items()]
        typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("info")(info)
