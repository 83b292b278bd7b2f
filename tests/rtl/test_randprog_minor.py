"""The RTL implements ISA 1.0 this session (RTL_ISA_MINOR): the random programs its system tests run on it must
stay 1.0 programs, so they compare the RTL and the golden model on what both implement."""

from __future__ import annotations

from nux.isa import TEST_CONFIGS, required_minor
from nux.rtl.isa_layout import RTL_ISA_MINOR
from randprog import RandomProgram


def test_random_programs_need_no_more_than_the_rtl_implements():
    for config in TEST_CONFIGS:
        for seed in range(40):
            program = RandomProgram(config, seed, length=40).instrs
            assert required_minor(program) <= RTL_ISA_MINOR, f"seed {seed}: {program}"
