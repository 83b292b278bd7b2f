"""The guide's ExampleNet and its export, defined once for every test folder (quantizer, compiler, session).

Needs torch (dev extra); importers skip with a reason when it is missing."""

from __future__ import annotations

import io

import onnx
import pytest

torch = pytest.importorskip("torch", reason="the guide's ExampleNet is a PyTorch model (torch is in the dev extra)")
F = torch.nn.functional  # the guide imports it as F
nn = torch.nn


class ExampleNet(nn.Module):
    """The guide's model, verbatim."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 12, 3)
        self.bn2 = nn.BatchNorm2d(12)
        self.conv3 = nn.Conv2d(12, 3, 3)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.conv2(x)
        x = self.bn2(x)
        x = F.max_pool2d(x, 2)
        x = self.conv3(x)
        return x


def export_example_net(**options) -> onnx.ModelProto:
    """The guide's export call; `options` select exporter variants that keep BatchNormalization."""
    torch.manual_seed(0)
    net = ExampleNet()
    if options:  # trained-looking statistics, so that folding BatchNormalization is not a no-op
        net.eval()
        for bn in (net.bn1, net.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    dummy_input = torch.randn(1, 3, 224, 224)
    model_io = io.BytesIO()
    torch.onnx.export(net, (dummy_input,), model_io, verbose=False, input_names=["input"],
                      output_names=["output"], **options)
    model_io.seek(0)
    return onnx.load_model(model_io)
