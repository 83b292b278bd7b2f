"""What a lowering works with: activations in device DRAM, the Emitter it writes into, the cost it reports.

A lowering turns one operator with fully resolved integer parameters into NPU instructions. It reads its inputs
from DRAM and leaves its outputs in DRAM, with every queue quiescent at its end (the layer ends with SYNC), so the
compiler concatenates layers into one program followed by END. Inside a layer all of SP, ACC, the LUT and the
weight registers are the layer's own, and its dependency tokens balance to zero.

The compiler's memory plan sits behind `Emitter.const` / `Emitter.scratch`; `ArenaEmitter` is the simple bump
allocator the lowering tests (and small tools) use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np

from nux.errors import NuxError
from nux.isa import ISA_VERSION, Instr, NpuConfig

ALIGN = 64


class Unsupported(NuxError):
    """An operator case the NPU cannot compute exactly; the compiler runs it on the host, citing `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LoweringError(NuxError):
    """A lowering got inconsistent arguments (shapes, dtypes, offsets): a compiler bug, not a host fallback."""


@dataclass(frozen=True)
class ActTensor:
    """An int8/uint8 activation in device DRAM: arena byte `offset`, logical `shape` (NCHW for 4-D).

    4-D tensors are stored NHWC (channels contiguous, unpadded), everything else row-major: exactly what an ENF
    TensorInfo with Layout.NHWC / PLAIN describes.
    """

    offset: int
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        if self.dtype not in ("int8", "uint8"):
            raise LoweringError(f"activations are int8 or uint8, got {self.dtype}")
        lo, hi = (-128, 127) if self.signed else (0, 255)
        if not lo <= self.zero_point <= hi:
            raise LoweringError(f"zero point {self.zero_point} does not fit {self.dtype}")
        if self.offset < 0 or min(self.shape, default=1) < 1:
            raise LoweringError(f"bad activation offset {self.offset} or shape {self.shape}")

    @property
    def signed(self) -> bool:
        return self.dtype == "int8"

    @property
    def nbytes(self) -> int:
        return prod(self.shape)

    @property
    def zp_byte(self) -> int:
        """The zero point as the raw byte an instruction field holds."""
        return self.zero_point & 0xFF

    @property
    def nhwc(self) -> tuple[int, int, int, int]:
        """(N, H, W, C) of a 4-D tensor: the order of its bytes in DRAM."""
        if len(self.shape) != 4:
            raise LoweringError(f"expected a 4-D activation, got shape {self.shape}")
        n, c, h, w = self.shape
        return n, h, w, c

    @property
    def qrange(self) -> tuple[int, int]:
        return (-128, 127) if self.signed else (0, 255)


@dataclass
class LayerCost:
    """What a layer costs: MACs of useful work, array rows streamed, DMA bytes, instructions, modelled cycles.

    `predicted_cycles` comes from the timing model in docs/compiler_lowering.md ("Performance model").
    """

    macs: int = 0
    predicted_cycles: int = 0
    array_rows: int = 0
    load_bytes: int = 0
    store_bytes: int = 0
    instructions: int = 0
    notes: list[str] = field(default_factory=list)

    def utilization(self, config: NpuConfig) -> float:
        """Useful MACs per modelled cycle over the array's peak."""
        return self.macs / max(1, self.predicted_cycles * config.dim * config.dim)


class Emitter:
    """Where a lowering puts its instructions, constants and scratch buffers.

    Subclasses decide placement (`const`, `scratch`); `emit` appends to `program`. `isa_minor` is the ISA minor
    version of the device the program is for (1.0 devices lack the 1.1 instructions), so a lowering picks the
    instructions it may use: `if em.isa_minor >= 1: ...`.
    """

    def __init__(self, config: NpuConfig, isa_minor: int = ISA_VERSION[1]):
        self.config = config
        self.isa_minor = isa_minor
        self.program: list[Instr] = []

    def const(self, data: bytes, align: int = ALIGN) -> int:
        """Arena offset of a constant blob (the ENF CONST section)."""
        raise NotImplementedError

    def scratch(self, nbytes: int, align: int = ALIGN) -> int:
        """Arena offset of device scratch that lives during the current layer only."""
        raise NotImplementedError

    def emit(self, instrs: Instr | list[Instr]) -> None:
        self.program.extend([instrs] if isinstance(instrs, Instr) else instrs)


class ArenaEmitter(Emitter):
    """A bump allocator over one arena: constants, scratch and activations (`alloc`) in allocation order.

    `blobs` lists every (offset, bytes) the program expects in DRAM before it runs (constants only); tests place
    inputs themselves. Scratch is never reused, which is wasteful but always safe.
    """

    def __init__(self, config: NpuConfig, base: int = 0, isa_minor: int = ISA_VERSION[1]):
        super().__init__(config, isa_minor)
        self.end = base
        self.blobs: list[tuple[int, bytes]] = []

    def alloc(self, nbytes: int, align: int = ALIGN) -> int:
        offset = -(-self.end // align) * align
        self.end = offset + max(1, int(nbytes))
        return offset

    def const(self, data: bytes, align: int = ALIGN) -> int:
        offset = self.alloc(len(data), align)
        self.blobs.append((offset, bytes(data)))
        return offset

    def scratch(self, nbytes: int, align: int = ALIGN) -> int:
        return self.alloc(nbytes, align)

    def activation(self, shape: tuple[int, ...], dtype: str = "int8", scale: float = 1.0,
                   zero_point: int = 0) -> ActTensor:
        """A fresh activation buffer (tests and tools: the compiler's memory plan does this for real)."""
        return ActTensor(self.alloc(prod(shape)), tuple(shape), dtype, scale, zero_point)


__all__ = ["ALIGN", "ActTensor", "ArenaEmitter", "Emitter", "LayerCost", "LoweringError", "Unsupported"]
