"""nux.compiler benchmark: ResNet-50-like and MobileNet-v2-like networks (tests/networks.py: torch modules with random
weights, exported with torch.onnx.export, quantized by nux.quantizer with random calibration) compiled for the NPU.

Prints per network and array size: compile time, share of MACs on the NPU, predicted utilization per layer kind
(from the lowering's performance model) and overall, predicted cycles, and the peak arena (activations + scratch,
and the whole arena with constants and code).

    python benchmarks/compile.py [--size 224] [--dims 8 16] [--nets resnet50 mobilenetv2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import nux.compiler
import onnx
from nux.isa import NpuConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the builders are shared with the tests
from networks import MOBILENETV2, RESNET50, mobilenetv2, quantized, resnet  # noqa: E402

NETS = {"resnet50": (resnet, {"stages": RESNET50, "bottleneck": True}),
        "mobilenetv2": (mobilenetv2, {"stages": MOBILENETV2})}


def quantized_net(name: str, size: int) -> onnx.ModelProto:
    builder, sizes = NETS[name]
    return quantized(builder, size, **sizes)


def layer_kinds(qdq: onnx.ModelProto) -> dict[str, str]:
    """Node name -> kind (conv1x1, conv3x3, depthwise, conv7x7, gemm, pool, add, ...) for the per-kind figures."""
    graph = nux.compiler.passes.simplify(nux.compiler.import_model(qdq))
    kinds = {}
    for node in graph.nodes:
        kind = node.op.lower()
        if node.op == "Conv":
            k = graph[node.inputs[1]].shape[2]
            kind = "depthwise" if node.attr("group", 1) > 1 else f"conv{k}x{k}"
        kinds[node.name] = kind
    return kinds


def report(name: str, qdq: onnx.ModelProto, dim: int) -> None:
    config = NpuConfig(dim=dim, axi_data_bits=64 if dim <= 8 else 128)
    start, cpu = time.perf_counter(), time.process_time()
    enf = nux.compiler.compile(qdq, config, progress=None)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu  # CPU time: the machine may be shared
    rep = enf.meta["report"]
    kinds = layer_kinds(qdq)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for layer in rep["layers"]:
        if layer["placement"] == "npu" and layer["predicted_cycles"]:
            row = by_kind[kinds.get(layer["name"], layer["op"].lower())]
            row[0] += layer["macs"]
            row[1] += layer["predicted_cycles"]
            row[2] += 1
    per_kind = "  ".join(f"{k} {100 * m / max(1, c * dim * dim):.1f}% ({n})" for k, (m, c, n) in
                         sorted(by_kind.items(), key=lambda kv: -kv[1][0]))
    print(f"{name:12s} dim {dim:2d}: compile {seconds:6.1f} s ({cpu:.1f} s CPU)  "
          f"NPU MACs {100 * rep['npu_macs_fraction']:5.1f}%  "
          f"predicted {rep['predicted_cycles']:,} cycles, utilization {100 * rep['predicted_utilization']:.1f}%  "
          f"arena {rep['arena_bytes'] / 2**20:.2f} MiB (activations+scratch {rep['activation_bytes'] / 2**20:.2f} "
          f"MiB)  fallbacks {len(rep['fallbacks'])}")
    print(f"{'':12s} utilization by layer kind (count): {per_kind}")
    for fallback in rep["fallbacks"]:
        print(f"{'':12s} host: {fallback['name']} ({fallback['op']}): {fallback['reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="input height = width")
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    args = parser.parse_args()
    for name in args.nets:
        qdq = quantized_net(name, args.size)
        for dim in args.dims:
            report(name, qdq, dim)


if __name__ == "__main__":
    main()
