"""`quantize`: rewrite a float model into standard QDQ form (what onnxruntime's quantize_static emits too):

* each quantized activation X: ``X -> QuantizeLinear -> DequantizeLinear -> readers`` (graph inputs and outputs
  keep their names and float type, so the quantized model is a drop-in replacement);
* Conv/ConvTranspose weights: int8 initializer + per-channel DequantizeLinear (axis 0, resp. 1);
  other constant inputs: int8 initializer + per-tensor symmetric DequantizeLinear;
* bias: int32 initializer + DequantizeLinear with scale input_scale * weight_scale;
* constant inputs of same-scale operators (e.g. a constant Concat operand) use the shared activation params.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import ops
from .checks import check_input_names, check_model
from .errors import QuantizationError
from .graph import NameFactory, all_tensor_names, attribute, graph_output_names, initializers, set_initializer
from .optimize import infer_shapes, upgrade
from .params import (
    QParams,
    bias_scale,
    fit_weight_scale_to_bias,
    quantize_bias,
    quantize_weights,
    round_half_away,
    symmetric_scales,
)
from .plan import Plan, make_plan


def quantize(model: onnx.ModelProto, input_tensors: list[str],
             dynamic_ranges: dict[str, tuple[float, float]]) -> onnx.ModelProto:
    """Static int8 QDQ model: per-channel Conv/ConvTranspose weights, everything else per tensor.

    `model` should be the output of `optimize` and `dynamic_ranges` the output of `calibrate` on it; ranges are
    needed for every activation a quantized operator reads or writes (names not in the graph are an error).
    """
    check_model(model)
    model = infer_shapes(upgrade(model))
    check_input_names(model, input_tensors)
    ranges = check_ranges(model.graph, dynamic_ranges)
    plan = make_plan(model.graph, ranges)
    _Rewriter(model.graph, plan).run()
    model.metadata_props.add(key="nux.quantizer", value="int8 QDQ, TFLite int8 specification")
    return infer_shapes(model)


def check_ranges(graph: onnx.GraphProto, dynamic_ranges) -> dict[str, tuple[float, float]]:
    if not isinstance(dynamic_ranges, dict):
        raise QuantizationError("dynamic_ranges must be a dict {tensor: (min, max)}, "
                                f"got {type(dynamic_ranges).__name__}")
    names = all_tensor_names(graph)
    unknown = [n for n in dynamic_ranges if n not in names]
    if unknown:
        raise QuantizationError(f"dynamic_ranges names tensor(s) not in the graph: {unknown[:5]}")
    ranges = {}
    for name, value in dynamic_ranges.items():
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise QuantizationError(f"dynamic range of '{name}' must be a (min, max) pair, got {value!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise QuantizationError(f"dynamic range of '{name}' is invalid: ({lo}, {hi})")
        ranges[name] = (lo, hi)
    return ranges


class _Rewriter:
    def __init__(self, graph: onnx.GraphProto, plan: Plan) -> None:
        self.graph, self.plan = graph, plan
        self.names = NameFactory(graph)
        self.inits = initializers(graph)
        self.weight_cache: dict[tuple, str] = {}
        self.original: dict[str, str] = {}  # DequantizeLinear output -> the activation it stands for

    def run(self) -> None:
        graph, plan = self.graph, self.plan
        outputs = graph_output_names(graph)
        dq_name = {}
        for x in plan.activations:
            dq_name[x] = x if x in outputs else self.names(f"{x}_dequantized")
            self.original[dq_name[x]] = x
        # Producers of quantized graph outputs write a new name; readers of other tensors read the DQ output.
        renamed_out = {x: self.names(f"{x}_QuantizeLinear_Input") for x in plan.activations if x in outputs}
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name in dq_name and name not in outputs:
                    node.input[i] = dq_name[name]
            for i, name in enumerate(node.output):
                if name in renamed_out:
                    node.output[i] = renamed_out[name]
        quantized = {id(n) for n in plan.quantized_nodes}
        new_nodes = [qdq for vi in graph.input if vi.name in plan.activations
                     for qdq in self._qdq(vi.name, vi.name, dq_name[vi.name])]
        for node in graph.node:
            if id(node) in quantized:
                new_nodes += self._constant_inputs(node)
            new_nodes.append(node)
            for out in node.output:
                original = next((x for x, r in renamed_out.items() if r == out), out)
                if original in plan.activations:
                    new_nodes += self._qdq(original, out, dq_name[original])
        del graph.node[:]
        graph.node.extend(new_nodes)
        for name in [i.name for i in graph.initializer]:
            if not any(name in n.input for n in graph.node):
                graph.initializer.remove(self.inits[name])

    def _qdq(self, tensor: str, source: str, target: str) -> list[onnx.NodeProto]:
        """QuantizeLinear(source) -> DequantizeLinear -> target, with the tensor's planned params."""
        qp = self.plan.activations[tensor]
        scale, zp = self._params(tensor, qp)
        q_out = self.names(f"{tensor}_quantized")
        return [
            helper.make_node("QuantizeLinear", [source, scale, zp], [q_out],
                             name=self.names(f"{tensor}_QuantizeLinear")),
            helper.make_node("DequantizeLinear", [q_out, scale, zp], [target],
                             name=self.names(f"{tensor}_DequantizeLinear")),
        ]

    def _params(self, tensor: str, qp: QParams) -> tuple[str, str]:
        scale, zp = self.names(f"{tensor}_scale"), self.names(f"{tensor}_zero_point")
        set_initializer(self.graph, scale, np.array(qp.scale, dtype=np.float32))
        set_initializer(self.graph, zp, np.array(qp.zero_point, dtype=np.int8))
        return scale, zp

    def _constant_inputs(self, node: onnx.NodeProto) -> list[onnx.NodeProto]:
        """DequantizeLinear nodes (and int8/int32 initializers) for the constant inputs of a quantized node."""
        spec = ops.SPECS[node.op_type]
        new_nodes: list[onnx.NodeProto] = []
        weight_scale = None
        for i in ops.data_inputs(node, spec):
            name = node.input[i]
            if name not in self.inits or self.inits[name].data_type != onnx.TensorProto.FLOAT:
                continue
            value = numpy_helper.to_array(self.inits[name])
            if name in self.plan.shared_constants:
                qp = self.plan.shared_constants[name]
                q = np.clip(round_half_away(value / np.float64(qp.scale)) + qp.zero_point, -128, 127)
                node.input[i] = self._dequantize(new_nodes, name, q.astype(np.int8),
                                                 np.float32(qp.scale), np.int8(qp.zero_point), None)
                continue
            axis = spec.channel_axis if i == 1 and spec.channel_axis is not None else None
            scale = symmetric_scales(value, axis)
            if i == 1 and spec.bias is not None:
                scale = self._fit_to_bias(node, spec, scale, axis)
                weight_scale = scale
            node.input[i] = self._weights(new_nodes, name, value, scale, axis)
        if weight_scale is not None and spec.bias is not None:
            self._bias(new_nodes, node, spec, weight_scale)
        return new_nodes

    def _weights(self, new_nodes: list, name: str, value: np.ndarray, scale: np.ndarray, axis: int | None) -> str:
        key = (name, axis, scale.tobytes())
        if key not in self.weight_cache:
            zp = np.zeros(scale.shape, dtype=np.int8)
            self.weight_cache[key] = self._dequantize(new_nodes, name, quantize_weights(value, scale, axis),
                                                      scale, zp, axis)
        return self.weight_cache[key]

    def _input_scale(self, node: onnx.NodeProto) -> float | None:
        qp = self.plan.activations.get(self.original.get(node.input[0], node.input[0]))
        return None if qp is None else qp.scale

    def _bias_per_channel(self, node: onnx.NodeProto, scale: np.ndarray) -> np.ndarray:
        """Bias scale with one entry per output channel (ConvTranspose groups repeat the weight scales)."""
        if scale.ndim == 0:
            return scale
        if node.op_type == "ConvTranspose":
            return np.tile(scale, attribute(node, "group", 1))
        return scale

    def _fit_to_bias(self, node, spec, scale: np.ndarray, axis) -> np.ndarray:
        bias = self._bias_value(node, spec)
        input_scale = self._input_scale(node)
        if bias is None or input_scale is None:
            return scale
        magnitude = np.abs(bias).max() if scale.ndim == 0 else np.abs(bias).reshape(-1, scale.size).max(axis=0)
        return fit_weight_scale_to_bias(magnitude, input_scale, scale)

    def _bias_value(self, node, spec) -> np.ndarray | None:
        if len(node.input) <= spec.bias or node.input[spec.bias] not in self.inits:
            return None
        init = self.inits[node.input[spec.bias]]
        return numpy_helper.to_array(init) if init.data_type == onnx.TensorProto.FLOAT else None

    def _bias(self, new_nodes: list, node: onnx.NodeProto, spec: ops.OpSpec, weight_scale: np.ndarray) -> None:
        bias, input_scale = self._bias_value(node, spec), self._input_scale(node)
        if bias is None or input_scale is None:
            return
        scale = bias_scale(input_scale, self._bias_per_channel(node, weight_scale))
        per_channel = scale.size > 1
        q, clipped = quantize_bias(bias.reshape(-1) if per_channel else bias, scale.reshape(-1) if per_channel
                                   else scale.reshape(()))
        if clipped:  # cannot happen after _fit_to_bias, unless the bias itself is not finite
            raise QuantizationError(f"bias of '{node.name or node.output[0]}' does not fit int32")
        scale = scale.reshape(-1) if per_channel else scale.reshape(())
        zp = np.zeros(scale.shape, dtype=np.int32)
        node.input[spec.bias] = self._dequantize(new_nodes, node.input[spec.bias], q, scale, zp,
                                                 0 if per_channel else None)

    def _dequantize(self, new_nodes: list, name: str, q: np.ndarray, scale, zp, axis: int | None) -> str:
        q_name, s_name, z_name = (self.names(f"{name}_{s}") for s in ("quantized", "scale", "zero_point"))
        set_initializer(self.graph, q_name, np.asarray(q))
        set_initializer(self.graph, s_name, np.asarray(scale, dtype=np.float32))
        set_initializer(self.graph, z_name, np.asarray(zp))
        out = self.names(f"{name}_dequantized")
        kwargs = {"axis": axis} if axis is not None else {}
        new_nodes.append(helper.make_node("DequantizeLinear", [q_name, s_name, z_name], [out],
                                          name=self.names(f"{name}_DequantizeLinear"), **kwargs))
        return out
