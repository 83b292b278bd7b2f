"""Up-front validation, so bad input fails with a message naming the problem instead of a traceback from deep
inside onnx or onnxruntime."""

from __future__ import annotations

from collections.abc import Iterable

import onnx
from onnx import TensorProto, helper

from .errors import QuantizationError
from .graph import DEFAULT_DOMAINS, elem_type, opset_version, runtime_inputs

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
    check_not_quantized(model)
    check_float_inputs(model)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QuantizationError(f"the model is not valid ONNX: {first_line}") from None


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
