"""The golden op-level reference of a quantized graph: every IR node computed on stored integers with
`nux.golden.kernels` (TFLite's integer kernels), independently of the compiler's lowerings.

`run_golden(graph, stored)` walks the imported IR (nux.compiler.import_model of the QDQ model, with explicit
pads) in node order, so it sees each operator as the model states it, before the compiler's rewrites; values are
the stored int8/uint8 arrays in the IR's logical (NCHW) shapes. A node's fused clamp (Relu or Clip folded into it,
when the graph is simplified) bounds its requantization. Data movers are the same index arithmetic on the bytes
(the compiler lowers them only when input and output share quantization, so no requant is involved). Unary functions
are the 256-entry table `kernels.make_lut` builds from the float function written out here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from nux.compiler.ir import Graph, Node
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier, requant

Values = dict[str, np.ndarray]


def _q(graph: Graph, name: str) -> tuple[float, int, bool]:
    t = graph[name]
    return t.quant.scalar_scale, t.quant.scalar_zero_point, t.dtype == "int8"


def _ints(graph: Graph, node: Node, index: int, default: list[int] | None = None) -> list[int] | None:
    if len(node.inputs) <= index or not node.inputs[index]:
        return default
    return [int(v) for v in np.asarray(graph[node.inputs[index]].data).reshape(-1)]


def _clamp(node: Node) -> dict:
    lo, hi = node.clamp or (None, None)
    return dict(lo=lo, hi=hi)


def _requant(graph: Graph, node: Node, acc: np.ndarray, real: float | np.ndarray, axis: int = 1) -> np.ndarray:
    """acc (int32 accumulators) -> the node's output bytes, multiplier(s) `real` along `axis`."""
    _, y_zp, y_signed = _q(graph, node.outputs[0])
    if np.ndim(real) == 0:
        m, s = quantize_multiplier(float(real))
        lo, hi = node.clamp or ((-128, 127) if y_signed else (0, 255))
        return kernels.to_bytes_dtype(requant(np.asarray(acc), m, s, y_zp, lo, hi), y_signed)
    ms = [quantize_multiplier(float(r)) for r in real]
    m, s = np.array([m for m, _ in ms]), np.array([s for _, s in ms])
    return kernels.requantize(acc, m, s, y_zp, y_signed, axis=axis, **_clamp(node))


