"""How each operator is quantized in QDQ form (DequantizeLinear -> op -> QuantizeLinear), per the TFLite int8
specification. Operators not listed stay in float: they read the dequantized values of quantized tensors, which
is what a host fallback does, so nothing is silently wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .params import QParams


class Output(Enum):
    CALIBRATED = "calibrated"  # output params from its own calibrated range
    SHARED = "shared"  # output keeps the input's params (TFLite "same scale as input" restriction)
    FIXED = "fixed"  # output params fixed by the specification, whatever the calibration says


@dataclass(frozen=True)
class OpSpec:
    """`inputs`: indices of float data inputs that are quantized (None: all). `channel_axis`: weight input 1 is
    quantized per output channel along this axis when constant. `bias`: index of an int32 bias input."""

    output: Output = Output.CALIBRATED
    inputs: tuple[int, ...] | None = (0,)
    channel_axis: int | None = None
    bias: int | None = None
    fixed: QParams | None = None


ALL = None
SOFTMAX_Q = QParams(1.0 / 256.0, -128)  # TFLite: Softmax and Logistic output [0, 1)
TANH_Q = QParams(1.0 / 128.0, 0)  # TFLite: Tanh and L2Normalization output [-1, 1)

SPECS: dict[str, OpSpec] = {
    "Conv": OpSpec(inputs=(0, 1), channel_axis=0, bias=2),
    "ConvTranspose": OpSpec(inputs=(0, 1), channel_axis=1, bias=2),
    "Gemm": OpSpec(inputs=(0, 1), bias=2),
    "MatMul": OpSpec(inputs=(0, 1)),
    "Add": OpSpec(inputs=ALL),
    "Sub": OpSpec(inputs=ALL),
    "Mul": OpSpec(inputs=ALL),
    "Mean": OpSpec(inputs=ALL),
    "Relu": OpSpec(),
    "Clip": OpSpec(),  # min/max inputs are parameters, not data
    "Exp": OpSpec(),
    "Softplus": OpSpec(),
    "ReduceSum": OpSpec(),
    "ReduceL2": OpSpec(),
    "ReduceMean": OpSpec(),
    "GlobalAveragePool": OpSpec(),
    "Sigmoid": OpSpec(Output.FIXED, fixed=SOFTMAX_Q),
    "Softmax": OpSpec(Output.FIXED, fixed=SOFTMAX_Q),
    "Tanh": OpSpec(Output.FIXED, fixed=TANH_Q),
    "LpNormalization": OpSpec(Output.FIXED, fixed=TANH_Q),
    "MaxPool": OpSpec(Output.SHARED),
    "AveragePool": OpSpec(Output.SHARED),
    "Concat": OpSpec(Output.SHARED, inputs=ALL),
    "Reshape": OpSpec(Output.SHARED),
    "Flatten": OpSpec(Output.SHARED),
    "Transpose": OpSpec(Output.SHARED),
    "Squeeze": OpSpec(Output.SHARED),
    "Unsqueeze": OpSpec(Output.SHARED),
    "Expand": OpSpec(Output.SHARED),
    "Slice": OpSpec(Output.SHARED),
    "Split": OpSpec(Output.SHARED),
    "Pad": OpSpec(Output.SHARED),  # its constant_value input joins the shared range (see qdq.py)
    "DepthToSpace": OpSpec(Output.SHARED),
    "SpaceToDepth": OpSpec(Output.SHARED),
}

# Producers whose following Relu/Clip the compiler fuses: the tensor between them is never quantized, so the
# activation's output params clamp the accumulator (TFLite's fused activation).
FUSES_ACTIVATION = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
ACTIVATIONS = {"Relu", "Clip"}


def data_inputs(node, spec: OpSpec) -> list[int]:
    """Indices of the inputs of `node` that `spec` quantizes (empty names skipped)."""
    indices = range(len(node.input)) if spec.inputs is None else spec.inputs
    return [i for i in indices if i < len(node.input) and node.input[i]]
