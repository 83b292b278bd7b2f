"""TFLite operators -> ONNX operators on the IR (one converter per TFLite builtin; see tflite.py for the layout
and quantization conventions). An operator without a converter is a CompileError naming it and its index."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import onnx

from nux.compiler.frontends.tflite import NCHW, NHWC, ir_axis, ir_shape, tflite_pads
from nux.compiler.ir import CompileError, QParams

if TYPE_CHECKING:
    from nux.compiler.frontends.tflite import TflImporter
    from nux.compiler.frontends.tflite_reader import TflOp

Converter = Callable[["TflImporter", "TflOp"], None]
CONVERTERS: dict[str, Converter] = {}
#: Element-wise TFLite operators that are ONNX operators of the same meaning (any layout).
UNARY = {"LOGISTIC": "Sigmoid", "TANH": "Tanh", "RELU": "Relu", "ABS": "Abs", "NEG": "Neg", "EXP": "Exp",
         "LOG": "Log", "SQRT": "Sqrt", "FLOOR": "Floor", "CEIL": "Ceil", "HARD_SWISH": "HardSwish", "ELU": "Elu",
         "SIN": "Sin", "COS": "Cos", "SQUARE": None}
BINARY = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div", "MAXIMUM": "Max", "MINIMUM": "Min",
          "POW": "Pow"}
REDUCERS = {"MEAN": "ReduceMean", "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax", "REDUCE_MIN": "ReduceMin",
            "REDUCE_PROD": "ReduceProd"}
CLIPS = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def converter(*opcodes: str) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for code in opcodes:
            CONVERTERS[code] = fn
        return fn
    return register


def convert(imp: TflImporter, op: TflOp) -> None:
    fn = CONVERTERS.get(op.opcode)
    if fn is None:
        raise CompileError(f"TFLite operator {op.index} ({op.opcode}) has no ONNX mapping in nux.compiler")
    try:
        fn(imp, op)
    except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:  # missing inputs, bad shapes
        raise CompileError(f"TFLite operator {op.index} ({op.opcode}) is malformed ({type(exc).__name__}: "
                           f"{exc})") from None


def expect_shape(imp: TflImporter, op: TflOp, index: int, shape: tuple[int, ...]) -> None:
    """The model's shape of tensor `index` must be what the operator computes (a corrupt model otherwise)."""
    have = tuple(imp.t(index).shape)
    if have != tuple(int(d) for d in shape):
        raise CompileError(f"TFLite operator {op.index} ({op.opcode}): tensor {index} has shape {list(have)}, "
                           f"the operator computes {list(shape)}")


def _input(op: TflOp, i: int) -> int:
    """Index of optional input `i`, or -1."""
    return op.inputs[i] if len(op.inputs) > i else -1


def _bias(imp: TflImporter, op: TflOp, index: int, x: str, w: str) -> list[str]:
    """The int32 bias with TFLite's effective scale input_scale x weight_scale (zero point 0)."""
    if index < 0:
        return []
    name = imp.const(index, None, suffix="")
    t, xq, wq = imp.g[name], imp.g[x].quant, imp.g[w].quant
    if t.dtype != "int32" or xq is None or wq is None:
        return [name]
    scale = xq.scalar_scale * np.asarray(wq.scale, np.float64).reshape(-1)
    t.quant = QParams(float(scale[0]), 0) if scale.size == 1 else QParams(scale, np.zeros(scale.size, np.int64), 0)
    return [name]


def _window(op: TflOp, hw: tuple[int, int], kernel: tuple[int, int]) -> dict[str, list[int]]:
    strides = [int(op.options.get("StrideH", 1)), int(op.options.get("StrideW", 1))]
    dilations = [int(op.options.get("DilationHFactor", 1)), int(op.options.get("DilationWFactor", 1))]
    if min(*strides, *dilations, *kernel, *hw) < 1:
        raise CompileError(f"TFLite operator {op.index} ({op.opcode}): strides {strides}, dilations {dilations}, "
                           f"window {list(kernel)} on {list(hw)} must all be >= 1")
    pads = tflite_pads(int(op.options.get("Padding", 0)), hw, kernel, strides, dilations)
    attrs = {"kernel_shape": list(kernel), "strides": strides, "pads": pads}
    if "DilationHFactor" in op.options:
        attrs["dilations"] = dilations
    return attrs


