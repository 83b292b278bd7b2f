"""ResNet-like and MobileNet-v2-like networks (torch modules with random weights, exported with torch.onnx.export and
quantized by nux.quantizer with random calibration), shared by the whole-network tests (small sizes) and
benchmarks/compile.py (the real sizes): one builder per family, the sizes are arguments."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
import onnx
import torch
from nux.quantizer import post_training_quantization
from torch import nn

# (width, blocks, stride) per stage
RESNET18 = ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))
RESNET50 = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
# (expansion t, output channels c, blocks n, first stride s) per stage, as in the MobileNet-v2 paper
MOBILENETV2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))


class _Residual(nn.Module):
    """relu(body(x) + skip(x)) for ResNet blocks; body(x) + x (no activation) for inverted residuals."""

    def __init__(self, body: nn.Module, skip: nn.Module | None, relu: bool):
        super().__init__()
        self.body, self.skip, self.relu = body, skip or nn.Identity(), relu

    def forward(self, x):
        y = self.body(x) + self.skip(x)
        return torch.relu(y) if self.relu else y


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


def resnet(stages=RESNET50, bottleneck: bool = True, stem: int = 64, classes: int = 1000) -> nn.Module:
    """Stem conv 7x7/2 + maxpool 3x3/2, basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion) blocks
    with a 1x1/stride shortcut where the shape changes, global average pool, FC."""
    layers, cin = [], stem
    for width, blocks, stride in stages:
        cout = 4 * width if bottleneck else width
        for i in range(blocks):
            s = stride if i == 0 else 1
            if bottleneck:
                body = [*_conv_bn(cin, width, 1), nn.ReLU(), *_conv_bn(width, width, 3, s), nn.ReLU(),
                        *_conv_bn(width, cout, 1)]
            else:
                body = [*_conv_bn(cin, width, 3, s), nn.ReLU(), *_conv_bn(width, cout, 3)]
            skip = nn.Sequential(*_conv_bn(cin, cout, 1, s)) if s != 1 or cin != cout else None
            layers.append(_Residual(nn.Sequential(*body), skip, relu=True))
            cin = cout
    return nn.Sequential(*_conv_bn(3, stem, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *layers,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def mobilenetv2(stages=MOBILENETV2, stem: int = 32, head: int = 1280, classes: int = 1000) -> nn.Module:
    """Stem conv 3x3/2, inverted residuals (1x1 expand + ReLU6, depthwise 3x3 + ReLU6, 1x1 project, residual Add
    where stride 1 and the channels match), 1x1 head conv, global average pool, FC. ReLU6 exports as Clip(0, 6)."""
    layers, cin = [], stem
    for t, c, n, s in stages:
        for i in range(n):
            hidden, stride = cin * t, s if i == 0 else 1
            parts = [*_conv_bn(cin, hidden, 1), nn.ReLU6()] if t != 1 else []
            parts += [*_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(), *_conv_bn(hidden, c, 1)]
            body = nn.Sequential(*parts)
            layers.append(_Residual(body, None, relu=False) if stride == 1 and cin == c else body)
            cin = c
    return nn.Sequential(*_conv_bn(3, stem, 3, 2), nn.ReLU6(), *layers, *_conv_bn(cin, head, 1), nn.ReLU6(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head, classes))


# (output channels, units) per stage after a 24-channel stem, 3 groups: ShuffleNet v1 (g = 3)
SHUFFLENET = ((240, 4), (480, 8), (960, 4))


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle, written the way models do it: Reshape -> Transpose -> Reshape."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class _ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit: grouped 1x1 + ReLU, channel shuffle, depthwise 3x3 (stride), grouped 1x1; then
    relu(x + branch) at stride 1, relu(concat(avgpool3x3/2(x), branch)) at stride 2."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int):
        super().__init__()
        mid = cout // 4
        out = cout - cin if stride == 2 else cout
        first = groups if cin % groups == 0 else 1
        self.branch = nn.Sequential(*_conv_bn(cin, mid, 1, groups=first), nn.ReLU(), ChannelShuffle(groups),
                                    *_conv_bn(mid, mid, 3, stride, groups=mid), *_conv_bn(mid, out, 1, groups=groups))
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward(self, x):
        y = self.branch(x)
        return torch.relu(torch.cat([self.pool(x), y], 1) if self.pool is not None else x + y)


def shufflenet(stages=SHUFFLENET, groups: int = 3, stem: int = 24, classes: int = 1000) -> nn.Module:
    """Stem conv 3x3/2 + maxpool 3x3/2, ShuffleNet v1 units (the first of each stage at stride 2), global average
    pool, FC. Every stage's channels must divide by 4 * groups."""
    layers, cin = [], stem
    for cout, units in stages:
        for i in range(units):
            layers.append(_ShuffleUnit(cin, cout, 2 if i == 0 else 1, groups))
            cin = cout
    return nn.Sequential(*_conv_bn(3, stem, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *layers,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def quantized(builder: Callable[..., nn.Module], size: int, calibration: int = 2, seed: int = 0,
              **sizes) -> onnx.ModelProto:
    """`builder(**sizes)` (random weights from `seed`) exported at input 1x3x`size`x`size` and quantized with
    `calibration` random images; the input is named "input", the output "output"."""
    torch.manual_seed(seed)
    net = builder(**sizes)
    for module in net.modules():  # random batch statistics, so the folded BatchNorms are not identities
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice; it still exports fine
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net.eval(), (torch.randn(1, 3, size, size),), buffer, input_names=["input"],
                          output_names=["output"], dynamo=False)
    model = onnx.load_model_from_string(buffer.getvalue())
    rng = np.random.default_rng(seed)
    feeds = [{"input": rng.standard_normal((1, 3, size, size)).astype(np.float32)} for _ in range(calibration)]
    return post_training_quantization(model, ["input"], feeds)
