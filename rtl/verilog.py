"""Verilog generation for the top level: `generate_verilog(config)` and `write_verilog(config, outdir)`.

The simulator (nux.sim) and the FPGA wrappers build exactly this text. `write_verilog` also writes the config as
JSON next to it, so a build directory says what it was built for. The Verilator lint waivers live here, in one
place, with the reason for each.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from amaranth.back import verilog
from nux.errors import NuxError
from nux.isa import NpuConfig
from nux.rtl.top import NuxNpu

TOP_NAME = "nux_npu"

#: `verilator --lint-only -Wall` waivers for Amaranth-generated Verilog, each with why it is harmless. Kept
#: minimal: `tests/rtl/test_verilog.py` (slow) fails when a waiver is no longer needed.
LINT_WAIVERS: dict[str, str] = {
    "WIDTHEXPAND": "Yosys emits zero-extending assignments between unequal widths; Amaranth defines them",
    "WIDTHTRUNC": "Yosys emits truncating assignments; Amaranth's arithmetic is width-explicit",
    "UNUSEDSIGNAL": "instruction views and AXI inputs (rid/bid of unused IDs, rlast) are wider than what is read",
    "DECLFILENAME": "one file holds the whole flattened hierarchy",
    "CASEINCOMPLETE": "Yosys case statements rely on default assignments before the case",
    "PROCASSINIT": "Yosys initialises registers at declaration and assigns them in processes",
    "ASCRANGE": "zero-width Amaranth signals (e.g. an empty tag) are emitted as [-1:0] and never used",
}


class VerilogError(NuxError):
    """Verilog generation or its lint failed."""


def generate_verilog(config: NpuConfig) -> str:
    """The Verilog text of the top module `nux_npu` for `config`."""
    top = NuxNpu(config)
    return verilog.convert(top, name=TOP_NAME, emit_src=False)


def write_verilog(config: NpuConfig, outdir: str | Path) -> Path:
    """Write `nux_npu.v` and `nux_npu.json` (the config) into `outdir`; return the Verilog path."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{TOP_NAME}.v"
    path.write_text(generate_verilog(config))
    (out / f"{TOP_NAME}.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return path


def lint_args() -> list[str]:
    return ["--lint-only", "-Wall", *[f"-Wno-{w}" for w in LINT_WAIVERS]]


def lint_verilog(path: str | Path) -> str:
    """Run `verilator --lint-only -Wall` with the documented waivers; raise VerilogError on any warning."""
    from nux.toolchain import verilator_env

    cmd = ["verilator", *lint_args(), "--top-module", TOP_NAME, str(path)]
    proc = subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerilogError(f"verilator lint failed on {path}:\n{proc.stderr.strip()}")
    return proc.stderr
