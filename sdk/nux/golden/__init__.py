"""nux.golden: the NumPy reference model of the nux ISA (the single source of truth for RTL, sim, compiler).

The register-level device built on it (`GoldenDevice`, backend "golden") lives in nux.driver.golden_backend, so
this package stays on the ground floor: it imports nothing but nux.isa and nux.errors.

- requant: TFLite fixed-point requantization, vectorised and bit exact.
- rowops: REDUCE's RECIP / RSQRT multipliers (ISA 1.1), RSQRT bit exact with TFLite's inverse square root.
- machine: `Machine`, the program-order interpreter of instruction streams (faults as `NpuFault`).
- kernels: op-level quantized reference kernels (conv, matmul, pooling, add/mul, LUT), independent of the ISA.
- programs: `copy_program`, the smallest useful program (tiled operator programs live in nux.compiler.lower).
- decoupled: a random-interleaving executor that exposes missing dependency tokens in a program.
"""

from nux.golden import kernels
from nux.golden.decoupled import run_decoupled
from nux.golden.errors import Cancelled, MachineError, NpuFault
from nux.golden.kernels import KernelError, make_lut
from nux.golden.machine import Machine
from nux.golden.requant import (
    RequantError,
    mbqm,
    quantize_multiplier,
    requant,
    rounding_divide_by_pot,
    srdhm,
    wrap32,
)
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier

__all__ = [
    "kernels", "run_decoupled", "Cancelled", "MachineError", "NpuFault", "KernelError", "make_lut",
    "Machine", "RequantError", "mbqm", "quantize_multiplier", "requant", "rounding_divide_by_pot",
    "srdhm", "wrap32", "recip_multiplier", "rsqrt_multiplier",
]