def _weight(graph: Graph, name: str, channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = graph[name]
    scale = np.broadcast_to(np.asarray(t.quant.scale, np.float64).reshape(-1), (channels,))
    zp = np.broadcast_to(np.asarray(t.quant.zero_point, np.int64).reshape(-1), (channels,))
    return np.asarray(t.data), scale, zp


def _bias(graph: Graph, node: Node, index: int) -> np.ndarray | None:
    name = node.inputs[index] if len(node.inputs) > index else ""
    return np.asarray(graph[name].data, np.int64).reshape(-1) if name else None


def conv(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    y_scale = _q(graph, node.outputs[0])[0]
    w, w_scale, w_zp = _weight(graph, node.inputs[1], graph[node.outputs[0]].shape[1])
    acc = kernels.conv2d_acc(v[node.inputs[0]], w, _bias(graph, node, 2), x_zp=x_zp, w_zp=w_zp,
                             stride=tuple(node.attr("strides", [1, 1])), padding=tuple(node.attr("pads", [0] * 4)),
                             dilation=tuple(node.attr("dilations", [1, 1])), groups=int(node.attr("group", 1)))
    return _requant(graph, node, acc, x_scale * w_scale / y_scale)


def _transpose_pads(node: Node, size: tuple[int, ...], w: np.ndarray) -> tuple[int, ...]:
    """ConvTranspose pads as ONNX defines them: explicit, or the total an output_shape (or SAME: input x stride)
    implies, split with the odd pixel at the end for SAME_UPPER and at the begin otherwise."""
    auto = node.attr("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    strides, dilations = node.attr("strides", [1, 1]), node.attr("dilations", [1, 1])
    if node.attr("output_shape") is None and auto not in ("SAME_UPPER", "SAME_LOWER"):
        return tuple(node.attr("pads", [0, 0, 0, 0])) if auto != "VALID" else (0, 0, 0, 0)
    out = node.attr("output_shape") or [n * s for n, s in zip(size, strides, strict=True)]
    extra = node.attr("output_padding", [0, 0])
    total = [(n - 1) * s + d * (k - 1) + 1 + e - o
             for n, s, d, k, e, o in zip(size, strides, dilations, w.shape[2:], extra, out, strict=True)]
    begin = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
    return (*begin, *(t - b for t, b in zip(total, begin, strict=True)))


def conv_transpose(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    y_scale = _q(graph, node.outputs[0])[0]
    groups = int(node.attr("group", 1))
    w, w_scale, w_zp = _weight(graph, node.inputs[1], graph[node.outputs[0]].shape[1] // groups)
    w_scale, w_zp = np.tile(w_scale, groups), np.tile(w_zp, groups)
    acc = kernels.conv_transpose_acc(
        v[node.inputs[0]], w, _bias(graph, node, 2), x_zp=x_zp, w_zp=w_zp,
        stride=tuple(node.attr("strides", [1, 1])), padding=_transpose_pads(node, v[node.inputs[0]].shape[2:], w),
        output_padding=tuple(node.attr("output_padding", [0, 0])), dilation=tuple(node.attr("dilations", [1, 1])),
        groups=groups)
    return _requant(graph, node, acc, x_scale * w_scale / y_scale)


def gemm(graph: Graph, node: Node, v: Values) -> np.ndarray:
    """Gemm / MatMul: alpha * (A - a_zp) @ (B - b_zp) + beta * bias, B constant (per-column scales) or an
    activation (per tensor); leading dimensions of a rank > 2 A are rows."""
    a_scale, a_zp, _ = _q(graph, node.inputs[0])
    y_scale = _q(graph, node.outputs[0])[0]
    a = v[node.inputs[0]].T if node.attr("transA", 0) else v[node.inputs[0]]
    b_t = graph[node.inputs[1]]
    trans_b = bool(node.attr("transB", 0))
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    if b_t.is_const:
        b = np.asarray(b_t.data).T if trans_b else np.asarray(b_t.data)
        b = b[:, None] if b.ndim == 1 else b  # a vector: the (K, 1) matrix
        _, b_scale, b_zp = _weight(graph, node.inputs[1], b.shape[-1])
    else:
        b = v[node.inputs[1]]
        b_scale, b_zp, _ = _q(graph, node.inputs[1])
    c = node.inputs[2] if node.op == "Gemm" and len(node.inputs) > 2 else ""
    bias = np.asarray(graph[c].data, np.int64) if c else None  # (N,), (1, N) or a full (M, N)
    if bias is not None and beta != alpha:
        bias = np.rint(bias * (beta / alpha)).astype(np.int64)
    a2 = a.reshape(-1, a.shape[-1])
    if b.ndim == 2:
        acc = kernels.matmul_acc(a2, b, bias, a_zp=a_zp, b_zp=b_zp)
    else:  # batched activation x activation: one matmul per leading index
        b3 = b.reshape(-1, *b.shape[-2:])
        a3 = a.reshape(b3.shape[0], -1, a.shape[-1])
        acc = np.stack([kernels.matmul_acc(x, w, a_zp=a_zp, b_zp=b_zp) for x, w in zip(a3, b3, strict=True)])
    out = _requant(graph, node, acc.reshape(-1, acc.shape[-1]), alpha * a_scale * b_scale / y_scale)
    return out.reshape(graph[node.outputs[0]].shape)


def _pool_pads(node: Node, x: np.ndarray) -> tuple[int, int, int, int]:
    """ONNX pads plus ceil_mode's extra end padding (the last window starts inside the input or left pad)."""
    strides, dilations = node.attr("strides", [1, 1]), node.attr("dilations", [1, 1])
    kernel = [d * (k - 1) + 1 for k, d in zip(node.attr("kernel_shape"), dilations, strict=True)]
    pads = list(node.attr("pads", [0, 0, 0, 0]))
    if node.attr("ceil_mode", 0):
        for i, size in enumerate(x.shape[2:]):
            span = size + pads[i] + pads[i + 2] - kernel[i]
            out = -(-span // strides[i]) + 1
            if (out - 1) * strides[i] >= size + pads[i]:
                out -= 1
            pads[i + 2] += max(0, (out - 1) * strides[i] + kernel[i] - (size + pads[i] + pads[i + 2]))
    return tuple(pads)  # type: ignore[return-value]


def max_pool(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    dh, dw = node.attr("dilations", [1, 1])
    kh, kw = node.attr("kernel_shape")
    # a dilated window is the undilated max pool of the span, sampled every dilation-th tap
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    top, left, bottom, right = _pool_pads(node, x)
    padded = np.pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)], constant_values=np.iinfo(x.dtype).min)
    windows = sliding_window_view(padded, span, axis=(2, 3))
    sh, sw = node.attr("strides", [1, 1])
    out = windows[:, :, ::sh, ::sw, ::dh, ::dw].max(axis=(4, 5))
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    if (x_scale, x_zp) == _q(graph, node.outputs[0])[:2] and not node.clamp:
        return out
    return _requant(graph, node, out.astype(np.int64) - x_zp, x_scale / _q(graph, node.outputs[0])[0])


def tflite_avg_pool(x: np.ndarray, kernel, strides, pads) -> np.ndarray:
    """TFLite's integer average pool (input and output quantized alike): the raw bytes of the window's taps inside
    the input summed and divided by their count, rounding half away from zero."""
    top, left, bottom, right = pads
    width = [(0, 0), (0, 0), (top, bottom), (left, right)]
    sums = sliding_window_view(np.pad(x.astype(np.int64), width), kernel, axis=(2, 3))
    counts = sliding_window_view(np.pad(np.ones(x.shape[2:], np.int64), width[2:]), kernel)
    sums = sums[:, :, ::strides[0], ::strides[1]].sum(axis=(4, 5))
    counts = counts[::strides[0], ::strides[1]].sum(axis=(2, 3))
    out = np.sign(sums) * ((np.abs(sums) + counts // 2) // counts)
    return out.astype(x.dtype)


def avg_pool(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    y_scale, y_zp, y_signed = _q(graph, node.outputs[0])
    pads = list(node.attr("pads", [0, 0, 0, 0]))
    full = _pool_pads(node, x)
    include = bool(node.attr("count_include_pad", 0))
    if include and full != tuple(pads):  # ceil_mode's extra columns never count (ONNX): pad them away by hand
        raise NotImplementedError("count_include_pad with ceil_mode")
    if (x_scale, x_zp) == (y_scale, y_zp) and not include:
        return tflite_avg_pool(x, tuple(node.attr("kernel_shape")), tuple(node.attr("strides", [1, 1])), full)
    return kernels.avg_pool2d(x, tuple(node.attr("kernel_shape")), tuple(node.attr("strides", [1, 1])), full,
                              x_zp=x_zp, in_scale=x_scale, out_scale=y_scale, out_zp=y_zp, out_signed=y_signed,
                              count_include_pad=include)


def global_avg_pool(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    y_scale, y_zp, y_signed = _q(graph, node.outputs[0])
    return kernels.avg_pool2d(x, x.shape[2:], 1, 0, x_zp=x_zp, in_scale=x_scale, out_scale=y_scale, out_zp=y_zp,
                              out_signed=y_signed)


def _binary(graph: Graph, node: Node, v: Values, fn: Callable, names: list[str], out_scale: float) -> np.ndarray:
    (a_s, a_zp, _), (b_s, b_zp, _) = (_q(graph, n) for n in names)
    _, y_zp, y_signed = _q(graph, node.outputs[0])
    return fn(v[names[0]], v[names[1]], a_zp=a_zp, a_scale=a_s, b_zp=b_zp, b_scale=b_s, out_zp=y_zp,
              out_scale=out_scale, out_signed=y_signed, **_clamp(node))


def add(graph: Graph, node: Node, v: Values) -> np.ndarray:
    return _binary(graph, node, v, kernels.qadd, node.inputs[:2], _q(graph, node.outputs[0])[0])


def mul(graph: Graph, node: Node, v: Values) -> np.ndarray:
    return _binary(graph, node, v, kernels.qmul, node.inputs[:2], _q(graph, node.outputs[0])[0])


def mean(graph: Graph, node: Node, v: Values) -> np.ndarray:
    """Mean of two: their TFLite ADD into twice the output scale (one rounding, like the ADD it is)."""
    return _binary(graph, node, v, kernels.qadd, node.inputs[:2], 2 * _q(graph, node.outputs[0])[0])


UNARY: dict[str, Callable[[Node, np.ndarray], np.ndarray]] = {
    "Relu": lambda n, x: np.maximum(x, 0.0),
    "Sigmoid": lambda n, x: 1.0 / (1.0 + np.exp(-x)),
    "Exp": lambda n, x: np.exp(x),
    "Softplus": lambda n, x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0),
}


def unary(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x_scale, x_zp, x_signed = _q(graph, node.inputs[0])
    y_scale, y_zp, y_signed = _q(graph, node.outputs[0])
    if node.op == "Clip":
        names = (list(node.inputs[1:3]) + ["", ""])[:2]
        lo, hi = (float(np.asarray(graph[n].data).reshape(-1)[0]) if n else d
                  for n, d in zip(names, (-np.inf, np.inf), strict=True))
        fn = lambda x: np.clip(x, lo, hi)  # noqa: E731
    else:
        fn = lambda x: UNARY[node.op](node, x)  # noqa: E731
    table = kernels.make_lut(fn, x_scale, x_zp, y_scale, y_zp, x_signed, y_signed)
    return kernels.apply_lut(v[node.inputs[0]], table, y_signed)


def reduce(graph: Graph, node: Node, v: Values) -> np.ndarray:
    """ReduceSum / ReduceMean / ReduceL2 with the golden kernels; empty axes reduce everything, or nothing (the
    input requantized) under noop_with_empty_axes."""
    x = v[node.inputs[0]]
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    y_scale, y_zp, y_signed = _q(graph, node.outputs[0])
    axes = node.attr("axes") if "axes" in node.attrs else _ints(graph, node, 1)
    if not axes and node.attr("noop_with_empty_axes", 0):
        return _requant(graph, node, x.astype(np.int64) - x_zp, x_scale / y_scale)
    fn = kernels.reduce_l2 if node.op == "ReduceL2" else partial(kernels.reduce_sum, mean=node.op == "ReduceMean")
    out = fn(x, x_zp=x_zp, in_scale=x_scale, out_scale=y_scale, out_zp=y_zp, out_signed=y_signed,
             axes=tuple(axes) if axes else None, keepdims=bool(node.attr("keepdims", 1)))
    return out.reshape(graph[node.outputs[0]].shape)


def softmax(graph: Graph, node: Node, v: Values) -> np.ndarray:
    _, y_zp, y_signed = _q(graph, node.outputs[0])
    return kernels.softmax(v[node.inputs[0]], in_scale=_q(graph, node.inputs[0])[0],
                           out_scale=_q(graph, node.outputs[0])[0], out_zp=y_zp, axis=int(node.attr("axis", -1)),
                           out_signed=y_signed)


def lp_normalization(graph: Graph, node: Node, v: Values) -> np.ndarray:
    if int(node.attr("p", 2)) != 2:
        raise NotImplementedError("LpNormalization p = 1")
    y_scale, y_zp, y_signed = _q(graph, node.outputs[0])
    return kernels.l2_normalize(v[node.inputs[0]], x_zp=_q(graph, node.inputs[0])[1], axis=int(node.attr("axis", -1)),
                                out_scale=y_scale, out_zp=y_zp, out_signed=y_signed)


# ---------------------------------------------------------------------------------------------- movers


def _out_shape(graph: Graph, node: Node, i: int = 0) -> tuple[int, ...]:
    return graph[node.outputs[i]].shape


def concat(graph: Graph, node: Node, v: Values) -> np.ndarray:
    return np.concatenate([v[n] for n in node.inputs if n], axis=int(node.attr("axis")))


def slice_(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    starts, ends = _ints(graph, node, 1), _ints(graph, node, 2)
    axes = _ints(graph, node, 3, list(range(len(starts))))
    steps = _ints(graph, node, 4, [1] * len(starts))
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        x = np.take(x, list(range(*slice(s, e, st).indices(x.shape[a % x.ndim]))), axis=a % x.ndim)
    return x


def pad(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    pads = _ints(graph, node, 1)
    axes = _ints(graph, node, 3, list(range(x.ndim)))
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        width[a % x.ndim] = (pads[i], pads[i + len(axes)])
    x = x[tuple(slice(max(-lo, 0), d - max(-hi, 0)) for d, (lo, hi) in zip(x.shape, width, strict=True))]
    width = [(max(lo, 0), max(hi, 0)) for lo, hi in width]  # negative pads crop
    mode = node.attr("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        return np.pad(x, width, mode=mode)
    x_scale, x_zp, _ = _q(graph, node.inputs[0])
    value = graph[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    if value is None:
        byte = x_zp
    elif value.quantized:
        byte = int(np.asarray(value.data).reshape(-1)[0])
    else:  # QuantizeLinear of the padded real value
        info = np.iinfo(x.dtype)
        real = np.float32(np.asarray(value.data).reshape(-1)[0])
        byte = int(np.clip(np.rint(real / np.float32(x_scale)) + x_zp, info.min, info.max))
    return np.pad(x, width, constant_values=byte)


def depth_to_space(graph: Graph, node: Node, v: Values) -> np.ndarray:
    x = v[node.inputs[0]]
    n, c, h, w = x.shape
    b = int(node.attr("blocksize"))
    mode = node.attr("mode", b"DCR")
    if (mode.decode() if isinstance(mode, bytes) else mode) == "DCR":
        t = x.reshape(n, b, b, c // b**2, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // b**2, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // b**2, h * b, w * b)


def split(graph: Graph, node: Node, v: Values) -> list[np.ndarray]:
    x, axis = v[node.inputs[0]], int(node.attr("axis", 0))
    sizes = [graph[o].shape[axis % x.ndim] for o in node.outputs]
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


GOLDEN: dict[str, Callable[[Graph, Node, Values], np.ndarray | list[np.ndarray]]] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "MatMul": gemm, "MaxPool": max_pool,
    "AveragePool": avg_pool, "GlobalAveragePool": global_avg_pool, "Add": add, "Mul": mul, "Mean": mean,
    "Clip": unary, **{op: unary for op in UNARY}, "ReduceSum": reduce, "ReduceMean": reduce,
    "ReduceL2": reduce, "Softmax": softmax, "LpNormalization": lp_normalization,
    "Concat": concat, "Slice": slice_, "Pad": pad, "DepthToSpace": depth_to_space, "Split": split,
    "Transpose": lambda g, n, v: v[n.inputs[0]].transpose(n.attr("perm", list(range(v[n.inputs[0]].ndim))[::-1])),
    "Expand": lambda g, n, v: np.broadcast_to(v[n.inputs[0]], _out_shape(g, n)),
    **{op: (lambda g, n, v: v[n.inputs[0]].reshape(_out_shape(g, n)))
       for op in ("Reshape", "Flatten", "Unsqueeze", "Squeeze", "Identity")},
    "FlattenNHWC": lambda g, n, v: v[n.inputs[0]].transpose(0, 2, 3, 1).reshape(_out_shape(g, n)),
}


def _lift_1d(graph: Graph, node: Node, v: Values) -> np.ndarray:
    """A 1-D window operator as the 2-D one on (N, C, 1, L) with a 1 x k window (ONNX's definition), squeezed."""
    lead = {"kernel_shape": 1, "strides": 1, "dilations": 1, "output_padding": 0, "output_shape": 1}
    attrs = {k: ([lead[k], *a] if k in lead else a) for k, a in node.attrs.items()}
    if "pads" in attrs:
        attrs["pads"] = [0, node.attrs["pads"][0], 0, node.attrs["pads"][1]]
    tensors = dict(graph.tensors)
    for name in node.inputs[1:2] + node.outputs:
        t = tensors[name]
        shape = (*t.shape[:2], 1, t.shape[2])
        tensors[name] = replace(t, shape=shape, data=None if t.data is None else np.asarray(t.data).reshape(shape))
    x = node.inputs[0]
    out = GOLDEN[node.op](replace(graph, tensors=tensors), replace(node, attrs=attrs), {x: v[x][:, :, None, :]})
    return out[:, :, 0, :]


def run_golden(graph: Graph, stored: Values) -> Values:
    """Every tensor of the graph's nodes computed from the stored inputs (and constants), by name."""
    values = dict(stored)
    for name, t in graph.tensors.items():
        if t.is_const and t.dtype in ("int8", "uint8"):
            values[name] = np.asarray(t.data).reshape(t.shape)
    for node in graph.nodes:
        lift = node.op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool") and values[node.inputs[0]].ndim == 3
        out = (_lift_1d if lift else GOLDEN[node.op])(graph, node, values)
        for name, value in zip(node.outputs, out if isinstance(out, list) else [out], strict=True):
            values[name] = np.ascontiguousarray(value)
    return values
