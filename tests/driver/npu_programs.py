"""Small hand-written programs and ENFs for the driver tests (built for any NpuConfig)."""

from __future__ import annotations

import math

import numpy as np
from nux.enf import DType, Enf, Layout, Program, Step, StepKind, TensorInfo, TensorRole, tensor_nbytes
from nux.golden.programs import copy_program
from nux.isa import TEST_CONFIGS, NpuConfig, assemble

#: the config most tests use (small, so simulation stays fast)
DEFAULT_CONFIG: NpuConfig = TEST_CONFIGS[1]


def copy_enf(
    config: NpuConfig,
    shape: tuple[int, ...],
    dtype: DType = DType.INT8,
    layout: Layout = Layout.PLAIN,
    name: str = "copy",
    host_step: bool = False,
) -> Enf:
    """An ENF whose one program copies input 'x' to output 'y' byte for byte (same shape, dtype, layout)."""
    d = config.dim
    nbytes = tensor_nbytes(dtype, layout, shape, d)
    rows = math.ceil(nbytes / d)
    span = rows * d
    code = assemble(copy_program(config, 4096, 4096 + span, rows))
    tensors = [
        TensorInfo("x", TensorRole.INPUT, dtype, shape, 4096, nbytes, layout=layout),
        TensorInfo("y", TensorRole.OUTPUT, dtype, shape, 4096 + span, nbytes, layout=layout),
    ]
    steps = [Step(StepKind.NPU, 0)]
    host_graphs = []
    if host_step:
        from nux.enf import HostGraph

        host_graphs = [HostGraph(b"not needed: the driver refuses before running", ("y",), ("x",))]
        steps.append(Step(StepKind.HOST, 0))
    return Enf(
        config=config,
        programs=[Program(code, 0, name)],
        tensors=tensors,
        arena_size=4096 + 2 * span,
        host_graphs=host_graphs,
        steps=steps,
        meta={"name": name},
    )


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: DType) -> np.ndarray:
    info = np.iinfo(dtype.numpy) if dtype != DType.FLOAT32 else None
    if info is None:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype.numpy)
