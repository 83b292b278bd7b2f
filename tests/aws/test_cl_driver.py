"""The host path end to end: `Npu` over the real `xdma` backend runs an ENF on the simulated custom logic.

Only the kernel's XDMA driver is played by the bench (tests/aws/cocotb/cl_driver_tb.py): MMIO on the user node
becomes OCL accesses, DMA on the h2c/c2h nodes becomes PCIS bursts. The ENF is the driver acceptance test's
hand-written tiled GEMM with requant and ReLU; its output must equal the op-level reference exactly. The F2
build of the core is used (it differs from F1's only in the PCIS ID width and CL_SHELL), so CI builds one
simulation. The `pci` backend is not run here: its BARs are mmaps, whose loads and stores cannot be bridged to
a simulation from Python.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "driver"))

from cl_sim import ClSim  # noqa: E402
from nux.enf import write_enf  # noqa: E402
from nux.isa import NpuConfig  # noqa: E402
from nux.isa.aws import Shell  # noqa: E402
from tiled_gemm import random_case, tiled_gemm_enf  # noqa: E402

pytestmark = pytest.mark.rtl

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)


def test_npu_over_xdma_backend_runs_enf_on_the_cl(tmp_path):
    d = CONFIG.dim
    case = random_case(np.random.default_rng(5), m=45, k=4 * d, n=2 * d)
    enf = tiled_gemm_enf(CONFIG, case)
    job = {"enf": write_enf(enf), "input": "A", "a": case.a, "output": "C", "chunk": 1000}  # 1000: many DMA pieces
    ClSim(CONFIG, Shell.F2).run(job, tmp_path, seed=3, bench="cl_driver_tb")
    result = pickle.loads((tmp_path / "driver_result.pkl").read_bytes())
    assert result["config"] == CONFIG.to_dict()  # identified through the CL's BAR0 window
    assert result["dram_size"] == 1 << CONFIG.dram_addr_bits  # the xdma backend's ID check answered
    np.testing.assert_array_equal(result["output"], case.reference())
    M, K = case.a.shape
    assert result["perf"]["MACS"] == M * K * case.w.shape[1]
