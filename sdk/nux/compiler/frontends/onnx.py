"""ONNX front end: QDQ models (nux.quantizer, onnxruntime quantize_static) and QOperator models -> ir.Graph.

QDQ: DequantizeLinear of a constant becomes a quantized constant; DequantizeLinear of an activation is an alias
of its quantized input (nodes read the quantized tensor, whose real value is what the DequantizeLinear computed);
a node output read only by QuantizeLinear nodes with one set of parameters becomes the quantized tensor itself.
What is left (a QuantizeLinear of a tensor that is also read in float, a float op without Q/DQ) stays a node
(QuantizeLinear as "Identity" with a quantized output), so the graph means exactly what the ONNX model means.

QOperator: QLinearConv / QLinearMatMul and the com.microsoft QLinear* element-wise ops become the float op on
quantized tensors (their scale/zero-point inputs become the tensors' QParams). ConvInteger, MatMulInteger and any
other operator stay as they are, on raw integers (`raw` attribute), and run on the host.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nux.compiler.ir import CompileError, Graph, Node, QParams, Tensor
from nux.quantizer.graph import DEFAULT_DOMAINS, attribute, runtime_inputs, static_shape, value_infos

QUANT_OPS = {"QuantizeLinear", "DequantizeLinear"}
# QOperator op -> (float op, positions of (x, scale, zp) input triples, position of (scale, zp) of the output,
# positions of other inputs passed through)
QLINEAR = {
    "QLinearConv": ("Conv", [0, 3], 6, [8]),
    "QLinearMatMul": ("MatMul", [0, 3], 6, []),
    "QGemm": ("Gemm", [0, 3], 7, [6]),
    "QLinearAdd": ("Add", [0, 3], 6, []),
    "QLinearMul": ("Mul", [0, 3], 6, []),
    "QLinearSigmoid": ("Sigmoid", [0], 3, []),
    "QLinearLeakyRelu": ("LeakyRelu", [0], 3, []),
    "QLinearAveragePool": ("AveragePool", [0], 3, []),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", [0], 3, []),
}
FLOAT_HINT = ("quantize it first: `nux quantize MODEL.onnx -o MODEL.int8.onnx [--calibration DATA]` or "
              "nux.quantizer.post_training_quantization(model, input_names, calibration_data)")


def _dtype_name(elem_type: int) -> str:
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name


class _Importer:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.types = value_infos(self.graph)
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.ir = Graph(name=self.graph.name or "model")
        self.alias: dict[str, str] = {}  # DequantizeLinear output -> the quantized tensor it reads
        self.rename: dict[str, str] = {}  # IR name -> name the model's caller uses (graph inputs/outputs)
        self.absorbed: set[str] = set()  # node outputs replaced by the QuantizeLinear output that reads them
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    # ------------------------------------------------------------------ values
    def value(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def qparams(self, scale: str, zp: str | None, axis: int | None, where: str) -> tuple[QParams, str]:
        s = self.value(scale)
        z = self.value(zp) if zp else None
        if s is None or (zp and z is None):
            raise CompileError(f"{where}: scale/zero point are not constants (dynamic quantization is not supported)")
        if np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise CompileError(f"{where}: quantization scale must be finite and > 0, got {s}")
        dtype = z.dtype.name if z is not None else "uint8"
        z = np.zeros_like(s, dtype=np.int64) if z is None else z.astype(np.int64)
        if s.size == 1:
            return QParams(float(s.reshape(-1)[0]), int(z.reshape(-1)[0])), dtype
        return QParams(s.astype(np.float64), z, axis), dtype

    def tensor(self, name: str, quant: QParams | None = None, dtype: str | None = None) -> str:
        """Make sure IR tensor `name` exists (constant or activation); set its quantization if given."""
        if name in self.ir.tensors:
            t = self.ir.tensors[name]
            if quant is not None and t.quant is None:
                t.quant = quant
            return name
        data = self.value(name)
        if data is not None:
            if quant is not None and quant.axis is not None and quant.axis < 0:
                quant = QParams(quant.scale, quant.zero_point, quant.axis + data.ndim)
            self.ir.add(Tensor(name, tuple(data.shape), data.dtype.name, quant, data))
            return name
        vi = self.types.get(name)
        shape = static_shape(vi)
        if dtype is None and vi is not None and vi.type.tensor_type.elem_type:
            dtype = _dtype_name(vi.type.tensor_type.elem_type)
        self.ir.add(Tensor(name, shape, dtype or "float32", quant))
        return name

    def resolve(self, name: str) -> str:
        return self.alias.get(name, name)

    # ------------------------------------------------------------------ Q/DQ
    def dequantize(self, node: onnx.NodeProto) -> None:
        axis = attribute(node, "axis", 1)
        quant, dtype = self.qparams(node.input[1], node.input[2] if len(node.input) > 2 else None, axis, node.name)
        self.tensor(self.resolve(node.input[0]), quant, dtype)
        self.alias[node.output[0]] = self.resolve(node.input[0])

    def absorbable_q(self, name: str) -> onnx.NodeProto | None:
        """The QuantizeLinear that `name` is quantized by, when every reader is such a node with equal params."""
        readers = self.consumers.get(name, [])
        if not readers or any(r.op_type != "QuantizeLinear" for r in readers):
            return None
        if name in {o.name for o in self.graph.output}:
            return None
        first = readers[0]
        same = all(list(r.input[1:]) == list(first.input[1:]) for r in readers)
        return first if same else None

    def quantize(self, node: onnx.NodeProto, source: str, output: str) -> None:
        quant, dtype = self.qparams(node.input[1], node.input[2] if len(node.input) > 2 else None,
                                    attribute(node, "axis", 1), node.name)
        if not quant.per_tensor:
            raise CompileError(f"{node.name}: per-axis quantization of an activation is not supported")
        self.tensor(source)
        self.ir.add(Tensor(output, self.ir[source].shape, dtype, quant))
        self.ir.nodes.append(Node(node.name, "Identity", [source], [output]))

    # ------------------------------------------------------------------ nodes
    def run(self) -> Graph:
        self.inputs()
        for i, node in enumerate(self.graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{i}"
            self.node(node)
        self.outputs()
        for ir_name, model_name in self.rename.items():
            _rename(self.ir, ir_name, model_name)
        self.ir.remove_unused()
        return self.ir

    def inputs(self) -> None:
        for vi in runtime_inputs(self.graph):
            q = self.absorbable_q(vi.name)
            self.ir.io_dtypes[vi.name] = _dtype_name(vi.type.tensor_type.elem_type)
            if q is not None:
                quant, dtype = self.qparams(q.input[1], q.input[2] if len(q.input) > 2 else None, None, q.name)
                self.ir.add(Tensor(q.output[0], static_shape(vi), dtype, quant))
                for other in self.consumers[vi.name][1:]:
                    self.alias[other.output[0]] = q.output[0]
                self.ir.inputs.append(q.output[0])
                self.rename[q.output[0]] = vi.name
            else:
                self.ir.inputs.append(self.tensor(vi.name))

    def outputs(self) -> None:
        for vi in self.graph.output:
            name = self.resolve(vi.name)
            if name not in self.ir.tensors:
                raise CompileError(f"graph output {vi.name!r} is not computed by any node")
            if self.ir[name].shape is None:  # e.g. made by a com.microsoft op that onnx cannot infer
                self.ir[name].shape = static_shape(vi)
            self.ir.outputs.append(name)
            self.ir.io_dtypes[vi.name] = _dtype_name(vi.type.tensor_type.elem_type)
            if name != vi.name:
                self.rename[name] = vi.name

    def node(self, node: onnx.NodeProto) -> None:
        if node.op_type == "Constant":
            self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t) \
                if node.attribute[0].type == onnx.AttributeProto.TENSOR else np.array(
                    helper.get_attribute_value(node.attribute[0]))
            return
        if node.op_type == "DequantizeLinear" and node.domain in DEFAULT_DOMAINS:
            return self.dequantize(node)
        if all(n in self.consts for n in node.input if n) and node.domain in DEFAULT_DOMAINS:
            return self.fold(node)
        if node.op_type == "QuantizeLinear" and node.domain in DEFAULT_DOMAINS:
            source = self.resolve(node.input[0])
            if any(o == node.output[0] for o in self.ir.inputs) or source in self.absorbed:
                return  # absorbed: a graph input, or the output of a node already renamed
            if node.output[0] in self.ir.tensors:
                return
            return self.quantize(node, source, node.output[0])
        if node.op_type in QLINEAR and node.domain in (*DEFAULT_DOMAINS, "com.microsoft") and not attribute(
                node, "channels_last", 0):  # channels_last pools read NHWC data: kept as raw nodes
            return self.qlinear(node)
        self.plain(node)

    def fold(self, node: onnx.NodeProto) -> None:
        """A node of constants only (a weight Reshape, a QuantizeLinear of a weight): evaluate it now."""
        from onnx.reference import ReferenceEvaluator

        feeds = {n: self.consts[n] for n in node.input if n}
        if sum(v.size for v in feeds.values()) > 1 << 26:
            raise CompileError(f"node {node.name!r} ({node.op_type}) folds constants larger than 64 M elements")
        model = helper.make_model(helper.make_graph(
            [node], "fold", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                             for n, v in feeds.items()],
            [helper.make_empty_tensor_value_info(o) for o in node.output if o]), opset_imports=self.model.opset_import)
        try:
            values = ReferenceEvaluator(model).run(None, feeds)
        except Exception as exc:  # noqa: BLE001 - the reference evaluator raises many types
            raise CompileError(f"node {node.name!r} ({node.op_type}) on constants cannot be evaluated: {exc}"
                               ) from None
        for name, value in zip([o for o in node.output if o], values, strict=True):
            self.consts[name] = np.asarray(value)

    def plain(self, node: onnx.NodeProto) -> None:
        inputs = [self.tensor(self.resolve(n)) if n else "" for n in node.input]
        outputs = []
        for out in node.output:
            q = self.absorbable_q(out) if out else None
            if q is None:
                outputs.append(self.tensor(out) if out else "")
                continue
            quant, dtype = self.qparams(q.input[1], q.input[2] if len(q.input) > 2 else None, None, q.name)
            shape = static_shape(self.types.get(out)) or static_shape(self.types.get(q.output[0]))
            self.ir.add(Tensor(q.output[0], shape, dtype, quant))
            for other in self.consumers[out][1:]:
                self.alias[other.output[0]] = q.output[0]
            self.absorbed.add(out)
            outputs.append(q.output[0])
        raw = node.domain not in DEFAULT_DOMAINS or node.op_type in ("ConvInteger", "MatMulInteger")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.ir.nodes.append(Node(node.name, node.op_type, inputs, outputs, attrs, node.domain,
                                  raw=raw))

    def qlinear(self, node: onnx.NodeProto) -> None:
        op, triples, out_at, passthrough = QLINEAR[node.op_type]
        ins = list(node.input)
        inputs = []
        weight_axis = {"Conv": 0, "MatMul": 1, "Gemm": 0 if attribute(node, "transB", 0) else 1}.get(op)
        for at in triples:
            axis = weight_axis if at == 3 else None
            quant, dtype = self.qparams(ins[at + 1], ins[at + 2] if len(ins) > at + 2 else None, axis, node.name)
            inputs.append(self.tensor(self.resolve(ins[at]), quant, dtype))
        for at in passthrough:
            if len(ins) > at and ins[at]:
                inputs.append(self.bias(ins[at], inputs))
        out_quant, out_dtype = self.qparams(ins[out_at], ins[out_at + 1] if len(ins) > out_at + 1 else None, None,
                                            node.name)
        out = self.tensor(node.output[0], out_quant, out_dtype)
        self.ir[out].dtype = out_dtype
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.ir.nodes.append(Node(node.name, op, inputs, [out], attrs))

    def bias(self, name: str, inputs: list[str]) -> str:
        """QLinearConv's int32 bias: scale x_scale * w_scale, zero point 0."""
        x, w = self.ir[inputs[0]].quant, self.ir[inputs[1]].quant
        scale = x.scalar_scale * np.asarray(w.scale, dtype=np.float64)
        zp = np.zeros(np.size(scale), dtype=np.int64)
        quant = QParams(float(scale), 0) if np.size(scale) == 1 else QParams(scale, zp, 0)
        return self.tensor(name, quant)


