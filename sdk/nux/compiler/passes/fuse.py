"""Fold/fuse passes: each rewrites ir.Graph in place and keeps its meaning exactly (see each docstring for why
the rewrite is exact in integers)."""

from __future__ import annotations

import numpy as np

from nux.compiler.ir import DTYPE_RANGE, Graph, Node, Tensor

CLAMP_PRODUCERS = {"Conv", "BatchNormalization", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "AveragePool",
                   "GlobalAveragePool", "MaxPool"}
VIEW_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
#: IR-only op: out[n, (h*W + w)*C + c] = in[n, c, h, w] -- a Flatten in NHWC order (ir.py; host.py expands it).
FLATTEN_NHWC = "FlattenNHWC"


def _only_reader(graph: Graph, name: str, readers: dict[str, list[Node]]) -> Node | None:
    nodes = readers.get(name, [])
    return nodes[0] if len(nodes) == 1 and name not in graph.outputs else None


def _quantize_bound(value: float, t: Tensor) -> int:
    lo, hi = DTYPE_RANGE[t.dtype]
    q = np.round(value / t.quant.scalar_scale) + t.quant.scalar_zero_point if np.isfinite(value) else (
        hi if value > 0 else lo)
    return int(np.clip(q, lo, hi))


def activation_clamp(graph: Graph, node: Node) -> tuple[int, int] | None:
    """(lo, hi) in output integers that Relu/Clip `node` amounts to after quantization, or None.

    Exact because quantization is monotonic: quantize(clip(v, a, b)) = clip(quantize(v), quantize(a), quantize(b)).
    """
    out = graph[node.outputs[0]]
    if not out.quantized:
        return None
    qlo, qhi = DTYPE_RANGE[out.dtype]
    if node.op == "Relu":
        return max(qlo, _quantize_bound(0.0, out)), qhi
    if node.op != "Clip":
        return None
    if graph.opset < 11:
        bounds = [node.attr("min", -np.inf), node.attr("max", np.inf)]
    else:
        bounds = []
        for i, default in ((1, -np.inf), (2, np.inf)):
            name = node.inputs[i] if len(node.inputs) > i else ""
            if name and not graph[name].is_const:
                return None
            bounds.append(float(graph[name].data) if name else default)
    return _quantize_bound(bounds[0], out), _quantize_bound(bounds[1], out)


def fuse_activations(graph: Graph) -> None:
    """Producer -> Relu/Clip becomes the producer with an output clamp, when the producer's output is either
    unquantized (Conv -> Relu -> Q: requantize straight to the Relu's output) or quantized like the Relu's."""
    changed = True
    while changed:
        changed = False
        readers, producers = graph.consumers(), graph.producers()
        for act in graph.nodes:
            if act.op not in ("Relu", "Clip") or act.raw or act.inputs[0] not in producers:
                continue
            src = producers[act.inputs[0]]
            mid, out = graph[act.inputs[0]], graph[act.outputs[0]]
            clamp = activation_clamp(graph, act)
            if (clamp is None or src.op not in CLAMP_PRODUCERS or src.raw or _only_reader(graph, mid.name, readers)
                    is not act or not (mid.quant is None or (mid.quantized and mid.quant.same_as(out.quant)))):
                continue
            if src.clamp:
                clamp = (max(clamp[0], src.clamp[0]), min(clamp[1], src.clamp[1]))
            src.clamp, src.outputs = clamp, [out.name]
            src.fused.append(act.name)
            graph.nodes.remove(act)
            changed = True
            break


def _pads_of(graph: Graph, pad: Node) -> list[int] | None:
    if graph.opset < 11:
        return list(pad.attr("pads", []))
    if len(pad.inputs) < 2 or not graph[pad.inputs[1]].is_const:
        return None
    if len(pad.inputs) > 3 and pad.inputs[3]:
        return None  # axes input: rare, left to the general path
    return [int(v) for v in graph[pad.inputs[1]].data]


def _pad_is_zero(graph: Graph, pad: Node) -> bool:
    """The padding value is real 0 (the default), so padded elements quantize to the zero point."""
    if graph.opset < 11:
        return float(pad.attr("value", 0.0)) == 0.0
    name = pad.inputs[2] if len(pad.inputs) > 2 else ""
    if not name:
        return True
    t = graph[name]
    if not t.is_const:
        return False
    value = float(np.asarray(t.data).reshape(-1)[0])
    return value == 0.0 if t.quant is None else value == t.quant.scalar_zero_point


