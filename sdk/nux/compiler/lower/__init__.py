"""nux.compiler.lower: one operator at a time onto the nux ISA (tiling, scheduling with tokens, cost model).

See docs/compiler_lowering.md. Every lowering takes explicit integer parameters and an `Emitter`, appends a
self-contained layer (inputs read from DRAM, outputs stored, queues quiescent at its end) and returns a
`LayerCost`; cases it cannot compute exactly raise `Unsupported(reason)` so the compiler falls back to the host.
"""

from nux.compiler.lower.perf import predict_cycles
from nux.compiler.lower.target import ActTensor, ArenaEmitter, Emitter, LayerCost, LoweringError, Unsupported
from nux.compiler.lower.tiled_gemm import (
    GemmLayout,
    ProgramError,
    gemm_requant_reference,
    plan_gemm,
    tiled_gemm_program,
    tiled_gemm_requant_program,
)

__all__ = ["ActTensor", "ArenaEmitter", "Emitter", "LayerCost", "LoweringError", "Unsupported", "predict_cycles",
           "GemmLayout", "ProgramError", "gemm_requant_reference", "plan_gemm", "tiled_gemm_program",
           "tiled_gemm_requant_program"]
