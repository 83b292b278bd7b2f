"""nux.compiler.lower: one operator at a time onto the nux ISA (tiling, scheduling with tokens, cost model).

See docs/compiler_lowering.md. Every lowering takes explicit integer parameters and an `Emitter`, appends a
self-contained layer (inputs read from DRAM, outputs stored, queues quiescent at its end: a trailing SYNC) and
returns a `LayerCost`; cases it cannot compute exactly raise `Unsupported(reason)` so the compiler falls back to
the host. Argument errors that are compiler bugs raise `LoweringError`.
"""

from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.conv_transpose import conv_transpose
from nux.compiler.lower.eltwise import add, lut, lut_table, mean, mul, rescale
from nux.compiler.lower.matmul import gemm, matmul_act
from nux.compiler.lower.movers import concat, copy, depth_to_space, expand, pad, slice_, split, transpose
from nux.compiler.lower.normalize import lp_normalize
from nux.compiler.lower.perf import predict_cycles
from nux.compiler.lower.pool import avg_pool, global_avg_pool, max_pool
from nux.compiler.lower.reduce import reduce_l2, reduce_max, reduce_mean, reduce_sum
from nux.compiler.lower.softmax import softmax
from nux.compiler.lower.target import ActTensor, ArenaEmitter, Emitter, LayerCost, LoweringError, Unsupported
from nux.compiler.lower.tiled_gemm import (
    GemmLayout,
    ProgramError,
    gemm_requant_reference,
    plan_gemm,
    tiled_gemm_program,
    tiled_gemm_requant_program,
)

__all__ = [
    "ActTensor", "ArenaEmitter", "Emitter", "LayerCost", "LoweringError", "Unsupported", "predict_cycles",
    "conv2d", "conv_transpose", "gemm", "matmul_act", "max_pool", "avg_pool", "global_avg_pool", "add", "mul",
    "mean", "lut",
    "lut_table", "rescale", "reduce_sum", "reduce_mean", "reduce_max", "reduce_l2", "softmax", "lp_normalize",
    "concat", "split", "slice_", "pad", "transpose",
    "depth_to_space", "expand", "copy", "GemmLayout", "ProgramError", "gemm_requant_reference", "plan_gemm",
    "tiled_gemm_program", "tiled_gemm_requant_program",
]
