"""Calibration data: validation against the model's inputs and splitting into the batches the model accepts.

Accepted forms (the guide's `Union[Dict[str, np.ndarray], List[Dict[str, np.ndarray]]]`, plus any iterable of
dicts so data can be streamed from disk):

* a dict {input name: array}: a batch of samples along axis 0. If the model's first dimension is fixed to b,
  the arrays are cut into runs of b samples (their first dimension must be a multiple of b); if it is dynamic,
  into runs of at most `batch_size` samples;
* a list (or generator) of such dicts, each handled as above, one at a time.

Arrays must have the model's dtype and rank, and every fixed dimension but the first must match.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from .checks import check_elements
from .errors import QuantizationError
from .graph import dims, elem_type, runtime_inputs


@dataclass(frozen=True)
class InputSpec:
    name: str
    dtype: np.dtype
    dims: tuple  # int for fixed, str or None for dynamic

    def shape_text(self) -> str:
        return "(" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in self.dims) + ")"


def input_specs(model: onnx.ModelProto, names: list[str]) -> list[InputSpec]:
    infos = {vi.name: vi for vi in runtime_inputs(model.graph)}
    specs = []
    for name in names:
        vi = infos.get(name)
        if vi is None:
            raise QuantizationError(f"input '{name}' is not a runtime input of the calibration model")
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type(vi)))
        except (KeyError, ValueError, TypeError):  # onnx raises a different one per kind of unknown code
            raise QuantizationError(f"input '{name}' has element type {elem_type(vi)}, which has no NumPy "
                                    "equivalent") from None
        specs.append(InputSpec(name, dtype, tuple(dims(vi))))
    return specs


def count_runs(data, specs: list[InputSpec], batch_size: int) -> int | None:
    """How many runs `data` makes, when that is known without reading it (for the progress bar)."""
    if isinstance(data, dict):
        return len(_split(data, specs, batch_size))
    if isinstance(data, list | tuple):
        return len(data)
    return None


def iter_feeds(data, specs: list[InputSpec], batch_size: int = 32) -> Iterator[dict[str, np.ndarray]]:
    """Validated onnxruntime feeds, one run at a time (a generator: nothing is read ahead)."""
    if isinstance(data, dict):
        yield from _split(data, specs, batch_size)
        return
    if data is None or isinstance(data, str | bytes | np.ndarray) or not isinstance(data, Iterable):
        raise QuantizationError(
            "calibration data must be a dict {input name: array} or a list of such dicts, "
            f"got {type(data).__name__}")
    for index, sample in enumerate(data):
        if not isinstance(sample, dict):
            raise QuantizationError(f"calibration sample {index} is a {type(sample).__name__}, not a dict")
        yield from _split(sample, specs, batch_size, where=f" (sample {index})")


def _split(sample: dict, specs: list[InputSpec], batch_size: int, where: str = "") -> list[dict[str, np.ndarray]]:
    check_sample(sample, specs, where)
    first = specs[0]
    if not first.dims:
        return [dict(sample)]
    # each input is cut by its own first dimension (a MatMul's two inputs need not share it): a fixed one is
    # one sample per run, a dynamic one holds up to batch_size samples of one row each
    rows = {s.name: s.dims[0] if s.dims and isinstance(s.dims[0], int) and s.dims[0] > 0 else 1 for s in specs}
    per_run = 1 if rows[first.name] > 1 or isinstance(first.dims[0], int) and first.dims[0] > 0 else batch_size
    samples = sample[first.name].shape[0] // rows[first.name]
    return [{k: v[i * rows[k]:(i + per_run) * rows[k]] if np.ndim(v) else v for k, v in sample.items()}
            for i in range(0, samples, per_run)]


def check_sample(sample: dict, specs: list[InputSpec], where: str = "") -> None:
    expected = [s.name for s in specs]
    unknown = [k for k in sample if k not in expected]
    if unknown:
        raise QuantizationError(f"calibration data{where} has {unknown}, not inputs of the model {expected}")
    missing = [k for k in expected if k not in sample]
    if missing:
        raise QuantizationError(f"calibration data{where} lacks input(s) {missing}")
    counts = set()
    for spec in specs:
        array = sample[spec.name]
        if not isinstance(array, np.ndarray):
            raise QuantizationError(f"calibration data '{spec.name}'{where} is a {type(array).__name__}, "
                                    "not a numpy array")
        if array.dtype != spec.dtype:
            raise QuantizationError(f"calibration array '{spec.name}'{where} has dtype {array.dtype}; "
                                    f"the model expects {spec.dtype}")
        bad_rank = array.ndim != len(spec.dims)
        bad_dim = any(isinstance(d, int) and d != s for d, s in zip(spec.dims[1:], array.shape[1:], strict=False))
        batch = spec.dims[0] if spec.dims else None
        bad_batch = isinstance(batch, int) and batch > 0 and (array.shape[0] % batch or array.shape[0] == 0)
        if bad_rank or bad_dim or bad_batch:
            raise QuantizationError(
                f"calibration array '{spec.name}'{where} has shape {tuple(array.shape)}; the model expects "
                f"{spec.shape_text()} (the first dimension may be a multiple of it: a batch)")
        if spec.dims:
            counts.add(array.shape[0] // batch if isinstance(batch, int) and batch > 0 else array.shape[0])
    if len(counts) > 1:
        raise QuantizationError(f"calibration arrays{where} hold different numbers of samples: {sorted(counts)}")


def random_samples(specs: list[InputSpec], count: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """`count` runs of float inputs drawn uniformly from [0, 1) (the guide's random calibration)."""
    for spec in specs:
        dynamic = [i for i, d in enumerate(spec.dims) if not isinstance(d, int) or d <= 0]
        if dynamic:
            raise QuantizationError(
                f"input '{spec.name}' has dynamic dimension(s) at axis {dynamic} (shape {spec.shape_text()}); "
                "random calibration needs fixed shapes: give calibration data instead")
        if spec.dtype != np.float32:
            raise QuantizationError(
                f"input '{spec.name}' is {spec.dtype}; random calibration only generates float32 inputs: "
                "give calibration data instead")
        check_elements(f"input '{spec.name}'", spec.dims)  # before allocating it
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield {spec.name: rng.random(spec.dims, dtype=np.float32) for spec in specs}
