"""FPGA resource and timing estimate of `nux_npu` on Xilinx UltraScale+ (Yosys `synth_xilinx -family xcup`).

Per dim: LUT / FF / DSP48E2 / BRAM36 / URAM next to the capacities of the AWS F1 (VU9P) and F2 (VU47P) parts,
where every memory of the design went (block RAM, UltraRAM, LUTRAM or flip-flops), and the worst paths by the
delay model of docs/fpga.md (nux.rtl.fpga_timing), with their LUT levels and the DSP/BRAM stages left without a
register. Results are cached by the hash of the Verilog, the script and the Yosys version
(~/.cache/nux/fpga/<hash>/), so a second run, or a run of another dim, does not redo a finished synthesis. dim 32
takes the longest (tens of minutes on one core): run one dim at a time if needed.

Usage: python benchmarks/fpga_estimate.py [--dims 8 16 32] [--paths 12] [--period 4.0] [--force]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from nux.isa import NpuConfig
from nux.rtl.fpga import SynthResult, memory_mapping, run_yosys, top_cells, verilog_key
from nux.rtl.fpga_timing import analyze
from nux.rtl.verilog import generate_verilog

CACHE = Path.home() / ".cache" / "nux" / "fpga"

#: Device capacities from AMD/Xilinx DS890 "UltraScale Architecture and Product Data Sheet: Overview",
#: Virtex UltraScale+ table (CLB LUTs, CLB flip-flops, DSP slices, 36 Kb block RAMs, 288 Kb UltraRAMs).
#: F1 = xcvu9p, F2 = xcvu47p; the AWS shell takes part of each, so the custom-logic region has less.
DEVICES = {
    "VU9P (F1)": {"LUT": 1_182_240, "FF": 2_364_480, "DSP": 6_840, "BRAM36": 2_160, "URAM": 960},
    "VU47P (F2)": {"LUT": 1_303_680, "FF": 2_607_360, "DSP": 9_024, "BRAM36": 2_016, "URAM": 960},
}


def config_for(dim: int) -> NpuConfig:
    """The sizes benchmarks/rtl_area.py reports: default SP/ACC depth, AXI width growing with the array."""
    return NpuConfig(dim=dim, axi_data_bits=max(64, min(256, 8 * dim)))


def resources(cells: dict[str, int]) -> dict[str, float]:
    """Device resources from Yosys cell counts (a RAMB18 is half a BRAM36; LUTRAM/SRL count as LUTs)."""
    def total(*prefixes: str) -> int:
        return sum(n for t, n in cells.items() if t.startswith(prefixes))

    lutram = sum(n * (2 if t in ("RAM64M8", "RAM32M16") else 1) for t, n in cells.items()
                 if t.startswith("RAM") and not t.startswith("RAMB"))
    return {"LUT": total("LUT") + total("SRL") + 4 * lutram, "FF": total("FD"), "DSP": total("DSP48"),
            "BRAM36": total("RAMB36") + total("RAMB18") / 2, "URAM": total("URAM")}


def synthesize(dim: int, force: bool) -> dict:
    """Synthesis + timing analysis of one dim, from the cache when the same Verilog was done before."""
    from tqdm import tqdm

    verilog = generate_verilog(config_for(dim))
    work = CACHE / verilog_key(verilog, memory_only=False)
    cached = work / "result.json"
    if cached.exists() and not force:
        print(f"dim {dim}: cached ({work})")
        return json.loads(cached.read_text())
    start = time.monotonic()
    with tqdm(desc=f"dim {dim} yosys", bar_format="{desc}: {elapsed} {postfix}") as bar:
        if (work / "net.json").exists() and not force:  # synthesis done, the analysis was interrupted
            log = (work / "yosys.log").read_text()
            stat = json.loads((work / "stat.json").read_text())
            result = SynthResult(log, stat, work / "net.json", memory_mapping(log))
        else:
            result = run_yosys(verilog, work, on_pass=lambda name: bar.set_postfix_str(name, refresh=True))
        bar.set_postfix_str("timing analysis", refresh=True)
        report = analyze(result.netlist)
    out = {"dim": dim, "seconds": round(time.monotonic() - start), "cells": top_cells(result.stat),
           "memories": result.memories, "timing": dataclasses.asdict(report)}
    cached.write_text(json.dumps(out, indent=1))
    result.netlist.unlink()  # hundreds of MB; the result is what is kept
    return out


def print_resources(res: dict) -> None:
    have = resources(res["cells"])
    print(f"{'resource':8s} {'used':>10s}  " + "  ".join(f"{d:>18s}" for d in DEVICES))
    for key, used in have.items():
        shares = "  ".join(f"{used / cap[key]:>17.1%} " for cap in DEVICES.values())
        print(f"{key:8s} {used:>10,.0f}  {shares}")


def print_memories(res: dict) -> None:
    for name, kind in sorted(res["memories"].items()):
        print(f"  memory {name:60s} -> {kind}")


def print_timing(res: dict, paths: int, period: float) -> None:
    t = res["timing"]
    print(f"deepest path: {t['max_levels']} LUT levels; DSP48E2 without input/M/P register: "
          f"{t['dsp_unregistered']['input']}/{t['dsp_unregistered']['M']}/{t['dsp_unregistered']['P']}; "
          f"block/Ultra RAMs without output register: {t['bram_unregistered']}")
    print(f"worst paths (delay model of docs/fpga.md; > {period} ns misses {1000 / period:.0f} MHz):")
    for p in t["worst"][:paths]:
        flag = "  LATE" if p["delay"] > period else ""
        print(f"  {p['delay']:6.2f} ns {p['levels']:3d} LUT  {p['start'][:60]:60s} -> {p['end'][:70]}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--paths", type=int, default=12, help="worst paths to list per dim")
    parser.add_argument("--period", type=float, default=4.0, help="target clock period in ns (250 MHz)")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    args = parser.parse_args()
    for dim in args.dims:
        res = synthesize(dim, args.force)
        print(f"\n=== dim {dim} ({config_for(dim)}), synthesis {res['seconds']} s")
        print_resources(res)
        print_memories(res)
        print_timing(res, args.paths, args.period)


if __name__ == "__main__":
    main()
