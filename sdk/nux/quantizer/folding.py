"""Constant folding: turn `Constant` nodes into initializers, evaluate nodes whose inputs are all constant with
the ONNX reference evaluator, and replace `Shape` of statically shaped tensors by its value.

Folding first means the later fusions see weights as initializers (e.g. the exporter's Reshape of a MatMul
weight in mnist-8) and the quantizer never has to quantize a computation on weights at run time.

Memory stays bounded by the model's real size: a node is folded only when shape inference knows its outputs'
shapes and they hold no more elements than its constant inputs (plus MAX_EXPANDED_ELEMENTS), and that is decided
*before* evaluating it. A 188-byte model whose ConstantOfShape makes 12000 x 12000 floats keeps the node instead of
allocating 550 MiB; tensors beyond checks.MAX_TENSOR_ELEMENTS are refused earlier, by shape inference.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from .errors import QuantizationError
from .graph import attribute, initializers, set_initializer, static_shape, value_infos

# Never folded: random or side-effecting operators, and control flow (subgraphs).
UNFOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
              "Bernoulli", "If", "Loop", "Scan", "QuantizeLinear", "DequantizeLinear"}
# A fold may produce this many elements more than its inputs hold (Range, small ConstantOfShape, Expand ...);
# beyond it the node stays, so folding never grows the model by more than this per node.
MAX_EXPANDED_ELEMENTS = 1 << 16


def constants_to_initializers(graph: onnx.GraphProto) -> bool:
    """`Constant` nodes become initializers (the reference evaluator computes the value of any attribute form)."""
    changed = False
    for node in [n for n in graph.node if n.op_type == "Constant"]:
        try:
            (value,) = ReferenceEvaluator(node).run(None, {})
        except Exception as exc:  # noqa: BLE001 - the evaluator raises many types for a malformed attribute
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise QuantizationError(f"Constant node '{node.name or node.output[0]}' has no usable value: "
                                    f"{first_line}") from None
        set_initializer(graph, node.output[0], np.asarray(value))
        graph.node.remove(node)
        changed = True
    return changed


def fold_shapes(graph: onnx.GraphProto) -> bool:
    """`Shape` of a tensor whose shape inference found every dimension becomes an int64 initializer."""
    types = value_infos(graph)
    changed = False
    for node in [n for n in graph.node if n.op_type == "Shape"]:
        shape = static_shape(types.get(node.input[0]))
        if shape is None:
            continue
        start, end = attribute(node, "start", 0), attribute(node, "end", None)
        set_initializer(graph, node.output[0], np.array(shape[start:end], dtype=np.int64))
        graph.node.remove(node)
        changed = True
    return changed


def fold_constant_nodes(graph: onnx.GraphProto, opset: int) -> bool:
    """Evaluate every node whose inputs are all initializers and store its outputs as initializers."""
    changed = False
    inits = initializers(graph)
    types = value_infos(graph)
    for node in list(graph.node):
        if node.op_type in UNFOLDABLE or node.domain not in ("", "ai.onnx"):
            continue
        if not all(name == "" or name in inits for name in node.input):
            continue
        if not _small_fold(node, inits, types):
            continue
        feeds = {name: numpy_helper.to_array(inits[name]) for name in node.input if name}
        try:
            outputs = ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds)
        except Exception:  # noqa: BLE001 - an operator the reference cannot evaluate simply stays in the graph
            continue
        for name, value in zip(node.output, outputs, strict=False):
            if name:
                set_initializer(graph, name, np.asarray(value))
        inits = initializers(graph)
        graph.node.remove(node)
        changed = True
    return changed


def _small_fold(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto], types: dict) -> bool:
    """Whether folding `node` is known, before evaluating it, to produce at most its inputs' element count plus
    MAX_EXPANDED_ELEMENTS (an output of unknown shape: not known, so no)."""
    shapes = [static_shape(types.get(name)) for name in node.output if name]
    if any(shape is None for shape in shapes):
        return False
    produced = sum(math.prod(shape) for shape in shapes)
    consumed = sum(math.prod(inits[name].dims) for name in node.input if name)
    return produced <= consumed + MAX_EXPANDED_ELEMENTS
