"""nux.compiler benchmark: ResNet-50-like and MobileNet-v2-like networks (torch modules with random weights,
exported with torch.onnx.export, quantized by nux.quantizer with random calibration) compiled for the NPU.

Prints per network and array size: compile time, share of MACs on the NPU, predicted utilization per layer kind
(from the lowering's performance model) and overall, predicted cycles, and the peak arena (activations + scratch,
and the whole arena with constants and code).

    python benchmarks/compile.py [--size 224] [--dims 8 16] [--nets resnet50 mobilenetv2]
"""

from __future__ import annotations

import argparse
import io
import time
from collections import defaultdict

import numpy as np
import nux.compiler
import onnx
from nux.isa import NpuConfig
from nux.quantizer import post_training_quantization


def resnet50(torch, nn):
    def bottleneck(cin, width, stride):
        cout = 4 * width
        body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else nn.Identity()
        return body, skip

    class Block(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.body, self.skip = bottleneck(cin, width, stride)

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    layers, cin = [], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Block(cin, width, stride if i == 0 else 1))
            cin = 4 * width
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.MaxPool2d(3, 2, 1), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000))


def mobilenetv2(torch, nn):
    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            parts = [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()] if expand != 1 else []
            parts += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                      nn.ReLU6(), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.body, self.residual = nn.Sequential(*parts), stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    layers, cin = [], 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)):
        for i in range(n):
            layers.append(Inverted(cin, c, s if i == 0 else 1, t))
            cin = c
    return nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(), *layers,
                         nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000))


NETS = {"resnet50": resnet50, "mobilenetv2": mobilenetv2}


def quantized_net(name: str, size: int) -> onnx.ModelProto:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = NETS[name](torch, nn).eval()
    buffer = io.BytesIO()
    torch.onnx.export(net, (torch.randn(1, 3, size, size),), buffer, input_names=["input"], output_names=["output"],
                      dynamo=False)
    model = onnx.load_model_from_string(buffer.getvalue())
    rng = np.random.default_rng(0)
    calibration = [{"input": rng.standard_normal((1, 3, size, size)).astype(np.float32)} for _ in range(2)]
    return post_training_quantization(model, ["input"], calibration)


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
    start = time.perf_counter()
    enf = nux.compiler.compile(qdq, config, progress=None)
    seconds = time.perf_counter() - start
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
    print(f"{name:12s} dim {dim:2d}: compile {seconds:6.1f} s  NPU MACs {100 * rep['npu_macs_fraction']:5.1f}%  "
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
