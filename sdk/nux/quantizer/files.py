"""Calibration data from files, for the CLI: one .npz (a batch: {input name: array}) or a folder of .npz/.npy
files read one at a time (streaming: only one file is in memory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import QuantizationError


class _Folder:
    """A list-like stream of samples: `len` for the progress bar, files loaded lazily."""

    def __init__(self, files: list[Path], inputs: list[str]) -> None:
        self.files, self.inputs = files, inputs

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self):
        for path in self.files:
            yield _load(path, self.inputs)


def load_calibration_data(path: str | Path, inputs: list[str]):
    """A `.npz` file -> dict of batched arrays; a folder -> lazily loaded samples, one per .npz/.npy file.

    A `.npy` file, or a `.npz` holding one unnamed array (`arr_0`), is taken as the model's only input."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".npz", ".npy"))
        if not files:
            raise QuantizationError(f"calibration folder {path} holds no .npz or .npy files")
        return _Folder(files, inputs)
    if not path.is_file():
        raise QuantizationError(f"calibration data {path} not found")
    if path.suffix not in (".npz", ".npy"):
        raise QuantizationError(f"calibration data {path} is neither a .npz/.npy file nor a folder")
    return _load(path, inputs)


def _load(path: Path, inputs: list[str]) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise QuantizationError(f"cannot read calibration file {path}: {exc}") from None
    if isinstance(loaded, np.ndarray):
        arrays = {"arr_0": loaded}
    else:
        with loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    if len(inputs) == 1 and list(arrays) == ["arr_0"]:
        return {inputs[0]: arrays["arr_0"]}
    return arrays
