"""The whole F2 custom logic (nux_cl_core: BAR0 decoder, CL ID registers, upsizer, DDR interconnect, IRQ pulser,
and the NPU) driven the way the F2 shell drives it, running the foundation's tiled GEMM with requant.

cocotbext-axi plays the shell (tests/aws/cocotb/cl_tb.py): the program and operands go in through PCIS in random
pieces with random pauses, the doorbell is rung over OCL, completion is seen by interrupt (request/ack) and by
polling, the output comes back through PCIS and must equal the op-level reference exactly. One simulation runs
every job; a CTRL.RESET in the middle of a task must leave the CL able to run it again correctly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cl_sim import ClSim, Job  # noqa: E402
from nux.compiler.lower.tiled_gemm import gemm_requant_reference, tiled_gemm_requant_program  # noqa: E402
from nux.isa import NPU_ID, ErrorCode, Irq, NpuConfig, Status, assemble  # noqa: E402
from nux.isa.aws import DRAM_BASE, Shell, cl_register_values  # noqa: E402

pytestmark = pytest.mark.rtl

CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128)
ARENA = 0x1000
SIDE = 0x80000  # host scratch traffic, away from the arena


def gemm_job(name: str, M: int, K: int, N: int, seed: int, tag: int, config: NpuConfig = CONFIG,  # noqa: N803
             **kw) -> tuple[Job, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K), dtype=np.int8)
    w = rng.integers(-128, 128, (K, N), dtype=np.int8)
    bias = rng.integers(-5000, 5000, N, dtype=np.int32)
    m = rng.integers(1 << 29, 1 << 30, N, dtype=np.int32)
    s = rng.integers(-10, -6, N, dtype=np.int32)
    program, lay = tiled_gemm_requant_program(config, M, K, N, a_zp=3, w_zp=-2, out_zp=-5)
    code = assemble(program)
    code_at = -(-lay.end // 32) * 32
    base = DRAM_BASE + ARENA
    images = [(base + off, bytes(data)) for off, data in lay.images(a, w, bias, m, s, w_zp=-2)]
    images.append((base + code_at, code))
    job = Job(name, images, (base + code_at, len(program), base, code_at + len(code), tag), (base + lay.c, M * N),
              **kw)
    expected = gemm_requant_reference(a, w, bias, m, s, a_zp=3, w_zp=-2, out_zp=-5)
    return job, expected


@pytest.fixture(scope="module")
def f2_run(tmp_path_factory):
    sim = ClSim(CONFIG, Shell.F2)
    jobs = [gemm_job("irq+side-traffic", 70, 17, 9, 1, 0x11, side_traffic=SIDE),
            gemm_job("polled", 13, 10, 11, 2, 0x12, by_irq=False),
            gemm_job("reset-mid-task", 70, 17, 9, 3, 0x13, abort_after=400),
            gemm_job("reset-later", 70, 17, 9, 4, 0x14, abort_after=2000, by_irq=False)]
    results = sim.run([j for j, _ in jobs], tmp_path_factory.mktemp("cl_f2"), seed=7, pause=0.25)
    return jobs, results


def test_cl_id_registers_and_bar0_decode(f2_run):
    _, res = f2_run
    regs = res["cl_regs"]
    for name, value in cl_register_values(Shell.F2).items():
        assert regs[name] == value, name
    assert res["scratch"] == 0xA5A50F0F  # written through OCL, read back
    assert res["unmapped"] == ["ffffffff", 3]  # DECERR, all ones
    assert res["npu_id"] == NPU_ID


@pytest.mark.parametrize("index", range(4), ids=["irq+side-traffic", "polled", "reset-mid-task", "reset-later"])
def test_gemm_through_pcis_equals_reference(f2_run, index):
    jobs, res = f2_run
    job, expected = jobs[index]
    got = res["jobs"][index]
    assert got["name"] == job.name
    status = got["status"]
    assert not status & Status.ERROR, f"NPU error {ErrorCode((status >> 8) & 0xFF).name}"
    assert not status & Status.BUSY
    assert got["completed"] == 1 and got["last_tag"] == job.task[4]
    assert got["irq_status"] & Irq.DONE
    assert got["irq_requests"] == 1  # one completion, one request, acknowledged
    out = np.frombuffer(bytes.fromhex(got["output"]), np.int8).reshape(expected.shape)
    np.testing.assert_array_equal(out, expected)
    if job.abort_after:
        # the task was running when CTRL.RESET came, and the NPU was idle and clean right after it
        assert got["aborted"] == {"busy_before": Status.BUSY, "status": 0, "completed": 0}
    if job.side_traffic:
        assert got["side_ok"] > 0 and got["side_bad"] == 0


def test_irq_handshake_rule(f2_run):
    res = f2_run[1]
    assert res["irq_violations"] == 0
    assert res["irq_requests"] == res["irq_count_reg"] == len(res["jobs"])  # CL_IRQ_COUNT counts what was sent


@pytest.mark.slow
@pytest.mark.parametrize("bits", [128, 256])
def test_wider_npu_bus(bits, tmp_path):
    """The same GEMM through the whole CL with the NPU's AXI at 128 / 256 bits (upsizer ratios 4 and 2)."""
    config = NpuConfig(dim=4, sp_rows=256, acc_rows=128, axi_data_bits=bits)
    jobs = [gemm_job("irq+side-traffic", 70, 17, 9, 1, 0x21, config, side_traffic=SIDE),
            gemm_job("reset-mid-task", 70, 17, 9, 3, 0x22, config, abort_after=400)]
    res = ClSim(config, Shell.F2).run([j for j, _ in jobs], tmp_path, seed=9, pause=0.25)
    for (job, expected), got in zip(jobs, res["jobs"], strict=True):
        assert got["status"] == 0 and got["completed"] == 1, job.name
        out = np.frombuffer(bytes.fromhex(got["output"]), np.int8).reshape(expected.shape)
        np.testing.assert_array_equal(out, expected)
    assert res["jobs"][0]["side_bad"] == 0 and res["irq_violations"] == 0
