"""Reference executors: what nux's integer results are compared against, independent of the host CPU.

ONNX: onnxruntime with every graph optimization off (`ORT_DISABLE_ALL`). At `ORT_ENABLE_EXTENDED`/`ORT_ENABLE_ALL`
onnxruntime fuses QuantizeLinear/DequantizeLinear pairs into its integer kernels (QLinearConv, MatMulIntegerToFloat,
...). On x86 CPUs without VNNI those kernels multiply u8 x s8 pairs with `vpmaddubsw`, whose int16 sums saturate:
the guide's ExampleNet then measures 10.2 dB output SNR instead of 34.5 dB (AMD EPYC, AVX2 only, onnxruntime 1.31.1
and 1.32.0). With optimizations off, a QDQ model runs as float-simulated quantization -- the ONNX semantics of the
model -- and gives the same figure on every CPU. docs/quantizer.md has the measurements.

TFLite: ai-edge-litert's interpreter with the reference kernels (`BUILTIN_REF`), not the default resolver that adds
the XNNPACK delegate and CPU-specific optimized kernels.

Every place that executes a quantized model as a reference (quantizer report and calibration checks, tests,
benchmarks, the compiler's checks) goes through this module, so there is one definition of "the reference".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx

from nux.errors import NuxError

#: The onnxruntime optimization level every reference session uses (see the module docstring for why).
REFERENCE_OPT_LEVEL_NAME = "ORT_DISABLE_ALL"


class ReferenceError(NuxError):
    """A reference executor could not load or run a model."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _model_bytes(model: onnx.ModelProto | bytes | str | os.PathLike) -> bytes:
    if isinstance(model, onnx.ModelProto):
        return model.SerializeToString()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


def onnx_session(model: onnx.ModelProto | bytes | str | os.PathLike, *, what: str = "model",
                 optimization: str = REFERENCE_OPT_LEVEL_NAME):
    """An onnxruntime CPU session that executes QDQ as float-simulated quantization on any CPU.

    `what` names the model in the error message ("calibration model", "quantized model", ...). `optimization` is
    an `onnxruntime.GraphOptimizationLevel` name; anything but the default is not a reference and exists only to
    measure what onnxruntime's fused kernels do on this CPU (benchmarks/quantizer.py)."""
    import onnxruntime as ort

    level = getattr(ort.GraphOptimizationLevel, optimization, None)
    if not isinstance(level, ort.GraphOptimizationLevel):
        raise ReferenceError(f"unknown onnxruntime optimization level {optimization!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(_model_bytes(model), options, providers=["CPUExecutionProvider"])
    except OSError as exc:
        raise ReferenceError(f"cannot read the {what}: {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated exception types
        raise ReferenceError(f"onnxruntime cannot load the {what}: {_first_line(exc)}") from None


def run_session(session, feeds: Mapping[str, np.ndarray], *, outputs: Sequence[str] | None = None,
                what: str = "model") -> dict[str, np.ndarray]:
    """Run an `onnx_session` and return its outputs by name."""
    names = list(outputs) if outputs is not None else [o.name for o in session.get_outputs()]
    try:
        values = session.run(names, dict(feeds))
    except Exception as exc:  # noqa: BLE001
        raise ReferenceError(f"onnxruntime failed running the {what}: {_first_line(exc)}") from None
    return dict(zip(names, values, strict=True))


def run_onnx(model: onnx.ModelProto | bytes | str | os.PathLike, feeds: Mapping[str, np.ndarray], *,
             outputs: Sequence[str] | None = None, what: str = "model") -> dict[str, np.ndarray]:
    """Execute an ONNX model (float or QDQ) once as the reference; outputs by name."""
    return run_session(onnx_session(model, what=what), feeds, outputs=outputs, what=what)


def tflite_interpreter(model: bytes | str | os.PathLike):
    """An ai-edge-litert interpreter with TFLite's reference kernels, tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # pragma: no cover - ai-edge-litert is a dev dependency
        raise ReferenceError("the TFLite reference needs ai-edge-litert (pip install ai-edge-litert)") from None
    try:
        content = bytes(model) if isinstance(model, (bytes, bytearray, memoryview)) else Path(model).read_bytes()
        interpreter = Interpreter(model_content=content,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        interpreter.allocate_tensors()
    except Exception as exc:  # noqa: BLE001 - the interpreter raises ValueError/RuntimeError on bad models
        raise ReferenceError(f"TFLite cannot load the model: {_first_line(exc)}") from None
    return interpreter


def run_tflite(model: bytes | str | os.PathLike, feeds: Mapping[str, np.ndarray] | Sequence[np.ndarray]
               ) -> dict[str, np.ndarray]:
    """Execute a TFLite flatbuffer with the reference kernels; `feeds` by input name or in input order."""
    interpreter = tflite_interpreter(model)
    details = interpreter.get_input_details()
    if isinstance(feeds, Mapping):
        missing = [d["name"] for d in details if d["name"] not in feeds]
        if missing:
            raise ReferenceError(f"TFLite model inputs not given: {', '.join(missing)}")
        values = [feeds[d["name"]] for d in details]
    else:
        values = list(feeds)
        if len(values) != len(details):
            raise ReferenceError(f"TFLite model has {len(details)} inputs, {len(values)} given")
    try:
        for detail, value in zip(details, values, strict=True):
            interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        interpreter.invoke()
    except Exception as exc:  # noqa: BLE001
        raise ReferenceError(f"TFLite failed running the model: {_first_line(exc)}") from None
    return {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}
