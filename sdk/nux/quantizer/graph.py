"""Small read/write helpers over an ONNX graph shared by the optimizer, the calibrator and the QDQ rewriter.

They work on `onnx.GraphProto` in place; each pass copies the model first, so the caller's model is never changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DEFAULT_DOMAINS = ("", "ai.onnx")


def opset_version(model: onnx.ModelProto) -> int:
    """The version of the default ONNX operator set the model imports (0 when it imports none)."""
    for opset in model.opset_import:
        if opset.domain in DEFAULT_DOMAINS:
            return opset.version
    return 0


def initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {init.name: init for init in graph.initializer}


def constant_value(graph: onnx.GraphProto, name: str, inits: dict | None = None) -> np.ndarray | None:
    """The value of `name` if it is an initializer, else None."""
    inits = initializers(graph) if inits is None else inits
    return numpy_helper.to_array(inits[name]) if name in inits else None


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name -> nodes that read it (a node reading a tensor twice is listed twice)."""
    table: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            if name:
                table[name].append(node)
    return table


def producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {name: node for node in graph.node for name in node.output if name}


def graph_output_names(graph: onnx.GraphProto) -> set[str]:
    return {out.name for out in graph.output}


def runtime_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are fed at run time (IR < 4 models also list their initializers as inputs)."""
    inits = {init.name for init in graph.initializer}
    return [vi for vi in graph.input if vi.name not in inits]


def all_tensor_names(graph: onnx.GraphProto) -> set[str]:
    names = {vi.name for vi in graph.input} | {init.name for init in graph.initializer}
    for node in graph.node:
        names.update(n for n in node.output if n)
    return names


def value_infos(graph: onnx.GraphProto) -> dict[str, onnx.ValueInfoProto]:
    """Every typed tensor: inputs, outputs and the value_info filled in by shape inference."""
    table = {vi.name: vi for vi in graph.value_info}
    table.update({vi.name: vi for vi in graph.input})
    table.update({vi.name: vi for vi in graph.output})
    return table


def elem_type(vi: onnx.ValueInfoProto) -> int:
    return vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0


def static_shape(vi: onnx.ValueInfoProto | None) -> tuple[int, ...] | None:
    """The shape if every dimension is a known number, else None."""
    if vi is None or not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = vi.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return tuple(d.dim_value for d in dims)


def dims(vi: onnx.ValueInfoProto) -> list[int | str | None]:
    """Each dimension as a number, a symbolic name, or None when unknown."""
    if not vi.type.tensor_type.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]


def float_tensors(graph: onnx.GraphProto) -> list[str]:
    """float32 activations in execution order: runtime graph inputs, then every node output."""
    types = value_infos(graph)
    names = [vi.name for vi in runtime_inputs(graph)]
    names += [name for node in graph.node for name in node.output if name]
    seen: set[str] = set()
    result = []
    for name in names:
        if name in types and elem_type(types[name]) == TensorProto.FLOAT and name not in seen:
            seen.add(name)
            result.append(name)
    return result


def attribute(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def set_attribute(node: onnx.NodeProto, name: str, value) -> None:
    for attr in list(node.attribute):
        if attr.name == name:
            node.attribute.remove(attr)
    node.attribute.append(helper.make_attribute(name, value))


def remove_attribute(node: onnx.NodeProto, name: str) -> None:
    for attr in list(node.attribute):
        if attr.name == name:
            node.attribute.remove(attr)


class NameFactory:
    """Unique tensor/node names: the wanted name, or the wanted name with a numeric suffix if it is taken."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.taken = all_tensor_names(graph) | {node.name for node in graph.node if node.name}

    def __call__(self, wanted: str) -> str:
        name, i = wanted, 1
        while name in self.taken:
            name = f"{wanted}_{i}"
            i += 1
        self.taken.add(name)
        return name


def set_initializer(graph: onnx.GraphProto, name: str, value: np.ndarray) -> None:
    """Add or replace an initializer."""
    for i, init in enumerate(graph.initializer):
        if init.name == name:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(value, name))
            return
    graph.initializer.append(numpy_helper.from_array(value, name))


def rename_input(graph: onnx.GraphProto, old: str, new: str, nodes: Iterable[onnx.NodeProto] | None = None) -> None:
    """Make `nodes` (default: every node) read `new` where they read `old`."""
    for node in graph.node if nodes is None else nodes:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def remove_unused(graph: onnx.GraphProto) -> None:
    """Drop nodes whose outputs nobody needs, then initializers nobody reads (iterates to a fixed point)."""
    while True:
        needed = graph_output_names(graph)
        for node in graph.node:
            needed.update(n for n in node.input if n)
            for sub in _subgraphs(node):
                needed.update(_outer_names(sub))
        dead = [n for n in graph.node if not any(o in needed for o in n.output if o)]
        for node in dead:
            graph.node.remove(node)
        if not dead:
            break
    for init in [i for i in graph.initializer if i.name not in needed]:
        graph.initializer.remove(init)
    for vi in [v for v in graph.value_info if v.name not in needed]:
        graph.value_info.remove(vi)


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    subs = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            subs.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            subs.extend(attr.graphs)
    return subs


def _outer_names(graph: onnx.GraphProto) -> set[str]:
    """Every name a subgraph reads (may include its own; over-approximating only keeps more alive)."""
    names = set()
    for node in graph.node:
        names.update(node.input)
        for sub in _subgraphs(node):
            names |= _outer_names(sub)
    return names


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A deep copy: passes rewrite their copy, never the caller's model."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def expose_outputs(model: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A copy of `model` that also outputs `names` (type left to the runtime), to read intermediate tensors."""
    model = copy_model(model)
    present = graph_output_names(model.graph)
    for name in dict.fromkeys(names):
        if name not in present:
            model.graph.output.append(helper.make_empty_tensor_value_info(name))
    return model
