"""The issue's acceptance test: a hand-written ENF program, a tiled int8 GEMM with bias, per-channel requant and
ReLU whose A is larger than the scratchpad, runs through `Npu` and equals the op-level NumPy reference exactly,
for every test NpuConfig. Two programs: our own (tiled_gemm.py, SYNC-ordered) and the golden model's
double-buffered, token-pipelined builder (nux.compiler.lower.tiled_gemm), each wrapped in an ENF."""

from __future__ import annotations

import numpy as np
import pytest
from nux.compiler.lower.tiled_gemm import gemm_requant_reference, tiled_gemm_requant_program
from nux.enf import DType, Enf, Program, TensorInfo, TensorRole, read_enf, write_enf
from nux.isa import TEST_CONFIGS, assemble
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


def golden_builder_enf(config, a, w, bias, m, s, a_zp, w_zp, out_zp) -> Enf:
    """nux.compiler.lower's double-buffered, token-pipelined GEMM (another author, another schedule) as an ENF:
    weights, bias and requant rows become the constant section, A and C the tensor table."""
    (M, K), N = a.shape, w.shape[1]
    program, lay = tiled_gemm_requant_program(config, M, K, N, a_zp=a_zp, w_zp=w_zp, out_zp=out_zp)
    images = dict(lay.images(a, w, bias, m, s, w_zp=w_zp))
    const_end = lay.params + len(images[lay.params])
    consts = bytearray(const_end - lay.w)
    for offset in (lay.w, lay.bias, lay.params):
        consts[offset - lay.w : offset - lay.w + len(images[offset])] = images[offset]
    code = assemble(program)
    code_offset = -(-lay.end // 32) * 32
    return Enf(
        config=config,
        programs=[Program(code, code_offset, "golden tiled_gemm_requant")],
        tensors=[
            TensorInfo("A", TensorRole.INPUT, DType.INT8, (M, K), lay.a, M * K, zero_point=a_zp),
            TensorInfo("C", TensorRole.OUTPUT, DType.INT8, (M, N), lay.c, M * N, zero_point=out_zp),
        ],
        arena_size=code_offset + len(code),
        consts=bytes(consts),
        const_offset=lay.w,
    )


@pytest.mark.parametrize("config", TEST_CONFIGS, ids=lambda c: f"dim{c.dim}")
def test_golden_program_builder_through_npu(make_npu, config):
    d = config.dim
    case = random_case(np.random.default_rng(100 + d), m=config.sp_rows + 37, k=6 * d, n=3 * d)
    # Ragged K and N exercise the builder's padding (its weight tiles are padded with w_zp).
    a, w = case.a[:, : 6 * d - 3], case.w[: 6 * d - 3, : 2 * d + 5]
    bias, m, s = case.bias[: 2 * d + 5], case.m[: 2 * d + 5], case.s[: 2 * d + 5]
    assert a.nbytes > config.sp_rows * d
    enf = read_enf(write_enf(golden_builder_enf(config, a, w, bias, m, s, case.a_zp, case.w_zp, case.out_zp)))
    npu = make_npu(config)
    model = npu.load(enf)
    model.set_input("A", np.ascontiguousarray(a))
    model.run()
    expected = gemm_requant_reference(a, w, bias, m, s, a_zp=case.a_zp, w_zp=case.w_zp, out_zp=case.out_zp)
    np.testing.assert_array_equal(model.get_output("C"), expected)
    assert (expected == case.out_zp).any() and (expected > case.out_zp).any()
