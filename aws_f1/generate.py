"""`write_cl_dir(config, shell, parent)`: a complete CL folder for the AWS HDK flow, for one NpuConfig.

    <parent>/cl_nux_f2/                     (the folder name must equal the CL module name: the HDK checks it)
      design/    nux_npu.v nux_npu.json nux_cl_core.v cl_nux_f2.sv cl_id_defines.vh cl_nux_defines.vh
      build/constraints/  *.xdc               build/scripts/  synth_cl_nux_f2.tcl (F1: + encrypt.tcl)
      hdk_build.sh create_afi.sh load_afi.sh  sources.f  nux_cl.json

`sources.f` is the source list (design files in compile order; the shell's cl_ports.vh and sh_ddr come from
the HDK). `nux_cl.json` records the config, the shell and the address map the driver will expect. The HDK build
itself needs Vivado and runs elsewhere (docs/aws.md).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from amaranth.back import verilog
from nux.aws.core import CORE_NAME, NuxClCore
from nux.isa import NpuConfig
from nux.isa.aws import (
    CL_REG,
    DRAM_BASE,
    IRQ_VECTOR,
    NPU_BAR0_OFFSET,
    PCI_DEVICE_ID,
    PCI_SUBSYSTEM_ID,
    PCI_SUBSYSTEM_VENDOR_ID,
    PCI_VENDOR_ID,
    Shell,
)

_FLOW = {Shell.F2: {"build/constraints": ("cl_synth_user.xdc", "cl_timing_user.xdc"),
                    "build/scripts": ("synth_cl.tcl",)},
         Shell.F1: {"build/constraints": ("cl_synth_user.xdc", "cl_pnr_user.xdc"),
                    "build/scripts": ("synth_cl.tcl", "encrypt.tcl")}}
_SCRIPTS = ("hdk_build.sh", "create_afi.sh", "load_afi.sh")


def cl_name(shell: Shell) -> str:
    return f"cl_nux_{Shell(shell).name.lower()}"


def generate_core(config: NpuConfig, shell: Shell) -> str:
    """Verilog of `nux_cl_core` (the glue; it instantiates `nux_npu`, which nux.rtl.verilog writes)."""
    return verilog.convert(NuxClCore(config, shell), name=CORE_NAME, emit_src=False)


def id_defines() -> str:
    """cl_id_defines.vh, in the exact form the HDK's build script parses for the AFI manifest."""
    return ("// PCIe IDs of the nux CL (generated from nux.isa.aws; do not edit)\n"
            "`ifndef CL_ID_DEFINES\n`define CL_ID_DEFINES\n"
            f"`define CL_SH_ID0 32'h{PCI_DEVICE_ID:04X}_{PCI_VENDOR_ID:04X}\n"
            f"`define CL_SH_ID1 32'h{PCI_SUBSYSTEM_ID:04X}_{PCI_SUBSYSTEM_VENDOR_ID:04X}\n"
            "`endif\n")


def nux_defines() -> str:
    return ("// nux CL constants (generated from nux.isa.aws; do not edit)\n"
            f"`define NUX_IRQ_VECTOR {IRQ_VECTOR}\n")


def _template(path: str) -> str:
    return resources.files("nux.aws").joinpath(path).read_text()


def write_cl_dir(config: NpuConfig, shell: Shell, parent: str | Path) -> Path:
    """Write the CL folder for `config` on `shell` under `parent`; return the folder."""
    from nux.rtl.verilog import write_verilog

    shell = Shell(shell)
    name = cl_name(shell)
    root = Path(parent) / name
    design = root / "design"
    design.mkdir(parents=True, exist_ok=True)
    write_verilog(config, design)
    (design / f"{CORE_NAME}.v").write_text(generate_core(config, shell))
    (design / f"{name}.sv").write_text(_template(f"hdl/{name}.sv"))
    (design / "cl_id_defines.vh").write_text(id_defines())
    (design / "cl_nux_defines.vh").write_text(nux_defines())
    subst = {"@CL@": name, "@SHELL@": shell.name, "@DEVICE_ID@": f"{PCI_DEVICE_ID:04x}",
             "@CONFIG@": ", ".join(f"{k}={v}" for k, v in config.to_dict().items())}
    for folder, files in _FLOW[shell].items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for file in files:
            target = f"synth_{name}.tcl" if file == "synth_cl.tcl" else file
            (root / folder / target).write_text(_fill(_template(f"flow/{shell.name.lower()}/{file}"), subst))
    for script in _SCRIPTS:
        path = root / script
        path.write_text(_fill(_template(f"flow/{script}"), subst))
        path.chmod(0o755)
    (root / "sources.f").write_text("\n".join(f"design/{f}" for f in source_list(shell)) + "\n")
    (root / "nux_cl.json").write_text(json.dumps(manifest(config, shell), indent=2) + "\n")
    return root


def source_list(shell: Shell) -> list[str]:
    """The CL's own design files, in compile order (headers first)."""
    return ["cl_id_defines.vh", "cl_nux_defines.vh", "nux_npu.v", f"{CORE_NAME}.v", f"{cl_name(shell)}.sv"]


def manifest(config: NpuConfig, shell: Shell) -> dict:
    return {"cl": cl_name(shell), "shell": Shell(shell).name, "config": config.to_dict(),
            "npu_bar0_offset": NPU_BAR0_OFFSET, "dram_base": DRAM_BASE, "irq_vector": IRQ_VECTOR,
            "cl_registers": CL_REG}


def _fill(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace(key, value)
    return text
