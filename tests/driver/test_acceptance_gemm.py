"""The issue's acceptance test: a hand-written ENF program, a tiled int8 GEMM with bias, per-channel requant and
ReLU whose A is larger than the scratchpad, runs through `Npu` and equals the op-level NumPy reference exactly,
for every test NpuConfig."""

from __future__ import annotations

import numpy as np
import pytest
from nux.enf import read_enf, write_enf
from nux.isa import TEST_CONFIGS
from tiled_gemm import random_case, tiled_gemm_enf


@pytest.mark.parametrize("config", TEST_CONFIGS, ids=lambda c: f"dim{c.dim}")
def test_tiled_gemm_requant_relu_matches_reference(make_npu, config):
    d = config.dim
    rng = np.random.default_rng(config.dim)
    case = random_case(rng, m=config.sp_rows + 37, k=8 * d, n=3 * d)
    enf = tiled_gemm_enf(config, case)
    assert case.a.nbytes > config.sp_rows * d  # A alone is larger than the whole scratchpad: tiling is needed
    assert enf.meta["tile_rows"] < case.a.shape[0]
    enf = read_enf(write_enf(enf))  # through the file format, as a compiled model would arrive
    npu = make_npu(config)
    model = npu.load(enf)
    model.set_input("A", case.a)
    npu.clear_perf()
    model.run()
    out = model.get_output("C")
    perf = npu.perf()
    expected = case.reference()
    assert out.dtype == np.int8 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    assert (out == case.out_zp).any() and (out > case.out_zp).any()  # ReLU clamps some, passes others
    M, K = case.a.shape
    N = case.w.shape[1]
    assert perf["MACS"] == M * (K // d) * (N // d) * d * d
