"""Up-front validation, so bad input fails with a message naming the problem instead of a traceback from deep
inside onnx or onnxruntime."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import ops
from .errors import QuantizationError
from .graph import (
    DEFAULT_DOMAINS,
    elem_type,
    initializers,
    opset_version,
    producers,
    runtime_inputs,
    static_shape,
)

# Opsets we accept. Below 7 the ONNX version converter is unreliable; per-channel QDQ needs 13, so older models
# are converted up to 13 by `optimize`. The top is the newest opset this onnx/onnxruntime pair was tested with.
MIN_OPSET = 7
MAX_OPSET = 25
QDQ_MIN_OPSET = 13
# The IR version of every model nux.quantizer writes, set explicitly instead of inheriting the installed onnx's
# default, which can be newer than the installed onnxruntime reads (onnx 1.23 writes IR 14, onnxruntime 1.31 reads
# up to 13). IR 10 is read by every onnxruntime nux supports; opsets >= 23 need a newer IR and get the lowest one
# that carries them (`output_ir_version`).
IR_VERSION = 10

QUANTIZED_OPS = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
    "ConvInteger", "MatMulInteger", "QLinearAdd", "QLinearMul", "QGemm",
}
QUANTIZED_TYPES = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT4, TensorProto.UINT4}
KNOWN_TYPES = frozenset(TensorProto.DataType.values())
# Inputs that are parameters, not data, of quantized operators: +-inf there means "no bound" (Clip(x, 0, inf) is
# a Relu), so they may be non-finite.
PARAMETER_INPUTS = {"Clip": (1, 2)}
# The largest tensor (elements) a model may have: 2^28 float32 values are 1 GiB. Calibration runs the whole model
# in onnxruntime and random calibration allocates each input, so a bigger tensor would exhaust memory instead of
# failing with a message. Checked on every statically known shape after shape inference (docs/quantizer.md).
MAX_TENSOR_ELEMENTS = 1 << 28


def output_ir_version(model: onnx.ModelProto) -> int:
    """The IR version nux writes for `model`'s opsets: IR_VERSION, or the lowest IR that carries a newer opset."""
    return max(IR_VERSION, helper.find_min_ir_version_for(list(model.opset_import)))


def check_model(model: onnx.ModelProto) -> None:
    """Reject what the quantizer cannot handle: not a ModelProto, invalid ONNX, an unsupported opset or operator
    domain, non-float32 activations it would have to quantize, or a model that is already quantized."""
    if not isinstance(model, onnx.ModelProto):
        raise QuantizationError(f"expected an onnx.ModelProto, got {type(model).__name__}")
    if not model.graph.node:
        raise QuantizationError("the model's graph has no nodes")
    version = opset_version(model)
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise QuantizationError(
            f"unsupported opset {version}: nux.quantizer handles ONNX opsets {MIN_OPSET} to {MAX_OPSET}")
    for opset in model.opset_import:
        if opset.domain not in DEFAULT_DOMAINS:
            raise QuantizationError(f"unsupported operator domain '{opset.domain}': only standard ONNX is handled")
    check_element_types(model.graph)
    check_not_quantized(model)
    check_float_inputs(model)
    check_no_sparse(model.graph)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QuantizationError(f"the model is not valid ONNX: {first_line}") from None
    check_constant_operands(model.graph)


def check_element_types(graph: onnx.GraphProto) -> None:
    """Every declared element type must be one ONNX defines (onnx's own tools raise bare ValueErrors)."""
    typed = [(vi.name, elem_type(vi)) for vi in (*graph.input, *graph.output, *graph.value_info)]
    typed += [(init.name, init.data_type) for init in graph.initializer]
    for name, code in typed:
        if code not in KNOWN_TYPES:
            raise QuantizationError(f"tensor '{name}' has unknown element type {code} (not an ONNX TensorProto type)")


