"""ReduceSum / ReduceMean over channels and over H x W vs integer references built from golden requant."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower import Unsupported
from nux.compiler.lower.reduce import reduce_mean, reduce_sum
from nux.golden.requant import quantize_multiplier, requant


@pytest.mark.parametrize(("shape", "axes", "out_shape"), [((2, 11, 3, 4), (1,), (2, 1, 3, 4)),
                                                           ((1, 6, 5, 3), (2, 3), (1, 6)), ((5, 13), (-1,), (5,))])
@pytest.mark.parametrize("mean", [False, True])
def test_reduce(shape, axes, out_shape, mean):
    rng = np.random.default_rng(sum(shape) + mean)
    em = emitter(dim=4, sp_rows=128, acc_rows=64)
    x = em.activation(shape, "int8", 0.02, 5)
    y = em.activation(out_shape, "int8", 0.3, -1)
    (reduce_mean if mean else reduce_sum)(em, x, y, axes)
    xv = rng.integers(-128, 128, size=shape).astype(np.int8)
    (got,) = run(em, {x: xv}, [y])
    sums = (xv.astype(np.int64) - 5).sum(axis=tuple(a % len(shape) for a in axes))
    count = np.prod([shape[a] for a in axes]) if mean else 1
    channels = 1 in axes or axes == (-1,)  # a 1x1 conv with w_scale 1/C, else a POOL sum divided by the count
    m, s = quantize_multiplier(0.02 * (1.0 / count) / 0.3 if channels else 0.02 / (0.3 * count))
    np.testing.assert_array_equal(got.reshape(-1), requant(sums, m, s, -1, -128, 127).reshape(-1))


def test_reduce_other_axes_need_isa_1_1():
    em = emitter()
    em.isa_minor = 0  # a 1.0 NPU: channels or H x W only (other axes: tests/compiler/test_ops_isa11_reduce.py)
    with pytest.raises(Unsupported, match="axes"):
        reduce_sum(em, em.activation((1, 2, 3, 4)), em.activation((2, 3, 4)), (0,))
    with pytest.raises(Unsupported, match="ISA 1.0"):
        reduce_sum(em, em.activation((2, 3, 4)), em.activation((2, 4)), (1,))
