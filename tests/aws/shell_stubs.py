"""Our own stand-ins for the AWS shells' port lists (cl_ports.vh) and sh_ddr, so Verilator can lint the CL tops.

Written from the shells' interface specifications (names, directions, widths of the standard builds: no HMC or
Aurora options on F1), not copied from the HDK. `sh_ddr` is an empty module with the same ports; for F1 its
multi-bit AXI ports are unpacked arrays of three, as the HDK's tie-off template drives them. The real files come
from the HDK at build time; a port this list gets wrong shows up there, not here.
"""

from __future__ import annotations

from pathlib import Path

IN, OUT, INOUT = "input", "output", "inout"


def _ports(spec: str) -> list[tuple[str, int, str]]:
    """'dir width name name ...' lines -> (direction, width, name)."""
    out = []
    for line in spec.strip().splitlines():
        direction, width, *names = line.split()
        out += [(direction, int(width), name) for name in names]
    return out


def _axi(out_prefix: str, in_prefix: str, master: bool, id_bits: int, *, burst: bool = True,
         extras: bool = False, user: int = 0, wid: bool = False) -> str:
    """An AXI4 port group; `master` = the CL drives the address channels. Names: out_prefix for the CL's
    outputs, in_prefix for its inputs."""
    fwd, back = (out_prefix, in_prefix) if master else (in_prefix, out_prefix)
    fdir, bdir = (OUT, IN) if master else (IN, OUT)
    lines = []
    for ch in ("aw", "ar"):
        fields = [(id_bits, "id"), (64, "addr"), (8, "len"), (3, "size")]
        fields += [(2, "burst")] if burst else []
        fields += [(4, "cache"), (1, "lock"), (3, "prot"), (4, "qos")] if extras else []
        fields += [(user, "user")] if user else []
        lines += [f"{fdir} {w} {fwd}{ch}{f}" for w, f in fields]
        lines += [f"{fdir} 1 {fwd}{ch}valid", f"{bdir} 1 {back}{ch}ready"]
    lines += [f"{fdir} 16 {fwd}wid"] if wid else []
    lines += [f"{fdir} 512 {fwd}wdata", f"{fdir} 64 {fwd}wstrb", f"{fdir} 1 {fwd}wlast"]
    lines += [f"{fdir} 64 {fwd}wuser"] if extras else []
    lines += [f"{fdir} 1 {fwd}wvalid", f"{bdir} 1 {back}wready"]
    lines += [f"{bdir} {id_bits} {back}bid", f"{bdir} 2 {back}bresp", f"{bdir} 1 {back}bvalid",
              f"{fdir} 1 {fwd}bready"]
    lines += [f"{bdir} {id_bits} {back}rid", f"{bdir} 512 {back}rdata", f"{bdir} 2 {back}rresp",
              f"{bdir} 1 {back}rlast"]
    lines += [f"{bdir} 64 {back}ruser"] if extras else []
    lines += [f"{bdir} 1 {back}rvalid", f"{fdir} 1 {fwd}rready"]
    return "\n".join(lines)


def _axil(m2s: str, s2m: str, user: bool = False) -> str:
    """A shell-mastered AXI-Lite group: inputs named m2s+field, the CL's outputs s2m+field."""
    u = [f"{IN} 55 {m2s}awuser"] if user else []
    ur = [f"{IN} 55 {m2s}aruser"] if user else []
    return "\n".join([f"{IN} 32 {m2s}awaddr", *u, f"{IN} 1 {m2s}awvalid", f"{OUT} 1 {s2m}awready",
                      f"{IN} 32 {m2s}wdata", f"{IN} 4 {m2s}wstrb", f"{IN} 1 {m2s}wvalid", f"{OUT} 1 {s2m}wready",
                      f"{OUT} 2 {s2m}bresp", f"{OUT} 1 {s2m}bvalid", f"{IN} 1 {m2s}bready",
                      f"{IN} 32 {m2s}araddr", *ur, f"{IN} 1 {m2s}arvalid", f"{OUT} 1 {s2m}arready",
                      f"{OUT} 32 {s2m}rdata", f"{OUT} 2 {s2m}rresp", f"{OUT} 1 {s2m}rvalid", f"{IN} 1 {m2s}rready"])


def _dimm(x: str, rows: int, ranks: int, rst: str) -> str:
    return (f"{OUT} 1 M_{x}ACT_N\n{OUT} {rows} M_{x}MA\n{OUT} 2 M_{x}BA M_{x}BG\n"
            f"{OUT} {ranks} M_{x}CKE M_{x}ODT M_{x}CS_N M_{x}CLK_DN M_{x}CLK_DP\n{OUT} 1 M_{x}PAR\n"
            f"{INOUT} 64 M_{x}DQ\n{INOUT} 8 M_{x}ECC\n{INOUT} 18 M_{x}DQS_DP M_{x}DQS_DN\n{OUT} 1 {rst}")