def fold_pad_into_conv(graph: Graph) -> None:
    """Pad(constant 0, H/W only) -> Conv becomes the Conv with larger pads: a Conv pads with the input's zero
    point, which is exactly the quantized real 0 the Pad would have written."""
    readers = graph.consumers()
    for pad in list(graph.nodes):
        if pad.op != "Pad" or pad.raw or pad.attr("mode", b"constant") not in (b"constant", "constant"):
            continue
        x, y = graph[pad.inputs[0]], graph[pad.outputs[0]]
        conv = _only_reader(graph, y.name, readers)
        pads = _pads_of(graph, pad)
        if (conv is None or conv.op != "Conv" or conv.inputs[0] != y.name or pads is None or len(pads) != 8
                or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0 or not _pad_is_zero(graph, pad)
                or not (x.quantized and x.quant.same_as(y.quant)) or conv.attr("auto_pad", b"NOTSET") not in (
                    b"NOTSET", "NOTSET")):
            continue
        old = list(conv.attr("pads", [0, 0, 0, 0]))
        conv.attrs["pads"] = [old[0] + pads[2], old[1] + pads[3], old[2] + pads[6], old[3] + pads[7]]
        conv.inputs[0] = x.name
        conv.fused.append(pad.name)
        graph.nodes.remove(pad)


def stored_order(shape: tuple[int, ...]) -> np.ndarray:
    """Logical (C-order) element indices in the order the arena stores them: NHWC for 4-D, else row-major."""
    index = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    return (index.transpose(0, 2, 3, 1) if len(shape) == 4 else index).ravel()


def same_storage(src: tuple[int, ...], dst: tuple[int, ...]) -> bool:
    """Reshaping `src` to `dst` leaves every byte where it is in the arena (so the reshape is free)."""
    if len(src) != 4 and len(dst) != 4:
        return True
    order = stored_order(src)
    return bool(np.array_equal(order, stored_order(dst)))


def mark_views(graph: Graph) -> None:
    """Reshape/Flatten/Squeeze/Unsqueeze/Identity with equal input and output quantization and the same stored
    byte order are views: their output is their input's buffer under another shape."""
    for node in graph.nodes:
        if node.op not in VIEW_OPS and node.op != FLATTEN_NHWC or node.raw:
            continue
        x, y = graph[node.inputs[0]], graph[node.outputs[0]]
        if not (x.quantized and x.quant.same_as(y.quant) and x.dtype == y.dtype) or x.shape is None or y.shape is None:
            continue
        node.view = node.op == FLATTEN_NHWC or same_storage(x.shape, y.shape)


def _gemm_b_permutable(graph: Graph, node: Node, a: str) -> bool:
    if node.op not in ("Gemm", "MatMul") or node.inputs[0] != a or node.attr("transA", 0) or node.raw:
        return False
    b = graph[node.inputs[1]]
    return b.is_const and b.data.ndim == 2 and (b.quant is None or b.quant.per_tensor or b.quant.axis in (
        1 - node.attr("transB", 0),))


def absorb_flatten_into_gemm(graph: Graph) -> None:
    """Flatten/Reshape (N, C, H, W) -> (N, C*H*W) read only by Gemm/MatMul with constant B becomes FlattenNHWC
    (a free view of the NHWC-stored activation) and B's rows are permuted to match: the product is unchanged."""
    readers = graph.consumers()
    for node in graph.nodes:
        if node.op not in ("Flatten", "Reshape") or node.raw:
            continue
        x, y = graph[node.inputs[0]], graph[node.outputs[0]]
        if x.shape is None or len(x.shape) != 4 or y.shape != (x.shape[0], int(np.prod(x.shape[1:]))):
            continue
        users = readers.get(y.name, [])
        if same_storage(x.shape, y.shape) or y.name in graph.outputs or not users or not all(
                _gemm_b_permutable(graph, u, y.name) for u in users) or not x.quantized or not x.quant.same_as(
                y.quant):
            continue
        _, c, h, w = x.shape
        perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
        for user in users:
            b = graph[user.inputs[1]]
            data = b.data[:, perm] if user.attr("transB", 0) else b.data[perm, :]
            name = f"{b.name}__nhwc"
            graph.add(Tensor(name, tuple(data.shape), b.dtype, b.quant, np.ascontiguousarray(data)))
            user.inputs[1] = name
        node.op, node.attrs, node.inputs = FLATTEN_NHWC, {}, node.inputs[:1]
