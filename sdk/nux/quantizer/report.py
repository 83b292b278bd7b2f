"""Per-tensor quantization error: SNR in dB between the float model and its QDQ model, both run by onnxruntime.

Both models run through `nux.reference` (graph optimizations off): onnxruntime's fused integer kernels would
measure the host CPU's int8 arithmetic (they saturate without VNNI), not the quantization error of the model.

The QDQ model is read generically (any QuantizeLinear -> DequantizeLinear pair), so the report also works on
onnxruntime's quantize_static output. A tensor X of the float model is compared with the DequantizeLinear output
that stands for it, i.e. with what the next operator of the quantized model reads. Pass the optimized float
model (the one that was quantized) to see every tensor; with the original model only shared names match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from .errors import QuantizationError
from .feeds import input_specs, iter_feeds, random_samples
from .graph import all_tensor_names, expose_outputs, graph_output_names, runtime_inputs
from .session import make_session, run


@dataclass
class TensorError:
    name: str
    signal: float = 0.0  # sum of squares of the float values
    noise: float = 0.0  # sum of squares of (float - quantized)

    @property
    def snr_db(self) -> float:
        if self.noise == 0.0:
            return float("inf")
        if self.signal == 0.0:
            return float("-inf")
        return float(10.0 * np.log10(self.signal / self.noise))


@dataclass
class QuantizationReport:
    tensors: list[TensorError] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    runs: int = 0

    def snr(self) -> dict[str, float]:
        return {t.name: t.snr_db for t in self.tensors}

    def __str__(self) -> str:
        width = max([len(t.name) for t in self.tensors] + [6])
        lines = [f"{'tensor':<{width}}  {'SNR dB':>8}", "-" * (width + 10)]
        for t in self.tensors:
            mark = "  (graph output)" if t.name in self.outputs else ""
            lines.append(f"{t.name:<{width}}  {t.snr_db:8.2f}{mark}")
        lines.append(f"{self.runs} run(s); SNR = 10 log10(sum x^2 / sum (x - x_q)^2) over all runs")
        return "\n".join(lines)


def quantization_report(float_model: onnx.ModelProto, quantized_model: onnx.ModelProto, data=None, *,
                        num_samples: int = 10, seed: int = 0, batch_size: int = 32) -> QuantizationReport:
    """SNR of every quantized tensor (and every graph output) over `data` (calibration-data forms; random
    uniform [0, 1) inputs, `num_samples` runs, when None)."""
    pairs = _tensor_pairs(float_model, quantized_model)
    if not pairs:
        raise QuantizationError("no tensor of the float model is quantized in the second model")
    names = [vi.name for vi in runtime_inputs(float_model.graph)]
    specs = input_specs(float_model, names)
    float_session = make_session(expose_outputs(float_model, list(pairs)), "float model")
    quant_session = make_session(expose_outputs(quantized_model, list(pairs.values())), "quantized model")
    report = QuantizationReport([TensorError(n) for n in pairs], sorted(graph_output_names(float_model.graph)))
    source = random_samples(specs, num_samples, seed) if data is None else data
    for feeds in iter_feeds(source, specs, batch_size):
        ref = run(float_session, feeds, "float model")
        got = run(quant_session, feeds, "quantized model")
        for entry in report.tensors:
            x = ref[entry.name].astype(np.float64)
            y = got[pairs[entry.name]].astype(np.float64)
            entry.signal += float(np.sum(x * x))
            entry.noise += float(np.sum((x - y) ** 2))
        report.runs += 1
    return report


def _tensor_pairs(float_model: onnx.ModelProto, quantized_model: onnx.ModelProto) -> dict[str, str]:
    """{float tensor: the quantized model's tensor standing for it}, in the quantized graph's order."""
    for model in (float_model, quantized_model):
        if not isinstance(model, onnx.ModelProto):
            raise QuantizationError(f"expected an onnx.ModelProto, got {type(model).__name__}")
    known = all_tensor_names(float_model.graph)
    q_nodes = {n.output[0]: n for n in quantized_model.graph.node if n.op_type == "QuantizeLinear"}
    pairs = {}
    for node in quantized_model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in q_nodes:
            continue
        source, target = q_nodes[node.input[0]].input[0], node.output[0]
        name = source if source in known else target if target in known else None
        if name is not None:
            pairs.setdefault(name, target)
    for out in graph_output_names(float_model.graph):
        if out in graph_output_names(quantized_model.graph):
            pairs.setdefault(out, out)
    return pairs