def _rename(graph: Graph, old: str, new: str) -> None:
    if old == new:
        return
    if new in graph.tensors and new not in (graph.inputs + graph.outputs):
        del graph.tensors[new]  # the float twin of a quantized input/output: nothing reads it any more
    tensor = graph.tensors.pop(old)
    tensor.name = new
    graph.tensors[new] = tensor
    for node in graph.nodes:
        node.inputs = [new if n == old else n for n in node.inputs]
        node.outputs = [new if n == old else n for n in node.outputs]
    graph.inputs = [new if n == old else n for n in graph.inputs]
    graph.outputs = [new if n == old else n for n in graph.outputs]


def is_quantized(model: onnx.ModelProto) -> bool:
    ops = {n.op_type for n in model.graph.node}
    return bool(ops & (QUANT_OPS | set(QLINEAR) | {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}))


def import_onnx(model: onnx.ModelProto) -> Graph:
    """The IR of a shape-inferred quantized ONNX model (QDQ or QOperator)."""
    if not is_quantized(model):
        raise CompileError(f"the model is float32 (no QuantizeLinear/DequantizeLinear or QLinear* operators); "
                           f"{FLOAT_HINT}")
    for func in model.functions:
        raise CompileError(f"model-local functions are not supported (function {func.name!r}); inline them first")
    graph = _Importer(model).run()
    graph.opset = next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), 13)
    graph.extra_opsets = {o.domain: o.version for o in model.opset_import if o.domain not in DEFAULT_DOMAINS}
    return graph
