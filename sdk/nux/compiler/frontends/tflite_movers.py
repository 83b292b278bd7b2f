"""TFLite operators that move data or change its shape -> ONNX operators on the IR (registered into
tflite_ops.CONVERTERS when that module loads). Axes are remapped from TFLite's NHWC to the IR's NCHW (tflite.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nux.compiler.frontends.tflite import NCHW, NHWC, ir_axis, ir_shape
from nux.compiler.frontends.tflite_ops import converter, expect_shape, optional_input
from nux.compiler.ir import CompileError

if TYPE_CHECKING:
    from nux.compiler.frontends.tflite import TflImporter
    from nux.compiler.frontends.tflite_reader import TflOp


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
    extra = [imp.value(op.inputs[2])] if op.opcode == "PADV2" and optional_input(op, 2) >= 0 else []
    mode = "constant"
    if op.opcode == "MIRROR_PAD":  # TFLite REFLECT leaves the edge out, like ONNX reflect; SYMMETRIC has no twin
        if int(op.options.get("Mode", 0)) != 0:
            raise CompileError(f"operator {op.index} (MIRROR_PAD): SYMMETRIC mode has no ONNX equivalent")
        mode = "reflect"
    imp.node(op, "Pad", [x, imp.array(np.array(pads, np.int64), f"{y}__pads"), *extra], [y], mode=mode)


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