def check_no_sparse(graph: onnx.GraphProto) -> None:
    """Sparse tensors are refused: densifying one can take any amount of memory, and no NPU operator reads one."""
    if graph.sparse_initializer:
        raise QuantizationError(f"sparse initializer '{graph.sparse_initializer[0].values.name}' is not supported; "
                                "store it dense")
    for node in graph.node:
        if node.op_type == "Constant" and any(a.name == "sparse_value" for a in node.attribute):
            raise QuantizationError(f"Constant node '{node.name or node.output[0]}' holds a sparse_value, which "
                                    "nux.quantizer does not support; store it dense")


def check_constant_operands(graph: onnx.GraphProto) -> None:
    """The float constants a quantized operator reads must be non-empty and finite: a NaN or inf would be
    quantized to garbage (NaN cast to int8) and spoil every output it touches, an empty one has no scale."""
    inits = initializers(graph)
    for node in graph.node:
        if node.op_type not in ops.SPECS or node.domain not in DEFAULT_DOMAINS:
            continue
        parameters = PARAMETER_INPUTS.get(node.op_type, ())
        for index, name in enumerate(node.input):
            if name not in inits or inits[name].data_type != TensorProto.FLOAT or index in parameters:
                continue
            value = numpy_helper.to_array(inits[name])
            where = f"constant '{name}' read by {node.op_type} node '{node.name or node.output[0]}'"
            if value.size == 0:
                raise QuantizationError(f"{where} is empty (shape {value.shape}); nothing to quantize it with")
            bad = np.flatnonzero(~np.isfinite(value))
            if bad.size:
                first = np.unravel_index(bad[0], value.shape)
                raise QuantizationError(f"{where} holds {bad.size} non-finite value(s) "
                                        f"(first: {value[first]} at {tuple(int(i) for i in first)}); int8 cannot "
                                        "represent NaN or inf: fix the weights")


def check_tensor_sizes(graph: onnx.GraphProto) -> None:
    """Every statically shaped tensor must hold at most MAX_TENSOR_ELEMENTS elements (see its comment)."""
    for vi in (*graph.input, *graph.value_info, *graph.output):
        shape = static_shape(vi)
        if shape is not None and math.prod(shape) > MAX_TENSOR_ELEMENTS:
            node = producers(graph).get(vi.name)
            source = f" (output of {node.op_type} node '{node.name or node.output[0]}')" if node else ""
            check_elements(f"tensor '{vi.name}'{source}", shape)


def check_elements(what: str, shape: tuple[int, ...] | None) -> None:
    """Refuse a shape of more than MAX_TENSOR_ELEMENTS elements (None: unknown shape, nothing to check)."""
    if shape is not None and math.prod(shape) > MAX_TENSOR_ELEMENTS:
        raise QuantizationError(
            f"{what} has shape {tuple(shape)}: {math.prod(shape)} elements exceed nux.quantizer's limit of "
            f"{MAX_TENSOR_ELEMENTS} (2^28, 1 GiB of float32)")


def check_not_quantized(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS:
            raise QuantizationError(
                f"the model is already quantized: node '{node.name or node.output[0]}' is {node.op_type}")
    for init in model.graph.initializer:
        if init.data_type in QUANTIZED_TYPES:
            raise QuantizationError(f"the model is already quantized: initializer '{init.name}' is 8-bit")


def check_input_names(model: onnx.ModelProto, input_tensors: Iterable[str]) -> list[str]:
    """`input_tensors` must be a list of graph input names; every runtime input must be among them."""
    if isinstance(input_tensors, str) or input_tensors is None:
        raise QuantizationError("input_tensors must be a list of input tensor names, e.g. ['input']")
    names = list(input_tensors)
    inputs = [vi.name for vi in runtime_inputs(model.graph)]
    unknown = [n for n in names if n not in inputs]
    if unknown:
        raise QuantizationError(f"input tensor(s) {unknown} not in the graph; its inputs are {inputs}")
    missing = [n for n in inputs if n not in names]
    if missing:
        raise QuantizationError(f"graph input(s) {missing} missing from input_tensors {names}")
    return names


def check_float_inputs(model: onnx.ModelProto) -> None:
    for vi in runtime_inputs(model.graph):
        if elem_type(vi) in (TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16):
            raise QuantizationError(
                f"input '{vi.name}' is {TensorProto.DataType.Name(elem_type(vi)).lower()}; "
                "nux.quantizer quantizes float32 models")
