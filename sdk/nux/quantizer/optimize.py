"""`optimize`: the graph clean-up before calibration.

Steps, in order: validate; drop initializers from the graph inputs (IR < 4 models list them there) and upgrade
the opset to at least 13 (per-channel QuantizeLinear/DequantizeLinear need it); then, to a fixed point, constant
folding, Identity/Dropout removal and the fusions of `fusions.py`; finally shape inference of every tensor,
so that calibration and quantization know the type and shape of everything.
"""

from __future__ import annotations

import onnx
from onnx import shape_inference, version_converter

from . import cleanup, folding, fusions
from .checks import QDQ_MIN_OPSET, check_model, check_tensor_sizes, output_ir_version
from .errors import QuantizationError
from .graph import copy_model, opset_version, remove_unused

MAX_ROUNDS = 20


def optimize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return an optimized copy of `model` that computes the same function, with every tensor's shape inferred."""
    check_model(model)
    model = upgrade(model)
    graph = model.graph
    model = infer_shapes(model)
    for _ in range(MAX_ROUNDS):
        graph = model.graph
        opset = opset_version(model)
        changed = folding.constants_to_initializers(graph)
        changed |= folding.fold_shapes(graph)
        changed |= folding.fold_constant_nodes(graph, opset)
        changed |= cleanup.remove_pass_through(graph)
        changed |= fusions.normalise_gemm(graph)
        changed |= fusions.fold_batchnorm(graph)
        changed |= fusions.fold_channel_affine(graph)
        changed |= fusions.matmul_add_to_gemm(graph)
        changed |= fusions.clip_to_relu(graph)
        if not changed:
            changed = fusions.batchnorm_to_mul_add(graph)
        remove_unused(graph)
        model = infer_shapes(model)
        if not changed:
            break
    return model


def upgrade(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with initializers removed from the graph inputs, opset >= 13 and nux's IR version for it
    (`checks.output_ir_version`), so every model the quantizer writes loads in the pinned onnxruntime."""
    model = copy_model(model)
    if opset_version(model) < QDQ_MIN_OPSET:
        try:
            model = version_converter.convert_version(model, QDQ_MIN_OPSET)
        except Exception as exc:  # noqa: BLE001 - the converter raises bare RuntimeErrors
            raise QuantizationError(
                f"cannot convert the model from opset {opset_version(model)} to {QDQ_MIN_OPSET}: {exc}") from None
    inits = {init.name for init in model.graph.initializer}
    for vi in [vi for vi in model.graph.input if vi.name in inits]:
        model.graph.input.remove(vi)
    model.ir_version = output_ir_version(model)
    return model


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference from scratch (stale value_info of rewritten tensors is dropped first); a tensor
    larger than checks.MAX_TENSOR_ELEMENTS is refused here."""
    del model.graph.value_info[:]
    try:
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise QuantizationError(f"shape inference failed: {first_line}") from None
    check_tensor_sizes(inferred.graph)  # before anything (folding, calibration) allocates a tensor
    return inferred

