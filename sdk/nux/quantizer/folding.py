"""Constant folding: turn `Constant` nodes into initializers, evaluate nodes whose inputs are all constant with
the ONNX reference evaluator, and replace `Shape` of statically shaped tensors by its value.

Folding first means the later fusions see weights as initializers (e.g. the exporter's Reshape of a MatMul
weight in mnist-8) and the quantizer never has to quantize a computation on weights at run time.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from .graph import attribute, initializers, set_initializer, static_shape, value_infos

# Never folded: random or side-effecting operators, and control flow (subgraphs).
UNFOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
              "Bernoulli", "If", "Loop", "Scan", "QuantizeLinear", "DequantizeLinear"}
# Operators that only make data bigger: folding them would bloat the file, so beyond this size they stay.
EXPANDING = {"Expand", "Tile", "ConstantOfShape", "Range"}
MAX_EXPANDED_ELEMENTS = 1 << 16


def constants_to_initializers(graph: onnx.GraphProto) -> bool:
    """`Constant` nodes become initializers (the reference evaluator computes the value of any attribute form)."""
    changed = False
    for node in [n for n in graph.node if n.op_type == "Constant"]:
        (value,) = ReferenceEvaluator(node).run(None, {})
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
    for node in list(graph.node):
        if node.op_type in UNFOLDABLE or node.domain not in ("", "ai.onnx"):
            continue
        if not all(name == "" or name in inits for name in node.input):
            continue
        feeds = {name: numpy_helper.to_array(inits[name]) for name in node.input if name}
        try:
            outputs = ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds)
        except Exception:  # noqa: BLE001 - an operator the reference cannot evaluate simply stays in the graph
            continue
        if node.op_type in EXPANDING and any(np.size(o) > MAX_EXPANDED_ELEMENTS for o in outputs):
            continue
        for name, value in zip(node.output, outputs, strict=False):
            if name:
                set_initializer(graph, name, np.asarray(value))
        inits = initializers(graph)
        graph.node.remove(node)
        changed = True
    return changed
