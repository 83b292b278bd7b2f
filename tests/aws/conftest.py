"""tests/aws: generate each NpuConfig's Verilog once per session (Amaranth + Yosys take tens of seconds under load,
and the lint, folder and cocotb tests all need the same small config)."""

from __future__ import annotations

import functools

import pytest


@pytest.fixture(scope="session", autouse=True)
def _memoised_npu_verilog():
    import nux.rtl.verilog as rtl_verilog

    original = rtl_verilog.generate_verilog
    rtl_verilog.generate_verilog = functools.cache(original)
    yield
    rtl_verilog.generate_verilog = original
