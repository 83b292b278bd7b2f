"""The per-layer compile report: one row per node (placement, reason, MACs, predicted cycles and utilization,
arena), as a table for people and a JSON-able dict for tools (also stored in the ENF's META under "report")."""

from __future__ import annotations

from nux.compiler.emit import Arena
from nux.compiler.ir import Graph
from nux.compiler.partition import Layer
from nux.isa import NpuConfig


def build_report(graph: Graph, lowered: dict[str, Layer], config: NpuConfig, arena_bytes: int, arena: Arena) -> dict:
    """`arena_bytes` per layer: activation bytes live while it runs (the plan's peak is `activation_bytes`);
    `const_bytes`: constants and scratch the layer added."""
    layers = []
    for i, node in enumerate(graph.nodes):
        layer = lowered.get(node.name)
        cost = layer.cost if layer else None
        out = graph.tensors.get(node.outputs[0]) if node.outputs and node.outputs[0] else None
        layers.append({
            "name": node.name, "op": node.op, "placement": node.placement, "reason": node.reason,
            "output_shape": list(out.shape) if out is not None and out.shape is not None else None,
            "macs": int(cost.macs) if cost else 0,
            "predicted_cycles": int(cost.predicted_cycles) if cost else 0,
            "predicted_utilization": round(cost.utilization(config), 4) if cost else 0.0,
            "view": node.view, "fused": list(node.fused),
            "arena_bytes": arena.live_bytes[i] if i < len(arena.live_bytes) else 0,
            "const_bytes": layer.const_bytes if layer else 0,
        })
    npu_macs = sum(r["macs"] for r in layers if r["placement"] == "npu")
    host_macs = sum(_host_macs(graph, r["name"]) for r in layers if r["placement"] == "host")
    cycles = sum(r["predicted_cycles"] for r in layers)
    return {
        "layers": layers,
        "npu_macs_fraction": round(npu_macs / (npu_macs + host_macs), 4) if npu_macs + host_macs else 1.0,
        "npu_macs": npu_macs, "host_macs": host_macs,
        "predicted_cycles": cycles,
        "predicted_utilization": round(npu_macs / max(1, cycles * config.dim**2), 4),
        "arena_bytes": arena_bytes, "activation_bytes": arena.activation_bytes,
        "fallbacks": [{"name": r["name"], "op": r["op"], "reason": r["reason"]} for r in layers
                      if r["placement"] == "host"],
        "config": config.to_dict(),
    }


def _host_macs(graph: Graph, name: str) -> int:
    """MACs of a host node (Conv/Gemm/MatMul), so the NPU fraction counts the work that fell back."""
    node = next(n for n in graph.nodes if n.name == name)
    if node.op not in ("Conv", "Gemm", "MatMul", "ConvTranspose", "ConvInteger", "MatMulInteger"):
        return 0
    w, out = graph.tensors.get(node.inputs[1]), graph.tensors.get(node.outputs[0])
    if w is None or out is None or w.shape is None or out.shape is None:
        return 0
    out_elems = 1
    for d in out.shape:
        out_elems *= d
    if node.op.startswith("Conv"):
        per = 1
        for d in w.shape[1:]:
            per *= d
        return out_elems * per
    k = w.shape[0] if not node.attr("transB", 0) else w.shape[1]
    return out_elems * k


def format_table(report: dict) -> str:
    """The report as an aligned text table plus a summary line."""
    head = ("node", "op", "output", "MACs", "place", "cycles", "util", "arena", "reason")
    rows = [head]
    for r in report["layers"]:
        shape = "x".join(map(str, r["output_shape"])) if r["output_shape"] else "?"
        place = "view" if r["view"] and r["placement"] == "npu" else r["placement"]
        util = f"{100 * r['predicted_utilization']:.1f}%" if r["predicted_cycles"] else ""
        rows.append((r["name"], r["op"], shape, f"{r['macs']:,}" if r["macs"] else "", place,
                     f"{r['predicted_cycles']:,}" if r["predicted_cycles"] else "", util, f"{r['arena_bytes']:,}",
                     r["reason"]))
    widths = [min(40, max(len(str(row[i])) for row in rows)) for i in range(len(head))]
    lines = ["  ".join(str(c)[:40].ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"NPU MACs {100 * report['npu_macs_fraction']:.1f}%  predicted {report['predicted_cycles']:,} "
                 f"cycles, utilization {100 * report['predicted_utilization']:.1f}%  arena {report['arena_bytes']:,}"
                 f" bytes (activations {report['activation_bytes']:,})  host fallbacks {len(report['fallbacks'])}")
    return "\n".join(lines)
