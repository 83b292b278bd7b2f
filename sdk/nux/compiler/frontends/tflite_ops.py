"""TFLite operators -> ONNX operators on the IR (one converter per TFLite builtin; see tflite.py for the layout
and quantization conventions). An operator without a converter is a CompileError naming it and its index."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import onnx

from nux.compiler.frontends.tflite import NCHW, ir_axis, ir_shape, tflite_pads
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


def optional_input(op: TflOp, i: int) -> int:
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
    if optional_input(op, 2) >= 0:
        expect_shape(imp, op, op.inputs[2], (out_channels,))
    y = imp.output(op.outputs[0])
    imp.node(op, "Conv", [x, w, *_bias(imp, op, optional_input(op, 2), x, w)], [y], clamp=imp.clamp(op, y), group=group,
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
    if optional_input(op, 2) >= 0:
        expect_shape(imp, op, op.inputs[2], (wt.shape[0],))
    x = imp.value(op.inputs[0])
    if tuple(xt.shape) != (rows, k):
        flat = imp.temp(x, (rows, k), x)
        imp.reshape(op, x, xt.shape, flat, (rows, k))
        x = flat
    w = imp.const(op.inputs[1], None)
    b = _bias(imp, op, optional_input(op, 2), x, w)
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
    """Softmax over TFLite's last axis (C of a 4-D tensor); `beta` rides along as an IR attribute (the NPU's exp
    table takes it), so the node keeps its quantized input."""
    rank = len(imp.t(op.inputs[0]).shape)
    x, y = imp.value(op.inputs[0]), imp.output(op.outputs[0])
    beta = float(op.options.get("Beta", 1.0))
    imp.node(op, "Softmax", [x], [y], axis=ir_axis(-1, rank), **({} if beta == 1.0 else {"beta": beta}))


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


# Importing the layout/data-movement converters registers them.
from nux.compiler.frontends import tflite_movers  # noqa: E402, F401

__all__ = ["CONVERTERS", "convert", "converter", "expect_shape", "optional_input"]