def _window_out(attrs: dict[str, list[int]], hw: tuple[int, int]) -> tuple[int, int]:
    """Output (H, W) of a window op with explicit pads (ONNX's floor formula)."""
    k, s, p = attrs["kernel_shape"], attrs["strides"], attrs["pads"]
    d = attrs.get("dilations", [1, 1])
    return tuple((hw[i] + p[i] + p[i + 2] - (k[i] - 1) * d[i] - 1) // s[i] + 1 for i in range(2))


@converter("CONV_2D", "DEPTHWISE_CONV_2D")
def conv(imp: TflImporter, op: TflOp) -> None:
    """CONV_2D weights OHWI -> OIHW (group = C / I); DEPTHWISE_CONV_2D (1, H, W, C*M) -> (C*M, 1, H, W), group C."""
    xt, wt = imp.t(op.inputs[0]), imp.t(op.inputs[1])
    if len(xt.shape) != 4 or len(wt.shape) != 4:
        raise CompileError(f"operator {op.index} ({op.opcode}) needs 4-D input and weights")
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    x = imp.value(op.inputs[0])
    w = imp.const(op.inputs[1], (3, 0, 1, 2) if depthwise else NCHW, suffix="__dw" if depthwise else "")
    channels = xt.shape[3]
    group = channels if depthwise else channels // wt.shape[3]
    if not depthwise and group * wt.shape[3] != channels:
        raise CompileError(f"operator {op.index} (CONV_2D): {channels} input channels, weights take {wt.shape[3]}")
    attrs = _window(op, xt.shape[1:3], wt.shape[1:3])
    out_channels = imp.g[w].shape[0]
    expect_shape(imp, op, op.outputs[0], (xt.shape[0], *_window_out(attrs, xt.shape[1:3]), out_channels))
    if _input(op, 2) >= 0:
        expect_shape(imp, op, op.inputs[2], (out_channels,))
    y = imp.output(op.outputs[0])
    imp.node(op, "Conv", [x, w, *_bias(imp, op, _input(op, 2), x, w)], [y], clamp=imp.clamp(op, y), group=group,
             **attrs)


@converter("FULLY_CONNECTED")
def fully_connected(imp: TflImporter, op: TflOp) -> None:
    """y = x W^T + b as Gemm(transB=1); x is first flattened to (rows, K) in TFLite's (NHWC) element order."""
    xt, wt, yt = imp.t(op.inputs[0]), imp.t(op.inputs[1]), imp.t(op.outputs[0])
    if int(op.options.get("WeightsFormat", 0)) != 0 or len(wt.shape) != 2:
        raise CompileError(f"operator {op.index} (FULLY_CONNECTED): only 2-D weights in the default format")
    k = wt.shape[1]
    rows = int(np.prod(xt.shape)) // k
    if rows * k != int(np.prod(xt.shape)) or int(np.prod(yt.shape)) != rows * wt.shape[0]:
        raise CompileError(f"operator {op.index} (FULLY_CONNECTED): input {list(xt.shape)}, weights "
                           f"{list(wt.shape)} and output {list(yt.shape)} do not fit")
    if _input(op, 2) >= 0:
        expect_shape(imp, op, op.inputs[2], (wt.shape[0],))
    x = imp.value(op.inputs[0])
    if tuple(xt.shape) != (rows, k):
        flat = imp.temp(x, (rows, k), x)
        imp.reshape(op, x, xt.shape, flat, (rows, k))
        x = flat
    w = imp.const(op.inputs[1], None)
    b = _bias(imp, op, _input(op, 2), x, w)
    y = imp.output(op.outputs[0])
    out = y if tuple(yt.shape) == (rows, wt.shape[0]) else imp.temp(y, (rows, wt.shape[0]), y)
    imp.node(op, "Gemm", [x, w, *b], [out], clamp=imp.clamp(op, y), transB=1)
    if out != y:
        imp.reshape(op, out, (rows, wt.shape[0]), y, yt.shape)


@converter("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool(imp: TflImporter, op: TflOp) -> None:
    xt = imp.t(op.inputs[0])
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    kernel = (int(op.options["FilterHeight"]), int(op.options["FilterWidth"]))
    onnx_op = "AveragePool" if op.opcode == "AVERAGE_POOL_2D" else "MaxPool"
    attrs = _window(op, xt.shape[1:3], kernel)
    expect_shape(imp, op, op.outputs[0], (xt.shape[0], *_window_out(attrs, xt.shape[1:3]), xt.shape[3]))
    imp.node(op, onnx_op, [x], [y], clamp=imp.clamp(op, y), **attrs)


@converter(*BINARY)
def binary(imp: TflImporter, op: TflOp) -> None:
    rank = max(len(imp.t(i).shape) for i in op.inputs)
    expect_shape(imp, op, op.outputs[0], np.broadcast_shapes(*(imp.t(i).shape for i in op.inputs[:2])))
    a, b = (imp.broadcast_operand(op, i, rank) for i in op.inputs[:2])
    y = imp.output(op.outputs[0])
    imp.node(op, BINARY[op.opcode], [a, b], [y], clamp=imp.clamp(op, y))


@converter(*UNARY)
def unary(imp: TflImporter, op: TflOp) -> None:
    expect_shape(imp, op, op.outputs[0], imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    if op.opcode == "SQUARE":
        imp.node(op, "Mul", [x, x], [y])
    else:
        imp.node(op, UNARY[op.opcode], [x], [y])


@converter(*CLIPS, "LEAKY_RELU")
def clip(imp: TflImporter, op: TflOp) -> None:
    expect_shape(imp, op, op.outputs[0], imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    if op.opcode == "LEAKY_RELU":
        imp.node(op, "LeakyRelu", [x], [y], alpha=float(op.options.get("Alpha", 0.2)))
        return
    low, high = CLIPS[op.opcode]
    lo, hi = imp.array(np.array(low, np.float32), f"{y}__lo"), imp.array(np.array(high, np.float32), f"{y}__hi")
    imp.node(op, "Clip", [x, lo, hi], [y])


@converter("QUANTIZE", "DEQUANTIZE")
def requantize(imp: TflImporter, op: TflOp) -> None:
    """Quantize, requantize or dequantize: an Identity whose output has the output's parameters (or none)."""
    expect_shape(imp, op, op.outputs[0], imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    imp.node(op, "Identity", [x], [y])


@converter("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(imp: TflImporter, op: TflOp) -> None:
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    if int(np.prod(xt.shape)) != int(np.prod(yt.shape)):
        raise CompileError(f"operator {op.index} ({op.opcode}) reshapes {list(xt.shape)} to {list(yt.shape)}")
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    imp.reshape(op, x, xt.shape, y, yt.shape)


@converter("CONCATENATION")
def concat(imp: TflImporter, op: TflOp) -> None:
    rank = len(imp.t(op.outputs[0]).shape)
    axis = int(op.options.get("Axis", 0))
    shapes = [list(imp.t(i).shape) for i in op.inputs]
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    expect_shape(imp, op, op.outputs[0], tuple(out))
    xs = [imp.value(i) for i in op.inputs]
    y = imp.output(op.outputs[0])
    imp.node(op, "Concat", xs, [y], clamp=imp.clamp(op, y), axis=ir_axis(axis, rank))


@converter("PAD", "PADV2", "MIRROR_PAD")
def pad(imp: TflImporter, op: TflOp) -> None:
    """paddings (rank, 2) in TFLite axes -> ONNX pads [begins..., ends...] in IR axes; the pad value is real 0
    (TFLite pads quantized tensors with the zero point) unless PADV2 gives one."""
    xt = imp.t(op.inputs[0])
    paddings = imp.t(op.inputs[1]).data
    if paddings is None:
        raise CompileError(f"operator {op.index} ({op.opcode}): paddings must be a constant")
    order = NCHW if len(xt.shape) == 4 else range(len(xt.shape))
    pads = [int(paddings[a][0]) for a in order] + [int(paddings[a][1]) for a in order]
    expect_shape(imp, op, op.outputs[0], tuple(d + int(paddings[a][0]) + int(paddings[a][1])
                                               for a, d in enumerate(xt.shape)))
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    extra = [imp.value(op.inputs[2])] if op.opcode == "PADV2" and _input(op, 2) >= 0 else []
    mode = "constant"
    if op.opcode == "MIRROR_PAD":  # TFLite REFLECT leaves the edge out, like ONNX reflect; SYMMETRIC has no twin
        if int(op.options.get("Mode", 0)) != 0:
            raise CompileError(f"operator {op.index} (MIRROR_PAD): SYMMETRIC mode has no ONNX equivalent")
        mode = "reflect"
    imp.node(op, "Pad", [x, imp.array(np.array(pads, np.int64), f"{y}__pads"), *extra], [y], mode=mode)


@converter(*REDUCERS)
def reduce(imp: TflImporter, op: TflOp) -> None:
    """MEAN over H and W of a 4-D tensor is GlobalAveragePool; other reductions the ONNX Reduce* with kept dims,
    then a reshape to TFLite's output (so dropped axes leave the remaining ones in TFLite's order)."""
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    rank = len(xt.shape)
    axes_t = imp.t(op.inputs[1]).data
    if axes_t is None:
        raise CompileError(f"operator {op.index} ({op.opcode}): axes must be a constant")
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes_t).reshape(-1)})
    kept = tuple(1 if i in axes else d for i, d in enumerate(xt.shape))
    if int(np.prod(kept)) != int(np.prod(yt.shape)) or any(not 0 <= a < rank for a in axes):
        raise CompileError(f"operator {op.index} ({op.opcode}): axes {axes} of {list(xt.shape)} give "
                           f"{list(yt.shape)}")
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    out = y if tuple(yt.shape) == kept else imp.temp(y, ir_shape(kept), y)
    ir_axes = [ir_axis(a, rank) for a in axes]
    if op.opcode == "MEAN" and rank == 4 and axes == [1, 2]:
        imp.node(op, "GlobalAveragePool", [x], [out])
    elif op.opcode == "SUM":  # opset 13: ReduceSum alone takes its axes as an input
        imp.node(op, "ReduceSum", [x, imp.array(np.array(ir_axes, np.int64), f"{y}__axes")], [out], keepdims=1)
    else:
        imp.node(op, REDUCERS[op.opcode], [x], [out], axes=ir_axes, keepdims=1)
    if out != y:
        imp.reshape(op, out, kept, y, yt.shape)


@converter("SOFTMAX")
def softmax(imp: TflImporter, op: TflOp) -> None:
    """Softmax over TFLite's last axis (C of a 4-D tensor); beta != 1 scales the input first (on the host)."""
    rank = len(imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    beta = float(op.options.get("Beta", 1.0))
    if beta != 1.0:
        scaled = imp.temp(x, imp.g[x].shape, x, dtype="float32")
        imp.g[scaled].quant = None
        imp.node(op, "Mul", [x, imp.array(np.array(beta, np.float32), f"{y}__beta")], [scaled], "_beta")
        x = scaled
    imp.node(op, "Softmax", [x], [y], axis=ir_axis(-1, rank))


@converter("TRANSPOSE")
def transpose(imp: TflImporter, op: TflOp) -> None:
    """One Transpose: TFLite's permutation composed with NCHW -> NHWC before it and NHWC -> NCHW after it."""
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    perm = imp.t(op.inputs[1]).data
    if perm is None or sorted(int(p) for p in perm) != list(range(len(xt.shape))):
        raise CompileError(f"operator {op.index} (TRANSPOSE): perm must be a constant permutation")
    expect_shape(imp, op, op.outputs[0], tuple(xt.shape[int(p)] for p in perm))
    before = NHWC if len(xt.shape) == 4 else range(len(xt.shape))
    after = NCHW if len(yt.shape) == 4 else range(len(yt.shape))
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    imp.node(op, "Transpose", [x], [y], perm=[int(before[int(perm[i])]) for i in after])


@converter("SLICE")
def slice_(imp: TflImporter, op: TflOp) -> None:
    xt = imp.t(op.inputs[0])
    begin, size = imp.t(op.inputs[1]).data, imp.t(op.inputs[2]).data
    if begin is None or size is None:
        raise CompileError(f"operator {op.index} (SLICE): begin and size must be constants")
    rank = len(xt.shape)
    ends = [xt.shape[a] if int(s) < 0 else int(b) + int(s) for a, (b, s) in enumerate(zip(begin, size, strict=True))]
    expect_shape(imp, op, op.outputs[0], tuple(e - int(b) for b, e in zip(begin, ends, strict=True)))
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    operands = [np.array(v, np.int64) for v in (begin, ends, [ir_axis(a, rank) for a in range(rank)])]
    names = [imp.array(v, f"{y}__{n}") for v, n in zip(operands, ("starts", "ends", "axes"), strict=True)]
    imp.node(op, "Slice", [x, *names], [y])


@converter("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def space_depth(imp: TflImporter, op: TflOp) -> None:
    """TFLite's NHWC DEPTH_TO_SPACE orders the block as (row, column, channel): ONNX's DCR mode."""
    xt = imp.t(op.inputs[0])
    b = int(op.options.get("BlockSize", 0))
    n, h, w, c = xt.shape
    if b < 1 or (op.opcode == "DEPTH_TO_SPACE" and c % (b * b)) or (op.opcode == "SPACE_TO_DEPTH" and (h % b or
                                                                                                   w % b)):
        raise CompileError(f"operator {op.index} ({op.opcode}): block size {b} does not divide {list(xt.shape)}")
    shape = (n, h * b, w * b, c // (b * b)) if op.opcode == "DEPTH_TO_SPACE" else (n, h // b, w // b, c * b * b)
    expect_shape(imp, op, op.outputs[0], shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    if op.opcode == "DEPTH_TO_SPACE":
        imp.node(op, "DepthToSpace", [x], [y], blocksize=b, mode="DCR")
    else:
        imp.node(op, "SpaceToDepth", [x], [y], blocksize=b)


@converter("SPLIT", "SPLIT_V")
def split(imp: TflImporter, op: TflOp) -> None:
    """SPLIT (axis, x) / SPLIT_V (x, sizes, axis) -> Split with the sizes the output tensors have."""
    data, axis_at = (1, 0) if op.opcode == "SPLIT" else (0, 2)
    xt, axis_t = imp.t(op.inputs[data]), imp.t(op.inputs[axis_at]).data
    if axis_t is None:
        raise CompileError(f"operator {op.index} ({op.opcode}): the axis must be a constant")
    rank = len(xt.shape)
    axis = int(np.asarray(axis_t).reshape(-1)[0]) % rank
    sizes = [imp.t(o).shape[axis] for o in op.outputs]
    for o in op.outputs:
        expect_shape(imp, op, o, tuple(xt.shape[:axis]) + (imp.t(o).shape[axis],) + tuple(xt.shape[axis + 1:]))
    if sum(sizes) != xt.shape[axis]:
        raise CompileError(f"operator {op.index} ({op.opcode}): outputs {sizes} do not add up to {xt.shape[axis]}")
    x = imp.value(op.inputs[data])
    ys = [imp.output(o) for o in op.outputs]
    imp.node(op, "Split", [x, imp.array(np.array(sizes, np.int64), f"{ys[0]}__split")], ys,
             axis=ir_axis(axis, rank))


@converter("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest(imp: TflImporter, op: TflOp) -> None:
    """TFLite's source index floor(x * in / out) (align_corners: round(x * (in - 1) / (out - 1)), half away from
    zero; half_pixel_centers: floor((x + 0.5) * in / out)) as ONNX Resize coordinate and rounding modes:
    round_prefer_ceil((x + 0.5) / s - 0.5) = floor((x + 0.5) / s)."""
    rounding = "round_prefer_ceil" if op.options.get("AlignCorners") or op.options.get("HalfPixelCenters") else "floor"
    _resize(imp, op, "nearest", {"nearest_mode": rounding})


@converter("STRIDED_SLICE")
def strided_slice(imp: TflImporter, op: TflOp) -> None:
    """Slice with steps; begin/end masks become open ends, shrink_axis_mask a reshape to TFLite's output after.
    Ellipsis and new-axis masks and the `offset` form are refused."""
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    begin, end, steps = (imp.t(i).data for i in op.inputs[1:4])
    if begin is None or end is None or steps is None:
        raise CompileError(f"operator {op.index} (STRIDED_SLICE): begin, end and strides must be constants")
    o = op.options
    if o.get("EllipsisMask") or o.get("NewAxisMask") or o.get("Offset"):
        raise CompileError(f"operator {op.index} (STRIDED_SLICE): ellipsis/new-axis masks and offset are not supported")
    rank, big = len(xt.shape), 2**62
    starts, ends, kept = [], [], []
    for a in range(rank):
        step = int(steps[a])
        if step == 0:
            raise CompileError(f"operator {op.index} (STRIDED_SLICE): stride 0 on axis {a}")
        lo = (0 if step > 0 else big) if o.get("BeginMask", 0) >> a & 1 else int(begin[a])
        hi = (big if step > 0 else -big) if o.get("EndMask", 0) >> a & 1 else int(end[a])
        if o.get("ShrinkAxisMask", 0) >> a & 1:
            lo = lo + xt.shape[a] if lo < 0 else lo
            hi, step = lo + 1, 1
        starts.append(lo)
        ends.append(hi)
        kept.append(len(range(*slice(lo, hi, step).indices(xt.shape[a]))))
    if int(np.prod(kept)) != int(np.prod(yt.shape)):
        raise CompileError(f"operator {op.index} (STRIDED_SLICE): slices {kept} of {list(xt.shape)}, output "
                           f"{list(yt.shape)}")
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    out = y if tuple(yt.shape) == tuple(kept) else imp.temp(y, ir_shape(kept), y)
    steps = [1 if o.get("ShrinkAxisMask", 0) >> a & 1 else int(steps[a]) for a in range(rank)]
    operands = [np.array(v, np.int64) for v in (starts, ends, [ir_axis(a, rank) for a in range(rank)], steps)]
    names = [imp.array(v, f"{y}__{n}") for v, n in zip(operands, ("starts", "ends", "axes", "steps"), strict=True)]
    imp.node(op, "Slice", [x, *names], [out])
    if out != y:
        imp.reshape(op, out, kept, y, yt.shape)


@converter("ARG_MAX", "ARG_MIN")
def arg_extreme(imp: TflImporter, op: TflOp) -> None:
    """ArgMax/ArgMin (first index on ties, like TFLite) with kept dims, then TFLite's shape and index type."""
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    axis_t = imp.t(op.inputs[1]).data
    if axis_t is None:
        raise CompileError(f"operator {op.index} ({op.opcode}): the axis must be a constant")
    rank = len(xt.shape)
    axis = int(np.asarray(axis_t).reshape(-1)[0]) % rank
    kept = tuple(1 if a == axis else d for a, d in enumerate(xt.shape))
    expect_shape(imp, op, op.outputs[0], kept[:axis] + kept[axis + 1:])
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    index = imp.temp(y, ir_shape(kept), y, dtype="int64")
    onnx_op = "ArgMax" if op.opcode == "ARG_MAX" else "ArgMin"
    imp.node(op, onnx_op, [x], [index], axis=ir_axis(axis, rank), keepdims=1, select_last_index=0)
    if yt.dtype != "int64":
        cast = imp.temp(y, ir_shape(kept), y)
        imp.node(op, "Cast", [index], [cast], "_cast", to=int(onnx.helper.np_dtype_to_tensor_dtype(
            np.dtype(yt.dtype))))
        index = cast
    imp.reshape(op, index, kept, y, yt.shape)


@converter("RESIZE_BILINEAR")
def resize_bilinear(imp: TflImporter, op: TflOp) -> None:
    """Resize (linear): TFLite's source coordinate x * in / out (align_corners: x * (in - 1) / (out - 1);
    half_pixel_centers: (x + 0.5) * in / out - 0.5) are ONNX's asymmetric / align_corners / half_pixel."""
    _resize(imp, op, "linear", {})


def _resize(imp: TflImporter, op: TflOp, mode: str, extra: dict[str, str]) -> None:
    xt, yt = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    if len(xt.shape) != 4 or len(yt.shape) != 4 or tuple(yt.shape[::3]) != tuple(xt.shape[::3]):
        raise CompileError(f"operator {op.index} ({op.opcode}): {list(xt.shape)} -> {list(yt.shape)}")
    if op.options.get("AlignCorners"):
        coordinates = "align_corners"
    else:
        coordinates = "half_pixel" if op.options.get("HalfPixelCenters") else "asymmetric"
    scales = np.array([1.0, 1.0, yt.shape[1] / xt.shape[1], yt.shape[2] / xt.shape[2]], np.float32)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    roi = imp.array(np.zeros(0, np.float32), f"{y}__roi")
    imp.node(op, "Resize", [x, roi, imp.array(scales, f"{y}__scales")], [y], mode=mode,
             coordinate_transformation_mode=coordinates, **extra)


@converter("GATHER")
def gather(imp: TflImporter, op: TflOp) -> None:
    """Gather with constant indices; a 4-D input keeps its rank only with 1-D indices (so the axis remaps)."""
    xt, it = imp.t(op.inputs[0]), imp.t(op.inputs[1])
    if it.data is None or int(op.options.get("BatchDims", 0)):
        raise CompileError(f"operator {op.index} (GATHER): only constant indices without batch dims")
    rank = len(xt.shape)
    axis = int(op.options.get("Axis", 0)) % rank
    if rank == 4 and it.data.ndim != 1:
        raise CompileError(f"operator {op.index} (GATHER): {it.data.ndim}-D indices into a 4-D tensor")
    expect_shape(imp, op, op.outputs[0], tuple(xt.shape[:axis]) + it.data.shape + tuple(xt.shape[axis + 1:]))
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    indices = imp.array(it.data.astype(np.int64), f"{y}__indices")
    imp.node(op, "Gather", [x, indices], [y], axis=ir_axis(axis, rank))


@converter("LOG_SOFTMAX", "L2_NORMALIZATION")
def last_axis(imp: TflImporter, op: TflOp) -> None:
    """Normalizations over TFLite's last axis (C of a 4-D tensor)."""
    rank = len(imp.t(op.inputs[0]).shape)
    expect_shape(imp, op, op.outputs[0], imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    if op.opcode == "LOG_SOFTMAX":
        imp.node(op, "LogSoftmax", [x], [y], axis=ir_axis(-1, rank))
    else:
        imp.node(op, "LpNormalization", [x], [y], clamp=imp.clamp(op, y), axis=ir_axis(-1, rank), p=2)


@converter("PRELU")
def prelu(imp: TflImporter, op: TflOp) -> None:
    rank = len(imp.t(op.inputs[0]).shape)
    expect_shape(imp, op, op.outputs[0], imp.t(op.inputs[0]).shape)
    x, slope = imp.value(op.inputs[0]), imp.broadcast_operand(op, op.inputs[1], rank)
    y = imp.output(op.outputs[0])
    imp.node(op, "PRelu", [x, slope], [y])


__all__ = ["CONVERTERS", "convert"]
