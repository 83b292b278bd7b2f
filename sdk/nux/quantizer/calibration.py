"""Calibration: measure the dynamic range of every float activation with onnxruntime (via `nux.reference`).

`build_calibration_model` appends ReduceMin and ReduceMax to every float tensor (graph inputs too) and makes
their scalar results graph outputs; the names it added are recorded in the model's metadata, so `calibrate` can
read them back. `calibrate` streams the data: per run it keeps only the running min/max (or a fixed-size
histogram for the percentile and entropy methods), so memory does not grow with the number of samples.
"""

from __future__ import annotations

import json
import sys

import onnx
from onnx import TensorProto, helper
from tqdm import tqdm

from .checks import check_input_names, check_model
from .errors import QuantizationError
from .feeds import count_runs, input_specs, iter_feeds, random_samples
from .graph import NameFactory, copy_model, expose_outputs, float_tensors
from .optimize import infer_shapes
from .ranges import METHODS, Histogram, MinMax
from .session import make_session, run

METADATA_KEY = "nux.quantizer.calibration"
RANDOM_SAMPLES = 10
PROGRESS_MIN_RUNS = 20  # fewer runs than this finish too fast to need a progress bar


def build_calibration_model(model: onnx.ModelProto, input_tensors: list[str]) -> onnx.ModelProto:
    """A copy of `model` with ReduceMin/ReduceMax (keepdims=0) outputs for every float tensor."""
    check_model(model)
    model = infer_shapes(copy_model(model))
    inputs = check_input_names(model, input_tensors)
    graph = model.graph
    names = NameFactory(graph)
    tensors = float_tensors(graph)
    table = []
    for tensor in tensors:
        outs = []
        for op in ("ReduceMin", "ReduceMax"):
            out = names(f"{tensor}_{op}")
            graph.node.append(helper.make_node(op, [tensor], [out], name=names(f"{tensor}_{op}_node"), keepdims=0))
            graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, []))
            outs.append(out)
        table.append([tensor, *outs])
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps({"inputs": inputs, "tensors": table}))
    return model


def calibrate(model: onnx.ModelProto, calibration_data, *, method: str = "minmax", percentile: float = 99.999,
              bins: int = 2048, batch_size: int = 32, progress: bool | None = None) -> dict[str, tuple[float, float]]:
    """{tensor: (min, max)} over `calibration_data`, in graph order (inputs first, outputs included).

    `model` is the output of `build_calibration_model`. `method`: "minmax" (the TFLite default), "percentile"
    (each side clipped at `percentile`) or "entropy" (KL-divergence threshold). `progress`: None shows a bar
    on a terminal for long runs, True/False force it on/off.
    """
    if method not in METHODS:
        raise QuantizationError(f"unknown calibration method '{method}'; choose one of {METHODS}")
    if not 50.0 < percentile <= 100.0:
        raise QuantizationError(f"percentile must be in (50, 100], got {percentile}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 512 or bins % 4:
        raise QuantizationError(f"bins must be a multiple of 4 and at least 512, got {bins!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise QuantizationError(f"batch_size must be a positive integer, got {batch_size!r}")
    meta = _metadata(model)
    specs = input_specs(model, meta["inputs"])
    tensors = [row[0] for row in meta["tensors"]]
    histogram = method != "minmax"
    if histogram:
        model = expose_outputs(model, tensors)
    session = make_session(model, "calibration model")
    minmax = {t: MinMax() for t in tensors}
    hists = {t: Histogram(bins) for t in tensors} if histogram else {}
    total = count_runs(calibration_data, specs, batch_size)
    bar = tqdm(iter_feeds(calibration_data, specs, batch_size), total=total, desc="calibrating", unit="run",
               disable=_hide_progress(progress, total), leave=False)
    runs = 0
    for feeds in bar:
        outputs = run(session, feeds, "calibration model")
        for tensor, lo, hi in meta["tensors"]:
            minmax[tensor].update(outputs[lo], outputs[hi])
            if histogram:
                hists[tensor].update(outputs[tensor])
        runs += 1
    if runs == 0:
        raise QuantizationError("calibration data is empty")
    if method == "percentile":
        return {t: hists[t].percentile_range(percentile) for t in tensors}
    if method == "entropy":
        return {t: hists[t].entropy_range() for t in tensors}
    return {t: minmax[t].range() for t in tensors}


def calibrate_with_random_input(model: onnx.ModelProto, *, num_samples: int = RANDOM_SAMPLES, seed: int = 0,
                                **options) -> dict[str, tuple[float, float]]:
    """`calibrate` on `num_samples` (default 10) runs of inputs drawn uniformly from [0, 1), seeded, so the
    result is reproducible. Only for testing the flow: real data gives far better ranges."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise QuantizationError(f"num_samples must be an integer >= 1, got {num_samples!r}")
    meta = _metadata(model)
    samples = random_samples(input_specs(model, meta["inputs"]), num_samples, seed)
    first = next(samples)  # validates the inputs before any work
    return calibrate(model, _chain(first, samples, num_samples), **options)


def _chain(first, rest, count: int):
    """A list-like stream: `len` for the progress bar, items produced lazily."""

    class Stream:
        def __len__(self) -> int:
            return count

        def __iter__(self):
            yield first
            yield from rest

    return Stream()


def _metadata(model: onnx.ModelProto) -> dict:
    if not isinstance(model, onnx.ModelProto):
        raise QuantizationError(f"expected an onnx.ModelProto, got {type(model).__name__}")
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    raise QuantizationError("not a calibration model: build it with nux.quantizer.build_calibration_model first")


def _hide_progress(progress: bool | None, total: int | None) -> bool:
    if progress is not None:
        return not progress
    return not sys.stderr.isatty() or (total is not None and total < PROGRESS_MIN_RUNS)

