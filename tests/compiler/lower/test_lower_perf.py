"""The performance model: basic timing rules, and agreement with RTL measurements recorded in docs/rtl.md."""

from __future__ import annotations

from nux.compiler.lower import predict_cycles, tiled_gemm_program
from nux.isa import Instr, NpuConfig

CONFIG = NpuConfig(dim=8)


def test_gemms_chain_and_short_preloads_bubble():
    long = [Instr("gemm", preload=1, x_size=100), Instr("gemm", preload=1, x_size=100)]
    short = [Instr("gemm", preload=1, x_size=4), Instr("gemm", preload=1, x_size=4)]
    tail = predict_cycles(CONFIG, long[:1]) - 100
    assert predict_cycles(CONFIG, long) == 200 + tail  # chained: no drain between them
    assert predict_cycles(CONFIG, short) == 2 * (3 * 8 - 2 + 4) / 2 + tail  # preload-bound below 3*dim - 2 rows


def test_tokens_serialize_load_and_compute():
    load = Instr("load", x_size=64, x_stride=8, push_next=1)
    gemm = Instr("gemm", preload=1, x_size=64, pop_prev=1)
    alone = predict_cycles(CONFIG, [Instr("gemm", preload=1, x_size=64)])
    assert predict_cycles(CONFIG, [load, gemm]) >= alone + 64  # the GEMM waits for the whole LOAD


def test_tiled_gemm_matches_rtl_measurements():
    """docs/rtl.md: 256^3 tiled int32 GEMM, 265,742 cycles measured on the RTL (Verilator, dim 8)."""
    program, _ = tiled_gemm_program(CONFIG, 256, 256, 256)
    assert abs(predict_cycles(CONFIG, program) / 265_742 - 1) < 0.02
