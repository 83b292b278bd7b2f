"""Operator fusions that put the graph into the form the nux compiler fuses and quantizes best:

* BatchNormalization after Conv/ConvTranspose/Gemm folds into the weights and bias;
* a per-channel constant Add/Mul after Conv/ConvTranspose/Gemm folds into the bias/weights (mnist-8's Conv+Add);
* MatMul with constant 2-D weights followed by a bias Add becomes Gemm (so the bias can be int32);
* Gemm's alpha/beta fold into constant B/C; Clip(0, inf) becomes Relu;
* a BatchNormalization left alone becomes Mul+Add, which the NPU runs (BatchNormalization is not an NPU op).

After these, Conv/Gemm is followed directly by its Relu/Clip, the pattern the compiler fuses into one
requantizing instruction. Each fusion only fires when the intermediate tensor has a single reader and is not a
graph output, so the graph still computes the same function (checked on random inputs by the tests).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .graph import (
    NameFactory,
    attribute,
    constant_value,
    consumers,
    graph_output_names,
    initializers,
    producers,
    remove_attribute,
    set_initializer,
    value_infos,
)

LINEAR_OPS = ("Conv", "ConvTranspose", "Gemm")


def _only_reader(graph: onnx.GraphProto, name: str) -> onnx.NodeProto | None:
    readers = consumers(graph).get(name, [])
    if len(readers) != 1 or name in graph_output_names(graph):
        return None
    return readers[0]


def _output_channels(node: onnx.NodeProto, w: np.ndarray) -> int:
    if node.op_type == "Conv":
        return w.shape[0]
    if node.op_type == "ConvTranspose":
        return w.shape[1] * attribute(node, "group", 1)
    return w.shape[0] if attribute(node, "transB", 0) else w.shape[1]


def _output_rank(node: onnx.NodeProto, w: np.ndarray) -> int:
    return 2 if node.op_type == "Gemm" else w.ndim


def _scale_output_channels(node: onnx.NodeProto, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Multiply the weights producing output channel o by s[o]."""
    if node.op_type == "Conv":
        return w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    if node.op_type == "ConvTranspose":
        group = attribute(node, "group", 1)
        grouped = w.reshape((group, w.shape[0] // group) + w.shape[1:])
        return (grouped * s.reshape((group, 1, w.shape[1]) + (1,) * (w.ndim - 2))).reshape(w.shape)
    return w * (s[:, None] if attribute(node, "transB", 0) else s[None, :])


def _linear_params(graph: onnx.GraphProto, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
    """(weights, per-channel bias as float64) of a Conv/ConvTranspose/Gemm with constant parameters, else None."""
    inits = initializers(graph)
    w = constant_value(graph, node.input[1], inits)
    if w is None:
        return None
    if node.op_type == "Gemm" and (attribute(node, "alpha", 1.0) != 1.0 or attribute(node, "beta", 1.0) != 1.0):
        return None  # normalised first
    channels = _output_channels(node, w)
    if len(node.input) > 2 and node.input[2]:
        b = constant_value(graph, node.input[2], inits)
        if b is None:
            return None
        b = _per_channel(b, 2, channels) if node.op_type == "Gemm" else b.reshape(-1)
        if b is None:
            return None
    else:
        b = np.zeros(channels)
    return w.astype(np.float64), b.astype(np.float64)


def _per_channel(c: np.ndarray, rank: int, channels: int) -> np.ndarray | None:
    """`c` as a (channels,) vector if it broadcasts along axis 1 of a rank-`rank` tensor only, else None."""
    if c.ndim > rank:
        return None
    shape = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(c.reshape(-1), (channels,)).astype(np.float64)


def _store(graph: onnx.GraphProto, names: NameFactory, node: onnx.NodeProto, w: np.ndarray, b: np.ndarray) -> None:
    """Give `node` new weight and bias initializers (new names: the old ones may be shared with other nodes)."""
    w_name, b_name = names(f"{node.input[1]}_fused"), names(f"{node.name or node.output[0]}_bias")
    set_initializer(graph, w_name, w.astype(np.float32))
    set_initializer(graph, b_name, b.astype(np.float32))
    node.input[1] = w_name
    if len(node.input) > 2:
        node.input[2] = b_name
    else:
        node.input.append(b_name)


def _absorb(graph: onnx.GraphProto, node: onnx.NodeProto, follower: onnx.NodeProto) -> None:
    """`node` now computes what `follower` computed: it takes over the follower's output name."""
    node.output[0] = follower.output[0]
    graph.node.remove(follower)


def fold_batchnorm(graph: onnx.GraphProto) -> bool:
    """Conv/ConvTranspose/Gemm -> BatchNormalization (inference mode, constant statistics) into one node."""
    changed = False
    names = NameFactory(graph)
    for node in [n for n in graph.node if n.op_type in LINEAR_OPS]:
        bn = _only_reader(graph, node.output[0])
        if bn is None or bn.op_type != "BatchNormalization" or attribute(bn, "training_mode", 0):
            continue
        if any(o for o in bn.output[1:]):
            continue
        stats = [constant_value(graph, name) for name in bn.input[1:5]]
        params = _linear_params(graph, node)
        if params is None or any(s is None for s in stats):
            continue
        gamma, beta, mean, var = (s.astype(np.float64).reshape(-1) for s in stats)
        s = gamma / np.sqrt(var + attribute(bn, "epsilon", 1e-5))
        w, b = params
        _store(graph, names, node, _scale_output_channels(node, w, s), (b - mean) * s + beta)
        _absorb(graph, node, bn)
        changed = True
    return changed


def fold_channel_affine(graph: onnx.GraphProto) -> bool:
    """Conv/ConvTranspose/Gemm -> Add or Mul by a per-channel (or scalar) constant into weights and bias."""
    changed = False
    names = NameFactory(graph)
    for node in [n for n in graph.node if n.op_type in LINEAR_OPS]:
        follower = _only_reader(graph, node.output[0])
        if follower is None or follower.op_type not in ("Add", "Mul") or len(follower.input) != 2:
            continue
        other = follower.input[1] if follower.input[0] == node.output[0] else follower.input[0]
        c, params = constant_value(graph, other), _linear_params(graph, node)
        if c is None or params is None or other == node.output[0]:
            continue
        w, b = params
        c = _per_channel(c, _output_rank(node, w), len(b))
        if c is None:
            continue
        if follower.op_type == "Add":
            _store(graph, names, node, w, b + c)
        else:
            _store(graph, names, node, _scale_output_channels(node, w, c), b * c)
        _absorb(graph, node, follower)
        changed = True
    return changed


def matmul_add_to_gemm(graph: onnx.GraphProto) -> bool:
    """MatMul(A 2-D, constant B 2-D) -> Add(constant bias) becomes Gemm(A, B, bias)."""
    changed = False
    types = value_infos(graph)
    for node in [n for n in graph.node if n.op_type == "MatMul"]:
        b = constant_value(graph, node.input[1])
        a_info = types.get(node.input[0])
        if b is None or b.ndim != 2 or a_info is None or len(a_info.type.tensor_type.shape.dim) != 2:
            continue
        add = _only_reader(graph, node.output[0])
        if add is None or add.op_type != "Add":
            continue
        other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
        c = constant_value(graph, other)
        if c is None or _per_channel(c, 2, b.shape[1]) is None:
            continue
        bias_name = NameFactory(graph)(f"{other}_gemm_bias")
        set_initializer(graph, bias_name, _per_channel(c, 2, b.shape[1]).astype(np.float32))
        gemm = helper.make_node("Gemm", [node.input[0], node.input[1], bias_name], [add.output[0]],
                                name=node.name or None)
        graph.node.insert(list(graph.node).index(node), gemm)
        graph.node.remove(node)
        graph.node.remove(add)
        changed = True
    return changed


def normalise_gemm(graph: onnx.GraphProto) -> bool:
    """Fold Gemm's alpha into constant B and beta into constant C, so Gemm is a plain A*B + C."""
    changed = False
    names = NameFactory(graph)
    for node in [n for n in graph.node if n.op_type == "Gemm"]:
        for attr, index in (("alpha", 1), ("beta", 2)):
            factor = attribute(node, attr, 1.0)
            if factor == 1.0 or len(node.input) <= index or not node.input[index]:
                continue
            value = constant_value(graph, node.input[index])
            if value is None:
                continue
            new = names(f"{node.input[index]}_{attr}")
            set_initializer(graph, new, (value.astype(np.float64) * factor).astype(np.float32))
            node.input[index] = new
            remove_attribute(node, attr)
            changed = True
    return changed


def clip_to_relu(graph: onnx.GraphProto) -> bool:
    """Clip(x, 0) with no upper bound is Relu."""
    changed = False
    for node in [n for n in graph.node if n.op_type == "Clip"]:
        lo = constant_value(graph, node.input[1]) if len(node.input) > 1 and node.input[1] else None
        hi = constant_value(graph, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        has_hi = len(node.input) > 2 and bool(node.input[2])
        if lo is None or float(lo) != 0.0 or (has_hi and (hi is None or np.isfinite(hi))):
            continue
        node.op_type = "Relu"
        del node.input[1:]
        changed = True
    return changed


def batchnorm_to_mul_add(graph: onnx.GraphProto) -> bool:
    """A BatchNormalization that could not be folded becomes x * s + t with per-channel constants."""
    changed = False
    names = NameFactory(graph)
    types = value_infos(graph)
    folds_into = {n.output[0] for n in graph.node if n.op_type in LINEAR_OPS}
    for bn in [n for n in graph.node if n.op_type == "BatchNormalization"]:
        stats = [constant_value(graph, name) for name in bn.input[1:5]]
        info = types.get(bn.input[0])
        rank = len(info.type.tensor_type.shape.dim) if info is not None else 0
        if any(s is None for s in stats) or rank < 2 or attribute(bn, "training_mode", 0) or any(bn.output[1:]):
            continue
        if bn.input[0] in folds_into and _only_reader(graph, bn.input[0]) is bn and _foldable(graph, bn):
            continue
        gamma, beta, mean, var = (s.astype(np.float64).reshape(-1) for s in stats)
        s = gamma / np.sqrt(var + attribute(bn, "epsilon", 1e-5))
        shape = (-1,) + (1,) * (rank - 2)
        out = bn.output[0]
        s_name, t_name, mid = names(f"{out}_scale"), names(f"{out}_shift"), names(f"{out}_mul")
        set_initializer(graph, s_name, s.reshape(shape).astype(np.float32))
        set_initializer(graph, t_name, (beta - mean * s).reshape(shape).astype(np.float32))
        at = list(graph.node).index(bn)
        graph.node.insert(at, helper.make_node("Add", [mid, t_name], [bn.output[0]], name=names(f"{bn.name}_add")))
        graph.node.insert(at, helper.make_node("Mul", [bn.input[0], s_name], [mid], name=names(f"{bn.name}_mul")))
        graph.node.remove(bn)
        changed = True
    return changed


def _foldable(graph: onnx.GraphProto, bn: onnx.NodeProto) -> bool:
    producer = producers(graph)[bn.input[0]]
    return _linear_params(graph, producer) is not None
