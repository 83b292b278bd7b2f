"""TFLite twins of API operators the other converter modules lack -> ONNX operators on the IR (registered into
tflite_ops.CONVERTERS when tflite.py loads this module): TRANSPOSE_CONV (ConvTranspose), BATCH_MATMUL (MatMul)
and BROADCAST_TO (Expand)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nux.compiler.frontends.tflite import ir_shape
from nux.compiler.frontends.tflite_ops import _bias, converter, expect_shape, optional_input
from nux.compiler.ir import CompileError

if TYPE_CHECKING:
    from nux.compiler.frontends.tflite import TflImporter
    from nux.compiler.frontends.tflite_reader import TflOp

#: TFLite OHWI transpose-conv weights -> ONNX ConvTranspose (I, O, kH, kW).
IOHW = (3, 0, 1, 2)


@converter("TRANSPOSE_CONV")
def transpose_conv(imp: TflImporter, op: TflOp) -> None:
    """Inputs (output_shape, OHWI weights, x[, bias]). TFLite places output pixel (iy*s - pad_begin + ky); its
    padding is the total the output shape implies, begin = total // 2 (SAME) or 0 (VALID)."""
    out_shape = imp.t(op.inputs[0]).data
    xt, wt = imp.t(op.inputs[2]), imp.t(op.inputs[1])
    if out_shape is None or len(xt.shape) != 4 or len(wt.shape) != 4 or wt.shape[3] != xt.shape[3]:
        raise CompileError(f"operator {op.index} (TRANSPOSE_CONV) needs a constant output shape, a 4-D input and "
                           f"OHWI weights over its {xt.shape[-1] if xt.shape else '?'} channels")
    out_shape = [int(d) for d in out_shape]
    expect_shape(imp, op, op.outputs[0], tuple(out_shape))
    strides = [int(op.options.get("StrideH", 1)), int(op.options.get("StrideW", 1))]
    same = int(op.options.get("Padding", 0)) == 0
    begin, end = [], []
    for n, k, s, o in zip(xt.shape[1:3], wt.shape[1:3], strides, out_shape[1:3], strict=True):
        total = (n - 1) * s + k - o
        if total < 0 and same or min(s, n, k) < 1:
            raise CompileError(f"operator {op.index} (TRANSPOSE_CONV): output {out_shape} does not fit its input")
        b = max(total, 0) // 2 if same else 0
        begin.append(b)
        end.append(total - b)
    x = imp.value(op.inputs[2])
    w = imp.const(op.inputs[1], IOHW, suffix="__iohw")
    bias = _bias(imp, op, optional_input(op, 3), x, w)
    y = imp.output(op.outputs[0])
    pads, extra = begin + [max(e, 0) for e in end], [max(-e, 0) for e in end]
    imp.node(op, "ConvTranspose", [x, w, *bias], [y], clamp=imp.clamp(op, y), kernel_shape=list(wt.shape[1:3]),
             strides=strides, pads=pads, output_padding=extra)


@converter("BATCH_MATMUL")
def batch_matmul(imp: TflImporter, op: TflOp) -> None:
    """x @ y over the trailing two axes (adj_x / adj_y transpose them first)."""
    xt, yt = imp.t(op.inputs[0]), imp.t(op.inputs[1])
    if op.options.get("AdjX") or op.options.get("AdjY") or len(xt.shape) == 4 or len(yt.shape) == 4:
        raise CompileError(f"operator {op.index} (BATCH_MATMUL): adj_x/adj_y and 4-D operands are not supported")
    x, w = imp.value(op.inputs[0]), imp.value(op.inputs[1])
    y = imp.output(op.outputs[0])
    imp.node(op, "MatMul", [x, w], [y])


@converter("BROADCAST_TO")
def broadcast_to(imp: TflImporter, op: TflOp) -> None:
    shape = imp.t(op.inputs[1]).data
    if shape is None:
        raise CompileError(f"operator {op.index} (BROADCAST_TO): the shape must be a constant")
    shape = [int(d) for d in shape]
    expect_shape(imp, op, op.outputs[0], tuple(shape))
    x = imp.broadcast_operand(op, op.inputs[0], len(shape))
    y = imp.output(op.outputs[0])
    target = np.array(ir_shape(shape) if len(shape) == 4 else shape, np.int64)
    imp.node(op, "Expand", [x, imp.array(target, f"{y}__shape")], [y])


__all__ = ["transpose_conv", "batch_matmul", "broadcast_to"]
