"""Which tensors are quantized and with which parameters (no graph rewriting here; see qdq.py).

* Every float activation read or written by a quantized operator (ops.SPECS) is quantized, except the tensor
  between a Conv/ConvTranspose/Gemm/MatMul and the Relu/Clip the compiler fuses into it.
* Operators that keep their input's scale (MaxPool, Reshape, Concat, ...) put their inputs and outputs into one
  group (union-find); a group gets one set of parameters from the union of its members' ranges.
* Softmax/Sigmoid/Tanh/LpNormalization outputs (and their group) get the specification's fixed parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from . import ops
from .errors import QuantizationError
from .graph import constant_value, consumers, elem_type, graph_output_names, initializers, value_infos
from .params import QParams, activation_qparams


@dataclass
class Plan:
    """The decisions `qdq.rewrite` carries out."""

    quantized_nodes: list[onnx.NodeProto] = field(default_factory=list)
    activations: dict[str, QParams] = field(default_factory=dict)  # non-constant tensors -> params
    shared_constants: dict[str, QParams] = field(default_factory=dict)  # constant inputs of same-scale ops
    fused: set[str] = field(default_factory=set)  # Conv->Relu intermediates left in float


class _Groups:
    """Union-find over tensor names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, names: list[str]) -> None:
        for other in names[1:]:
            self.parent[self.find(other)] = self.find(names[0])

    def members(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for name in self.parent:
            table.setdefault(self.find(name), []).append(name)
        return table


def make_plan(graph: onnx.GraphProto, ranges: dict[str, tuple[float, float]]) -> Plan:
    plan = Plan()
    inits = initializers(graph)
    types = value_infos(graph)

    def is_float(name: str) -> bool:
        if name in inits:
            return inits[name].data_type == TensorProto.FLOAT
        return name in types and elem_type(types[name]) == TensorProto.FLOAT

    plan.fused = _fused_intermediates(graph)
    groups, fixed, extra_points = _Groups(), {}, {}
    needed: list[str] = []
    for node in graph.node:
        spec = ops.SPECS.get(node.op_type)
        if spec is None or node.domain not in ("", "ai.onnx"):
            continue
        data = [node.input[i] for i in ops.data_inputs(node, spec) if is_float(node.input[i])]
        outputs = [o for o in node.output if o and is_float(o)]
        if node.op_type == "MaxPool":
            outputs = outputs[:1]
        if not data and not outputs:
            continue
        plan.quantized_nodes.append(node)
        needed += [n for n in data if n not in inits and n not in plan.fused]
        needed += [o for o in outputs if o not in plan.fused]
        if spec.output is ops.Output.FIXED:
            fixed.update({o: spec.fixed for o in outputs})
        elif spec.output is ops.Output.SHARED:
            members = [n for n in data + outputs if n not in plan.fused]
            groups.union(members)
            plan.shared_constants.update({n: None for n in data if n in inits})
            if node.op_type == "Pad" and len(node.input) > 2 and node.input[2]:
                value = constant_value(graph, node.input[2], inits)
                if value is not None:
                    extra_points.setdefault(members[0], []).append(float(value))
    for name in needed:
        groups.find(name)
    params = _group_params(groups, fixed, extra_points, ranges, inits)
    for name in dict.fromkeys(needed):
        plan.activations[name] = params[groups.find(name)]
    for name in plan.shared_constants:
        plan.shared_constants[name] = params[groups.find(name)]
    for name in [n for n in plan.activations if n in graph_output_names(graph) and n in {i.name for i in graph.input}]:
        del plan.activations[name]  # a graph input passed straight through to an output: nothing to quantize
    return plan


def _group_params(groups: _Groups, fixed: dict, extra_points: dict, ranges: dict, inits: dict) -> dict[str, QParams]:
    params = {}
    for root, members in groups.members().items():
        fixed_params = {fixed[m] for m in members if m in fixed}
        if len(fixed_params) == 1:
            params[root] = fixed_params.pop()
            continue
        lo, hi = np.inf, -np.inf
        for m in members:
            if m in inits:
                value = onnx.numpy_helper.to_array(inits[m])
                lo, hi = min(lo, float(value.min())), max(hi, float(value.max()))
            elif m in ranges:
                lo, hi = min(lo, ranges[m][0]), max(hi, ranges[m][1])
            elif m in fixed:
                scale, zp = fixed[m].scale, fixed[m].zero_point
                lo, hi = min(lo, scale * (-128 - zp)), max(hi, scale * (127 - zp))
        for m in members:
            for point in extra_points.get(m, []):
                lo, hi = min(lo, point), max(hi, point)
        if lo > hi:
            missing = sorted(m for m in members if m not in ranges)
            raise QuantizationError(
                f"no dynamic range for tensor '{missing[0]}'; calibrate the model you quantize "
                "(the optimized one) so that every activation has a range")
        params[root] = activation_qparams(lo, hi)
    return params


def _fused_intermediates(graph: onnx.GraphProto) -> set[str]:
    """Outputs of Conv/Gemm/MatMul read only by a Relu or a Clip with constant bounds."""
    readers = consumers(graph)
    outputs = graph_output_names(graph)
    inits = initializers(graph)
    fused = set()
    for node in graph.node:
        if node.op_type not in ops.FUSES_ACTIVATION:
            continue
        out = node.output[0]
        users = readers.get(out, [])
        if len(users) != 1 or out in outputs or users[0].op_type not in ops.ACTIVATIONS:
            continue
        if users[0].op_type == "Clip" and not all(n == "" or n in inits for n in users[0].input[1:]):
            continue
        fused.add(out)
    return fused
