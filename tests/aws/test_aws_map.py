"""One address map (nux.isa.aws) for the CL and the driver, and the CL folder the HDK flow takes."""

from __future__ import annotations

import inspect
import json
import os

import pytest
from nux.aws.generate import id_defines, source_list, write_cl_dir
from nux.cli import main
from nux.driver.pci import PciDevice
from nux.driver.xdma import XdmaDevice
from nux.isa import REG, NpuConfig
from nux.isa.aws import (
    CL_REG,
    DRAM_BASE,
    NPU_BAR0_OFFSET,
    PCI_DEVICE_ID,
    PCI_SUBSYSTEM_ID,
    PCI_SUBSYSTEM_VENDOR_ID,
    PCI_VENDOR_ID,
    Shell,
)

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)


@pytest.mark.parametrize("backend", [PciDevice, XdmaDevice])
def test_driver_defaults_are_the_cl_map(backend):
    params = inspect.signature(backend).parameters
    assert params["mmio_offset"].default == NPU_BAR0_OFFSET
    assert params["dram_base"].default == DRAM_BASE


def test_xdma_registers_follow_mmio_offset(tmp_path):
    """The user BAR offset is applied to every register access (the CL could move the NPU window)."""
    paths = {k: tmp_path / k for k in ("user", "h2c", "c2h")}
    for p in paths.values():
        p.write_bytes(bytes(0x3000))
    dev = XdmaDevice(0, **{k: str(p) for k, p in paths.items()}, dram_size=0x1000, mmio_offset=0x1000)
    try:
        dev.write32(REG["TASK_TAG"], 0xCAFE)
        assert dev.read32(REG["TASK_TAG"]) == 0xCAFE
    finally:
        dev.close()
    raw = paths["user"].read_bytes()
    assert raw[0x1000 + REG["TASK_TAG"] : 0x1000 + REG["TASK_TAG"] + 4] == (0xCAFE).to_bytes(4, "little")
    assert raw.count(0) == len(raw) - 2


def test_id_defines_parse_like_the_hdk():
    """aws_build_dcp_from_cl.py splits `32'hDDDD_VVVV` to fill the AFI manifest's PCIe IDs."""
    defines = {line.split()[1]: line.split()[2] for line in id_defines().splitlines() if line.startswith("`define")
               and len(line.split()) == 3}
    device, vendor = defines["CL_SH_ID0"].removeprefix("32'h").split("_")
    subsystem, sub_vendor = defines["CL_SH_ID1"].removeprefix("32'h").split("_")
    assert (int(device, 16), int(vendor, 16)) == (PCI_DEVICE_ID, PCI_VENDOR_ID)
    assert (int(subsystem, 16), int(sub_vendor, 16)) == (PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID)
    assert PCI_VENDOR_ID == 0x1D0F and 0xF000 <= PCI_DEVICE_ID <= 0xF0FF  # the range AWS allows its vendor ID


@pytest.mark.parametrize("shell", [Shell.F2, Shell.F1], ids=["f2", "f1"])
def test_cl_folder_has_what_the_hdk_flow_needs(tmp_path, shell):
    root = write_cl_dir(CONFIG, shell, tmp_path)
    name = f"cl_nux_{shell.name.lower()}"
    assert root.name == name  # the HDK requires folder name == CL module name
    listed = (root / "sources.f").read_text().split()
    assert listed == [f"design/{f}" for f in source_list(shell)] and all((root / f).is_file() for f in listed)
    assert f"module {name}" in (root / "design" / f"{name}.sv").read_text()
    assert (root / "build" / "scripts" / f"synth_{name}.tcl").is_file()
    for script in ("hdk_build.sh", "create_afi.sh", "load_afi.sh"):
        text = (root / script).read_text()
        assert os.access(root / script, os.X_OK) and "@" not in text.replace("$@", "").replace('"$@"', "")
    manifest = json.loads((root / "nux_cl.json").read_text())
    assert manifest["config"] == CONFIG.to_dict() and manifest["shell"] == shell.name
    assert manifest["npu_bar0_offset"] == NPU_BAR0_OFFSET and manifest["cl_registers"] == CL_REG
    assert json.loads((root / "design" / "nux_npu.json").read_text()) == CONFIG.to_dict()


def test_cli_writes_the_folder_and_refuses_a_bad_shell(tmp_path, capsys):
    config = tmp_path / "npu.json"
    config.write_text(json.dumps({**CONFIG.to_dict(), "dim": 8}))
    assert main(["aws-cl", "-o", str(tmp_path), "--config", str(config), "--dim", "4", "--shell", "f1"]) == 0
    assert json.loads((tmp_path / "cl_nux_f1" / "nux_cl.json").read_text())["config"] == CONFIG.to_dict()
    assert (tmp_path / "cl_nux_f1" / "design" / "nux_cl_core.v").is_file()
    assert main(["aws-cl", "-o", str(tmp_path), "--shell", "f3"]) == 1
    assert "f1 or f2" in capsys.readouterr().err


def test_docs_tables_are_generated_from_the_map():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nux.aws.docgen", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    from nux.aws.docgen import c_header

    header = c_header()
    assert all(f"#define NUX_{name} 0x{offset:04X}u" in header for name, offset in CL_REG.items())


def test_pci_device_memory_is_cut_to_what_the_npu_reaches(tmp_path):
    """F2's BAR4 (128 GiB) is larger than the NPU's address space: the default dram_size must not exceed it."""
    from nux.isa import NPU_ID

    bar0, bar4 = tmp_path / "resource0", tmp_path / "resource4"
    bar4.write_bytes(bytes(1 << 20))
    regs = bytearray(4096)
    bar0.write_bytes(regs)
    dev = PciDevice(bar0=str(bar0), bar4=str(bar4))
    assert dev.dram_size == 1 << 20  # not a nux NPU behind BAR0: the whole window
    dev.close()
    regs[REG["ID"] : REG["ID"] + 4] = NPU_ID.to_bytes(4, "little")
    regs[REG["CFG_DRAM_ADDR_BITS"] : REG["CFG_DRAM_ADDR_BITS"] + 4] = (16).to_bytes(4, "little")
    bar0.write_bytes(regs)
    dev = PciDevice(bar0=str(bar0), bar4=str(bar4))
    assert dev.dram_size == 1 << 16
    dev.close()
