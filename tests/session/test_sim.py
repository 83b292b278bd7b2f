"""The same session on the Verilator build of the RTL (`sim`, dim 8): sync and async equal golden bit for bit."""

from __future__ import annotations

import numpy as np
import nux.compiler
import nux.session
import pytest
from nux.isa import TEST_CONFIGS

SIM_CONFIG = TEST_CONFIGS[1]  # dim 8, the build the other sim tests use (cached)


@pytest.mark.rtl
def test_sim_session_equals_golden(npu_qdq):
    enf = nux.compiler.compile(npu_qdq, SIM_CONFIG, isa_minor=0)  # the RTL implements ISA 1.0
    xs = [np.random.default_rng(i).uniform(-1, 1, (1, 2, 8, 8)).astype(np.float32) for i in range(4)]
    with nux.session.create(enf, device="golden") as sess:
        expected = [sess.run(x, raw=False)[0] for x in xs]
    with nux.session.create(enf, device="sim", progress=False, dram_size=1 << 24) as sess:
        assert sess.npu.config == SIM_CONFIG
        synced = [sess.run(x)[0] for x in xs]
        futures = [sess.submit(x) for x in xs]
        pipelined = [f.result(timeout=120)[0] for f in futures]
    for want, a, b in zip(expected, synced, pipelined, strict=True):
        np.testing.assert_array_equal(a, want)
        np.testing.assert_array_equal(b, want)
