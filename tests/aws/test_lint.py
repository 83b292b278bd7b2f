"""Verilator lint of each CL top (cl_nux_f2, cl_nux_f1) with the generated core, the NPU and our shell stubs.

`verilator --lint-only -Wall` must be clean. The Amaranth-generated files (nux_npu.v, nux_cl_core.v) are linted
by the RTL tests with their own waivers (nux.rtl.verilog.LINT_WAIVERS) and are skipped here; the hand-written
tops get only the waivers below, each limited to the file it is about.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nux.aws.generate import source_list, write_cl_dir  # noqa: E402
from nux.isa import NpuConfig  # noqa: E402
from nux.isa.aws import Shell  # noqa: E402
from shell_stubs import write_stubs  # noqa: E402

pytestmark = pytest.mark.rtl

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)

#: (rule, file glob, why)
WAIVERS = [
    ("UNUSEDSIGNAL", "*/cl_ports.vh", "the shell's port list carries inputs this CL has no use for (PCIM responses, "
     "extra clocks, AXI side bands the shell defines as constant, other IRQ acks)"),
    ("PINCONNECTEMPTY", "*/cl_nux_f1.sv", "sh_ddr outputs of the absent DIMMs A, B, D are left open, as the HDK does"),
    ("UNUSEDPARAM", "*/cl_nux_f2.sv", "EN_HBM is a parameter the F2 build scripts set on every CL; we use no HBM"),
    ("UNUSEDPARAM", "*/sh_ddr.sv", "the stub's parameters mirror the real sh_ddr's"),
    ("UNDRIVEN", "*/sh_ddr.sv", "the stub has no body"),
    ("UNUSEDSIGNAL", "*/sh_ddr.sv", "the stub has no body"),
]


def lint(shell: Shell, root: Path, stubs: Path) -> subprocess.CompletedProcess:
    from nux.toolchain import verilator_env

    vlt = root / "lint.vlt"
    lines = ["`verilator_config", 'lint_off -file "*/nux_npu.v"', 'lint_off -file "*/nux_cl_core.v"']
    lines += [f'lint_off -rule {rule} -file "{glob}"' for rule, glob, _ in WAIVERS]
    vlt.write_text("\n".join(lines) + "\n")
    design = root / "design"
    sources = [str(design / f) for f in source_list(shell) if not f.endswith(".vh")]
    cmd = ["verilator", "--lint-only", "-Wall", str(vlt), f"-I{stubs}", f"-I{design}", "--top-module", root.name,
           str(stubs / "sh_ddr.sv"), *sources]
    return subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True)


@pytest.fixture(scope="module", params=[Shell.F2, Shell.F1], ids=["f2", "f1"])
def cl_dir(request, tmp_path_factory):
    shell = request.param
    base = tmp_path_factory.mktemp(shell.name)
    return shell, write_cl_dir(CONFIG, shell, base), write_stubs(shell.name, base / "stubs")


def test_cl_top_lints_clean(cl_dir):
    shell, root, stubs = cl_dir
    proc = lint(shell, root, stubs)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_lint_catches_a_missing_tie_off(cl_dir):
    """The stubbed port list is strict enough to notice an output left undriven."""
    shell, root, stubs = cl_dir
    top = root / "design" / f"{root.name}.sv"
    text = top.read_text()
    top.write_text(text.replace("tdo = 1'b0;", ""))
    try:
        proc = lint(shell, root, stubs)
    finally:
        top.write_text(text)
    assert proc.returncode != 0 and "tdo" in proc.stderr