_DEBUG = f"{IN} 1 drck shift tdi update sel\n{OUT} 1 tdo\n{IN} 1 tms tck runtest reset capture bscanid_en"


def _apb(n: int) -> str:
    return (f"{IN} 1 hbm_apb_preset_n_{n}\n{OUT} 22 hbm_apb_paddr_{n}\n{OUT} 3 hbm_apb_pprot_{n}\n"
            f"{OUT} 1 hbm_apb_psel_{n} hbm_apb_penable_{n} hbm_apb_pwrite_{n}\n{OUT} 32 hbm_apb_pwdata_{n}\n"
            f"{OUT} 4 hbm_apb_pstrb_{n}\n{OUT} 1 hbm_apb_pready_{n}\n{OUT} 32 hbm_apb_prdata_{n}\n"
            f"{OUT} 1 hbm_apb_pslverr_{n}")


F2_PORTS = "\n".join([
    f"{IN} 1 clk_main_a0 rst_main_n clk_hbm_ref sh_cl_flr_assert\n{OUT} 1 cl_sh_flr_done",
    f"{OUT} 32 cl_sh_status0 cl_sh_status1 cl_sh_status2 cl_sh_id0 cl_sh_id1\n{IN} 32 sh_cl_ctl0 sh_cl_ctl1 sh_cl_ctl2",
    f"{IN} 16 sh_cl_status_vdip\n{OUT} 16 cl_sh_status_vled\n{IN} 2 sh_cl_pwr_state",
    f"{OUT} 1 cl_sh_dma_wr_full cl_sh_dma_rd_full",
    _axi("cl_sh_pcim_", "sh_cl_pcim_", True, 16, extras=True, user=55, wid=True),
    f"{IN} 2 cfg_max_payload\n{IN} 3 cfg_max_read_req",
    f"{IN} 1 CLK_DIMM_DP CLK_DIMM_DN", _dimm("", 18, 2, "RST_DIMM_N"),
    f"{IN} 8 sh_cl_ddr_stat_addr\n{IN} 32 sh_cl_ddr_stat_wdata\n{IN} 1 sh_cl_ddr_stat_wr sh_cl_ddr_stat_rd",
    f"{IN} 3 sh_cl_ddr_stat_user\n{OUT} 1 cl_sh_ddr_stat_ack\n{OUT} 32 cl_sh_ddr_stat_rdata",
    f"{OUT} 8 cl_sh_ddr_stat_int\n{OUT} 16 cl_sh_apppf_irq_req\n{IN} 16 sh_cl_apppf_irq_ack",
    _axi("cl_sh_dma_pcis_", "sh_cl_dma_pcis_", False, 16, extras=True, user=55, wid=True),
    _axil("ocl_cl_", "cl_ocl_", user=True), _axil("sda_cl_", "cl_sda_"), _DEBUG,
    f"{IN} 64 sh_cl_glcount0 sh_cl_glcount1", _apb(1), _apb(0),
    f"{IN} 1 PCIE_EP_PERSTN PCIE_EP_REF_CLK_P PCIE_EP_REF_CLK_N\n{OUT} 8 PCIE_EP_TXP PCIE_EP_TXN",
    f"{IN} 8 PCIE_EP_RXP PCIE_EP_RXN\n{OUT} 1 PCIE_RP_PERSTN\n{IN} 1 PCIE_RP_REF_CLK_P PCIE_RP_REF_CLK_N",
    f"{OUT} 8 PCIE_RP_TXP PCIE_RP_TXN\n{IN} 8 PCIE_RP_RXP PCIE_RP_RXN",
])


def _stats(n: int) -> str:
    return (f"{IN} 8 sh_ddr_stat_addr{n}\n{IN} 1 sh_ddr_stat_wr{n} sh_ddr_stat_rd{n}\n{IN} 32 sh_ddr_stat_wdata{n}\n"
            f"{OUT} 1 ddr_sh_stat_ack{n}\n{OUT} 32 ddr_sh_stat_rdata{n}\n{OUT} 8 ddr_sh_stat_int{n}")


