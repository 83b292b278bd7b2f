"""`explicit_pads`: auto_pad (SAME_UPPER, SAME_LOWER, VALID) becomes explicit `pads`, computed from the static
shapes, so lowerings and the other passes see one form (ONNX's formula; mnist-8 uses SAME_UPPER)."""

from __future__ import annotations

from nux.compiler.ir import Graph

WINDOWED = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


def explicit_pads(graph: Graph) -> None:
    for node in graph.nodes:
        auto = node.attr("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if node.op not in WINDOWED or node.op == "ConvTranspose" or auto == "NOTSET":
            continue
        x = graph[node.inputs[0]]
        if x.shape is None or len(x.shape) != 4:
            continue
        if node.op == "Conv":
            kernel = node.attr("kernel_shape") or list(graph[node.inputs[1]].shape[2:])
        else:
            kernel = node.attr("kernel_shape")
        strides = node.attr("strides", [1, 1])
        dilations = node.attr("dilations", [1, 1])
        begin, end = [], []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
            total = 0 if auto == "VALID" else max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            begin.append(small if auto != "SAME_LOWER" else total - small)
            end.append(total - begin[-1])
        node.attrs["pads"] = begin + end
        node.attrs.pop("auto_pad")
