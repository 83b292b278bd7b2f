"""ReduceSum / ReduceMean over channels or over H x W, by reusing the GEMM and POOL lowerings.

- over channels (axis 1 of a 4-D tensor, or the last axis of a matrix): a 1 x 1 convolution with one output
  channel of ones; the requant multiplier is x.scale / y.scale (sum) or x.scale / (C * y.scale) (mean);
- over H and W (axes 2, 3): a whole-image POOL sum, requantized by x.scale / y.scale (sum) or divided by the
  window size (mean, = GlobalAveragePool).

keepdims only changes y's logical shape, not its bytes (NHWC with a 1-sized axis is the same as row-major
without it), so y may be given either way. Other axis sets are Unsupported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.pool import global_avg_pool
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported


def _reduce(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int], mean: bool) -> LayerCost:
    rank = len(x.shape)
    axes_set = {int(a) % rank for a in axes}
    if rank != 4 and axes_set != {rank - 1}:
        raise Unsupported(f"reduction over axes {sorted(axes_set)} of a rank-{rank} tensor (last axis only)")
    as4 = x.shape if rank == 4 else (int(np.prod(x.shape[:-1])), x.shape[-1], 1, 1)
    if rank != 4 and axes_set == {rank - 1}:
        x4 = ActTensor(x.offset, (1, as4[1], 1, as4[0]), x.dtype, x.scale, x.zero_point)  # NHWC bytes = rows
        axes_set = {1}
    else:
        x4 = x
    n, c, h, w = x4.shape
    if axes_set not in ({1}, {2, 3}):
        raise Unsupported(f"reduction over axes {sorted(axes_set)} of a rank-{rank} tensor (channels or H x W only)")
    if y.nbytes != (n * h * w if axes_set == {1} else n * c):
        raise LoweringError(f"reduce over {sorted(axes_set)} of {x.shape} cannot give {y.shape}")
    if axes_set == {2, 3}:
        y4 = ActTensor(y.offset, (n, c, 1, 1), y.dtype, y.scale, y.zero_point)
        return global_avg_pool(em, x4, y4, divide=mean)
    y4 = ActTensor(y.offset, (n, 1, h, w), y.dtype, y.scale, y.zero_point)
    return conv2d(em, x4, y4, np.ones((1, c, 1, 1), dtype=np.int8), 1.0 / c if mean else 1.0, 0, None)


def reduce_sum(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceSum over channels or H x W (module docstring), requantized to y."""
    return _reduce(em, x, y, axes, mean=False)


def reduce_mean(em: Emitter, x: ActTensor, y: ActTensor, axes: Sequence[int]) -> LayerCost:
    """ReduceMean over channels or H x W (module docstring), requantized to y."""
    return _reduce(em, x, y, axes, mean=True)
