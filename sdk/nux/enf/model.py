"""What an ENF executable holds, as Python values. The binary format (format.py) reads and writes these.

An ENF is self-describing: the NpuConfig it targets, one or more NPU programs, constants, a tensor table that
says where each input/output lives in the task's arena, the memory plan, optional host-fallback ONNX subgraphs,
and the order in which NPU programs and host graphs run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from nux.errors import NuxError
from nux.isa import NpuConfig


class EnfError(NuxError):
    """An ENF file is malformed, truncated, corrupted, of another version, or inconsistent."""


class TensorRole(enum.IntEnum):
    INPUT = 0
    OUTPUT = 1
    INTERNAL = 2  # exchanged between NPU programs and host graphs


class DType(enum.IntEnum):
    INT8 = 0
    UINT8 = 1
    INT32 = 2
    FLOAT32 = 3

    @property
    def numpy(self) -> np.dtype:
        return np.dtype({0: np.int8, 1: np.uint8, 2: np.int32, 3: np.float32}[int(self)])


class Layout(enum.IntEnum):
    """How a tensor's elements are laid out in the arena."""

    PLAIN = 0  # row-major in the order of `shape` (as numpy.tobytes())
    NHWC = 1  # logical shape is NCHW; stored N, H, W, C
    ROWS = 2  # stored as rows of `dim` lanes: the last axis padded up to a multiple of dim


class StepKind(enum.IntEnum):
    NPU = 0  # run programs[index] on the NPU
    HOST = 1  # run host_graphs[index] with onnxruntime


@dataclass(frozen=True)
class TensorInfo:
    name: str
    role: TensorRole
    dtype: DType
    shape: tuple[int, ...]
    offset: int  # byte offset in the arena
    size: int  # bytes occupied in the arena
    scale: float = 1.0  # quantization: real = scale * (q - zero_point)
    zero_point: int = 0
    layout: Layout = Layout.PLAIN


@dataclass(frozen=True)
class Program:
    code: bytes  # assembled instructions (multiple of 32 bytes)
    offset: int  # byte offset of the code in the arena (32-byte aligned)
    name: str = ""


@dataclass(frozen=True)
class HostGraph:
    onnx: bytes  # a serialized onnx.ModelProto run by onnxruntime on the host
    inputs: tuple[str, ...]  # tensor-table names it reads
    outputs: tuple[str, ...]  # tensor-table names it writes


@dataclass(frozen=True)
class Step:
    kind: StepKind
    index: int


@dataclass
class Enf:
    config: NpuConfig
    programs: list[Program]
    tensors: list[TensorInfo]
    arena_size: int
    consts: bytes = b""
    const_offset: int = 0
    host_graphs: list[HostGraph] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # empty: run programs in order
    meta: dict = field(default_factory=dict)  # informational JSON (compiler version, source model, ...)

    def inputs(self) -> list[TensorInfo]:
        return [t for t in self.tensors if t.role == TensorRole.INPUT]

    def outputs(self) -> list[TensorInfo]:
        return [t for t in self.tensors if t.role == TensorRole.OUTPUT]

    def run_steps(self) -> list[Step]:
        return self.steps or [Step(StepKind.NPU, i) for i in range(len(self.programs))]
