"""The real RTL (nux.rtl.verilog) as the driver's `sim` backend: faults, recovery, config checks, traces.

One Verilator build of the dim-4 test config serves every test here (the build cache makes later sessions free).
The driver's own suite (tests/driver) runs on "sim" too, through its backend list.
"""

from __future__ import annotations

import numpy as np
import pytest
from nux.device import DeviceError
from nux.driver import Npu, NpuTimeout, open_device
from nux.enf import Enf, Program
from nux.golden.programs import copy_program
from nux.isa import TEST_CONFIGS, ConfigError, Instr, Mem, NpuConfig, PoolOp, assemble

CONFIG = TEST_CONFIGS[0]  # dim 4: the cheapest build


@pytest.fixture(scope="module")
def npu():
    with Npu("sim", timeout=30.0, config=CONFIG, dram_size=1 << 22, progress=False) as npu:
        yield npu


def endless_program(config: NpuConfig, pools: int = 64) -> list[Instr]:
    """A valid program that runs for billions of cycles: POOLs over 255x255-tap windows for every SP row.

    (A GEMM with 65535x65535 rows would be refused as SPAD_OOB: its ACC rows must fit acc_rows.) Each POOL reduces
    65025 taps for each of sp_rows output rows; `pools` of them outlast any test timeout by orders of magnitude.
    """
    side = int(np.sqrt(config.sp_rows))
    params = Instr("load", dst=Mem.ACC, dram_offset=0, x_size=2, x_stride=4 * config.dim, push_next=1)
    pool = dict(pop=PoolOp.SUM, x_size=side, y_size=config.sp_rows // side, win_x=255, win_y=255)
    body = [Instr("pool", pop_prev=1, **pool)] + [Instr("pool", **pool) for _ in range(pools - 1)]
    return [params, *body, Instr("end")]


def run_copy(npu: Npu, rows: int = 9, seed: int = 0) -> None:
    d = npu.config.dim
    data = np.random.default_rng(seed).integers(0, 256, rows * d, dtype=np.uint8).tobytes()
    arena = npu.run_program(copy_program(npu.config, 1024, 2048, rows), 4096, {1024: data})
    assert arena[2048 : 2048 + rows * d] == data


def test_copy_program_runs_on_the_rtl(npu) -> None:
    run_copy(npu)
    perf = npu.perf()
    assert perf["CYCLES"] > 0  # a timing counter the golden model reports as 0: this really is the RTL
    assert npu.device.sim.protocol_errors == (0, "")


def test_hang_times_out_resets_and_the_next_program_runs(npu) -> None:
    cycles_before = npu.device.cycles
    with pytest.raises(NpuTimeout, match="did not finish within 1 s"):
        npu.run_program(endless_program(npu.config), 8192, timeout=1.0)
    assert npu.device.cycles - cycles_before > 10_000  # simulated time ran while the driver waited
    assert not npu.status()["busy"]
    run_copy(npu, rows=17, seed=1)
    assert npu.device.sim.protocol_errors == (0, "")


def test_enf_for_another_config_is_refused(npu) -> None:
    other = NpuConfig(dim=8, sp_rows=512, acc_rows=256)
    enf = Enf(config=other, programs=[Program(assemble([Instr("end")]), 0)], tensors=[], arena_size=4096)
    with pytest.raises(ConfigError, match="dim 8 != device dim 4"):
        npu.load(enf)


def test_open_device_lists_sim_options_on_a_typo() -> None:
    with pytest.raises(DeviceError, match="sim: .*'colour'.*options are config, dram_size, trace"):
        open_device("sim", colour="red")
    with pytest.raises(DeviceError, match="takes no argument"):
        open_device("sim:8")


def test_trace_option_of_the_driver_dumps_a_run(tmp_path) -> None:
    path = tmp_path / "copy.fst"
    with Npu("sim", config=CONFIG, dram_size=1 << 20, trace=path, progress=False) as npu:
        run_copy(npu, rows=3)
    data = path.read_bytes()
    assert data[0] == 0 and int.from_bytes(data[1:9], "big") == 329  # FST header block
    assert len(data) > 1000


def test_wrapper_ports_match_the_rtl_top() -> None:
    """nux_sim_top registers every NPU input: its port table must be exactly the generated top's ports."""
    import re

    from nux.sim.build import rtl_verilog
    from nux.sim.wrapper import ports

    for config in (CONFIG, TEST_CONFIGS[2]):  # 64- and 128-bit buses (the dim-16 Verilog is shared with tests/driver)
        text = rtl_verilog(config)
        body = text[text.index("module nux_npu(") : text.index("endmodule", text.index("module nux_npu("))]
        declared = {
            name: (direction, int(msb) + 1 if msb else 1)
            for direction, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s*)?(\w+);", body, re.M)
        }
        assert declared.pop("clk") == ("input", 1)
        assert declared == {name: (direction, width) for name, direction, width in ports(config)}
