"""Reading an IR node's constant operands and ONNX attributes as the explicit integers a lowering takes."""

from __future__ import annotations

import numpy as np

from nux.compiler.ir import Graph, Node, Tensor
from nux.compiler.lower import Unsupported


def const(graph: Graph, node: Node, index: int, what: str) -> Tensor | None:
    """Input `index` as a constant tensor (None when the optional input is absent); Unsupported if it is not
    constant."""
    if len(node.inputs) <= index or not node.inputs[index]:
        return None
    t = graph[node.inputs[index]]
    if not t.is_const:
        raise Unsupported(f"{what} is not a constant")
    return t


def real_values(t: Tensor) -> np.ndarray:
    """A constant's real values in float64: its data, dequantized when it is quantized (per tensor or per axis)."""
    data = np.asarray(t.data, dtype=np.float64)
    if t.quant is None:
        return data
    shape = [1] * data.ndim
    if not t.quant.per_tensor:
        shape[t.quant.axis] = -1
    scale = np.asarray(t.quant.scale, dtype=np.float64).reshape(shape if not t.quant.per_tensor else ())
    zp = np.asarray(t.quant.zero_point, dtype=np.float64).reshape(shape if not t.quant.per_tensor else ())
    return (data - zp) * scale


def weight(graph: Graph, node: Node, index: int, channels: int, axis: int) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray]:
    """(int8/uint8 data, per-channel scales, per-channel zero points) of a quantized constant weight."""
    t = const(graph, node, index, "the weight")
    if t is None or t.quant is None or t.dtype not in ("int8", "uint8"):
        raise Unsupported("the weight is not an int8/uint8 quantized constant")
    if not t.quant.per_tensor and t.quant.axis != axis:
        raise Unsupported(f"weight quantized along axis {t.quant.axis}, the NPU needs axis {axis}")
    scale = np.broadcast_to(np.asarray(t.quant.scale, dtype=np.float64).reshape(-1), (channels,)).copy()
    zp = np.broadcast_to(np.asarray(t.quant.zero_point, dtype=np.int64).reshape(-1), (channels,)).copy()
    return np.asarray(t.data), scale, zp


def bias(graph: Graph, node: Node, index: int, x_scale: float, w_scale: np.ndarray) -> np.ndarray | None:
    """The int32 bias, checked to be in the accumulator's units (scale x_scale * w_scale, zero point 0)."""
    t = const(graph, node, index, "the bias")
    if t is None:
        return None
    if t.quant is None or t.dtype != "int32":
        raise Unsupported("the bias is not an int32 quantized constant")
    if np.ndim(t.data) > 1 and np.size(t.data) != np.shape(t.data)[-1]:
        raise Unsupported(f"a bias of shape {tuple(np.shape(t.data))} varies along rows (one value per output "
                          "channel is what the NPU adds)")
    expect = x_scale * w_scale
    scale = np.broadcast_to(np.asarray(t.quant.scale, dtype=np.float64).reshape(-1), expect.shape)
    if np.any(np.asarray(t.quant.zero_point) != 0) or not np.allclose(scale, expect, rtol=1e-6, atol=0):
        raise Unsupported("the bias scale is not input scale x weight scale (or its zero point is not 0)")
    return np.asarray(t.data, dtype=np.int64).reshape(-1)


def ints(node: Node, name: str, default: list[int]) -> list[int]:
    return [int(v) for v in node.attr(name, default)]


def no_auto_pad(node: Node) -> None:
    auto = node.attr("auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad={auto!r}: give explicit pads (re-export with padding attributes)")
