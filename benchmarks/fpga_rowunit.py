"""Area and timing of the ISA 1.1 row units alone (RowOpsUnit, ReduceEngine, LutwEngine) on UltraScale+.

Yosys `synth_xilinx -family xcup` of each unit as its own top, then the delay model of docs/fpga.md
(nux.rtl.fpga_timing): LUT / FF / DSP48E2 / BRAM36 counts, where each memory went, and the worst paths. The
figures in docs/rtl_rowunit.md come from this script.

Usage: python benchmarks/fpga_rowunit.py [--dims 8] [--paths 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog
from fpga_estimate import resources
from nux.isa import NpuConfig
from nux.rtl.compute_lutw import LutwEngine
from nux.rtl.compute_reduce import ReduceEngine
from nux.rtl.fpga import run_yosys, top_cells
from nux.rtl.fpga_timing import analyze
from nux.rtl.rowops import RowOpsUnit
from tqdm import tqdm


def units(dim: int) -> dict:
    config = NpuConfig(dim=dim)
    return {"RowOpsUnit": RowOpsUnit, f"ReduceEngine dim {dim}": lambda: ReduceEngine(config),
            f"LutwEngine dim {dim}": lambda: LutwEngine(config)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[8])
    parser.add_argument("--paths", type=int, default=4)
    args = parser.parse_args()
    jobs = {name: build for dim in args.dims for name, build in units(dim).items()}
    rows = []
    for name, build in tqdm(jobs.items(), desc="yosys"):
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="nux-rowunit-") as tmp:
            result = run_yosys(verilog.convert(build(), name="nux_npu", emit_src=False), Path(tmp))
            report = analyze(result.netlist)
        rows.append((name, resources(top_cells(result.stat)), report, result.memories, time.monotonic() - start))
    print(f"\n{'unit':<22} {'LUT':>6} {'FF':>6} {'DSP':>4} {'BRAM36':>6} {'worst ns':>8} {'levels':>6}")
    for name, res, report, _, _ in rows:
        print(f"{name:<22} {res['LUT']:>6.0f} {res['FF']:>6.0f} {res['DSP']:>4.0f} {res['BRAM36']:>6.1f} "
              f"{report.worst[0].delay:>8.2f} {report.max_levels:>6}")
    for name, _, report, memories, seconds in rows:
        print(f"\n{name} ({seconds:.0f} s): memories {sorted(set(memories.values())) or 'none'}")
        for path in report.worst[: args.paths]:
            print(f"  {path.delay:5.2f} ns {path.levels:2} levels  {path.start} -> {path.end}")


if __name__ == "__main__":
    main()
