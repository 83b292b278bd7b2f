"""FPGA resource and timing estimate of `nux_npu` on Xilinx UltraScale+ (Yosys `synth_xilinx -family xcup`).

Per dim: LUT / FF / DSP48E2 / BRAM36 / URAM next to the capacities of the AWS F1 (VU9P) and F2 (VU47P) parts,
where every memory of the design went (block RAM, UltraRAM, LUTRAM or flip-flops), and the worst paths by the
delay model of docs/fpga.md (nux.rtl.fpga_timing), with their LUT levels and the DSP/BRAM stages left without a
register. Results are cached by the hash of the Verilog, the script and the Yosys version
(~/.cache/nux/fpga/<hash>/), so a second run, or a run of another dim, does not redo a finished synthesis. dim 32
takes the longest (tens of minutes on one core): run one dim at a time if needed; `--split` synthesizes the
systolic array apart from the rest, for a dim too large for one Yosys run (docs/fpga.md, "Split synthesis").

Usage: python benchmarks/fpga_estimate.py [--dims 8 16 32] [--paths 12] [--period 4.0] [--force] [--split]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import Counter
from pathlib import Path

from nux.isa import NpuConfig
from nux.rtl.fpga import TOP, SynthResult, memory_mapping, run_yosys, top_cells, verilog_key
from nux.rtl.fpga_timing import analyze, analyze_split
from nux.rtl.verilog import generate_verilog

CACHE = Path.home() / ".cache" / "nux" / "fpga"
#: The module `--split` synthesizes on its own: dim^2 PEs, most of the design at dim 32 (generated module name).
ARRAY = "nux_npu.compute.gemm.array"

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


def _synth(verilog: str, label: str, force: bool, top: str = TOP, blackboxes: tuple[str, ...] = ()) -> SynthResult:
    """One Yosys run in its cache directory; a finished synthesis (its netlist still there) is not redone."""
    from tqdm import tqdm

    work = CACHE / verilog_key(verilog, memory_only=False, top=top, blackboxes=blackboxes)
    if (work / "net.json").exists() and not force:  # synthesis done, the analysis was interrupted
        log = (work / "yosys.log").read_text()
        return SynthResult(log, json.loads((work / "stat.json").read_text()), work / "net.json", memory_mapping(log))
    with tqdm(desc=f"{label} yosys", bar_format="{desc}: {elapsed} {postfix}") as bar:
        return run_yosys(verilog, work, on_pass=lambda name: bar.set_postfix_str(name, refresh=True), top=top,
                         blackboxes=blackboxes)


def synthesize(dim: int, force: bool, split: bool) -> dict:
    """Resources, memories and timing of one dim, from the cache when the same Verilog was done before: one flat
    run, or (`split`) the NPU with the systolic array as a black box plus the array alone (docs/fpga.md)."""
    verilog = generate_verilog(config_for(dim))
    boxes = (ARRAY,) if split else ()
    cached = CACHE / verilog_key(verilog, memory_only=False, blackboxes=boxes) / "result.json"
    if cached.exists() and not force:
        print(f"dim {dim}: cached ({cached.parent})")
        return json.loads(cached.read_text())
    start = time.monotonic()
    parts = [_synth(verilog, f"dim {dim}" + (" without the array" if split else ""), force, blackboxes=boxes)]
    if split:
        parts.append(_synth(verilog, f"dim {dim} array alone", force, top=ARRAY))
        report = analyze_split(parts[0].netlist, parts[1].netlist, ARRAY)
    else:
        report = analyze(parts[0].netlist)
    cells = Counter()
    for part, top in zip(parts, (TOP, ARRAY)[: len(parts)], strict=True):
        cells.update({k: v for k, v in top_cells(part.stat, top).items() if k != ARRAY})
    out = {"dim": dim, "split": split, "seconds": round(time.monotonic() - start), "cells": dict(cells),
           "memories": {k: v for part in parts for k, v in part.memories.items()},
           "timing": dataclasses.asdict(report)}
    cached.write_text(json.dumps(out, indent=1))
    for part in parts:
        part.netlist.unlink()  # hundreds of MB; the result is what is kept
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
    parser.add_argument("--split", action="store_true",
                        help="synthesize the systolic array apart from the rest (for dims too large for one run)")
    args = parser.parse_args()
    for dim in args.dims:
        res = synthesize(dim, args.force, args.split)
        how = "split: the NPU with the array as a black box + the array alone" if args.split else "flat"
        print(f"\n=== dim {dim} ({config_for(dim)}), synthesis {res['seconds']} s ({how})")
        print_resources(res)
        print_memories(res)
        print_timing(res, args.paths, args.period)


if __name__ == "__main__":
    main()
