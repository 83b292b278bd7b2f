"""Verilog generation: top-level ports of docs/isa.md section 7, config JSON, Verilator lint, the `nux rtl` CLI."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from amaranth.hdl import Shape
from nux.cli import main
from nux.isa import NpuConfig
from nux.rtl.axi import axi4_signature, axil_signature
from nux.rtl.top import RtlConfigError, check_rtl_config
from nux.rtl.verilog import LINT_WAIVERS, TOP_NAME, generate_verilog, lint_verilog, write_verilog

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=128, dram_addr_bits=34)
pytestmark = pytest.mark.rtl


@pytest.fixture(scope="module")
def verilog_dir(tmp_path_factory):
    return write_verilog(CONFIG, tmp_path_factory.mktemp("verilog")).parent


def _ports(text: str) -> dict[str, tuple[str, int]]:
    """name -> (direction, width) of the top module's ports."""
    top = text[text.index(f"module {TOP_NAME}("):]
    top = top[: top.index("endmodule")]
    ports = {}
    for direction, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", top, re.M):
        ports[name] = (direction, int(msb) + 1 if msb else 1)
    return ports


def test_top_ports_follow_the_spec(verilog_dir):
    ports = _ports((verilog_dir / f"{TOP_NAME}.v").read_text())
    expected = {"clk": ("input", 1), "rst": ("input", 1), "irq": ("output", 1)}
    for prefix, sig, master_side in (("s_axil_", axil_signature(12), False),
                                     ("m_axi_", axi4_signature(CONFIG.dram_addr_bits, CONFIG.axi_data_bits), True)):
        for name, member in sig.members.items():
            out = (member.flow.name == "Out") == master_side
            expected[prefix + name] = ("output" if out else "input", Shape.cast(member.shape).width)
    assert ports == expected
    assert ports["m_axi_rdata"] == ("input", 128) and ports["m_axi_araddr"] == ("output", 34)
    assert ports["s_axil_awaddr"] == ("input", 12) and ports["s_axil_rdata"] == ("output", 32)


def test_config_json_and_lint(verilog_dir):
    assert json.loads((verilog_dir / f"{TOP_NAME}.json").read_text()) == CONFIG.to_dict()
    lint_verilog(verilog_dir / f"{TOP_NAME}.v")


@pytest.mark.slow
def test_every_lint_waiver_is_needed(verilog_dir):
    """A waiver that no warning needs any more must go (keeps the documented list honest)."""
    from nux.toolchain import verilator_env

    path = verilog_dir / f"{TOP_NAME}.v"
    unused = []
    for waiver in LINT_WAIVERS:
        flags = [f"-Wno-{w}" for w in LINT_WAIVERS if w != waiver]
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", *flags, "--top-module", TOP_NAME, str(path)],
                              env=verilator_env(), capture_output=True, text=True)
        if proc.returncode == 0:
            unused.append(waiver)
    assert not unused, f"lint waivers no longer needed: {unused}"


def test_unsupported_config_is_refused():
    with pytest.raises(RtlConfigError, match="axi_data_bits=512"):
        check_rtl_config(NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=512))


def test_cli_writes_verilog_and_reports_bad_config(tmp_path, capsys):
    assert main(["rtl", "--dim", "4", "--sp-rows", "256", "--acc-rows", "128", "-o", str(tmp_path)]) == 0
    assert f"module {TOP_NAME}(" in (tmp_path / f"{TOP_NAME}.v").read_text()
    assert json.loads((tmp_path / f"{TOP_NAME}.json").read_text())["dim"] == 4
    assert main(["rtl", "--dim", "5", "-o", str(tmp_path / "bad")]) == 1
    assert "dim must be" in capsys.readouterr().err


def test_generate_verilog_is_deterministic():
    assert generate_verilog(CONFIG) == generate_verilog(CONFIG)