F1_PORTS = "\n".join([
    f"{IN} 1 clk_main_a0 clk_extra_a1 clk_extra_a2 clk_extra_a3 clk_extra_b0 clk_extra_b1 clk_extra_c0",
    f"{IN} 1 clk_extra_c1 kernel_rst_n rst_main_n sh_cl_flr_assert\n{OUT} 1 cl_sh_flr_done",
    f"{OUT} 32 cl_sh_status0 cl_sh_status1 cl_sh_id0 cl_sh_id1\n{IN} 32 sh_cl_ctl0 sh_cl_ctl1",
    f"{IN} 16 sh_cl_status_vdip\n{OUT} 16 cl_sh_status_vled\n{IN} 2 sh_cl_pwr_state",
    f"{OUT} 1 cl_sh_dma_wr_full cl_sh_dma_rd_full",
    _axi("cl_sh_pcim_", "sh_cl_pcim_", True, 16, burst=False, user=19),
    f"{IN} 2 cfg_max_payload\n{IN} 3 cfg_max_read_req",
    f"{IN} 1 CLK_300M_DIMM0_DP CLK_300M_DIMM0_DN CLK_300M_DIMM1_DP CLK_300M_DIMM1_DN",
    f"{IN} 1 CLK_300M_DIMM3_DP CLK_300M_DIMM3_DN",
    _dimm("A_", 17, 1, "cl_RST_DIMM_A_N"), _dimm("B_", 17, 1, "cl_RST_DIMM_B_N"),
    _dimm("D_", 17, 1, "cl_RST_DIMM_D_N"), _stats(0), _stats(1), _stats(2),
    _axi("cl_sh_ddr_", "sh_cl_ddr_", True, 16, wid=True), f"{IN} 1 sh_cl_ddr_is_ready",
    f"{OUT} 16 cl_sh_apppf_irq_req\n{IN} 16 sh_cl_apppf_irq_ack",
    _axi("cl_sh_dma_pcis_", "sh_cl_dma_pcis_", False, 6, burst=False),
    _axil("sda_cl_", "cl_sda_"), _axil("sh_ocl_", "ocl_sh_"), _axil("sh_bar1_", "bar1_sh_"),
    _DEBUG, f"{IN} 64 sh_cl_glcount0 sh_cl_glcount1",
])


def _decl(direction: str, width: int, name: str, array: str = "") -> str:
    kind = "wire" if direction == INOUT else "logic"
    rng = f"[{width - 1}:0] " if width > 1 else ""
    return f"{direction} {kind} {rng}{name}{array}"


def cl_ports_vh(shell: str) -> str:
    ports = _ports(F2_PORTS if shell == "F2" else F1_PORTS)
    return "// stand-in for the shell's cl_ports.vh (tests/aws/shell_stubs.py)\n" + ",\n".join(
        "  " + _decl(*p) for p in ports) + "\n"


def sh_ddr_stub(shell: str) -> str:
    if shell == "F2":
        ports = _ports(f"{IN} 1 clk rst_n stat_clk stat_rst_n CLK_DIMM_DP CLK_DIMM_DN\n"
                       + _dimm("", 18, 2, "cl_RST_DIMM_N") + "\n"
                       + _axi("cl_sh_ddr_axi_", "cl_sh_ddr_axi_", False, 16, user=1) + "\n"
                       + f"{IN} 8 sh_ddr_stat_bus_addr\n{IN} 32 sh_ddr_stat_bus_wdata\n"
                       f"{IN} 1 sh_ddr_stat_bus_wr sh_ddr_stat_bus_rd\n{OUT} 1 sh_ddr_stat_bus_ack\n"
                       f"{OUT} 32 sh_ddr_stat_bus_rdata\n{OUT} 8 ddr_sh_stat_int\n{OUT} 1 sh_cl_ddr_is_ready")
        decls = [_decl(*p) for p in ports]
        params = "parameter DDR_PRESENT = 1"
    else:
        dimms = [_dimm(x, 17, 1, f"cl_RST_DIMM_{x[0]}_N") for x in ("A_", "B_", "D_")]
        clocks = f"{IN} 1 " + " ".join(f"CLK_300M_DIMM{i}_{p}" for i in (0, 1, 3) for p in ("DP", "DN"))
        ports = _ports(f"{IN} 1 clk rst_n stat_clk stat_rst_n\n{clocks}\n" + "\n".join(dimms) + "\n"
                       + "\n".join(_stats(i) for i in range(3)))
        decls = [_decl(*p) for p in ports]
        # seen from sh_ddr (the slave): 1-bit ports packed [2:0], wider ones unpacked arrays [2:0]
        for direction, width, name in _ports(_axi("sh_cl_ddr_", "cl_sh_ddr_", False, 16, wid=True)):
            if name.endswith(("awsize", "arsize")):
                continue  # the F1 sh_ddr has no AxSIZE (full-width beats only)
            decls.append(_decl(direction, 3, name) if width == 1 else _decl(direction, width, name, "[2:0]"))
        decls.append(_decl(OUT, 3, "sh_cl_ddr_is_ready"))
        params = "parameter DDR_A_PRESENT = 1, parameter DDR_B_PRESENT = 1, parameter DDR_D_PRESENT = 1"
    body = ",\n".join("  " + d for d in decls)
    return (f"// stand-in for the HDK's sh_ddr (tests/aws/shell_stubs.py)\n/* verilator lint_off UNUSEDSIGNAL */\n"
            f"/* verilator lint_off UNDRIVEN */\n/* verilator lint_off UNUSEDPARAM */\n"
            f"module sh_ddr #({params}) (\n{body}\n);\nendmodule\n")


def write_stubs(shell: str, folder: Path) -> Path:
    """cl_ports.vh and sh_ddr.sv for `shell` ('F1' or 'F2') in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cl_ports.vh").write_text(cl_ports_vh(shell))
    (folder / "sh_ddr.sv").write_text(sh_ddr_stub(shell))
    return folder
