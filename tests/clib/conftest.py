"""Fixtures for the libnux tests: the C test programs built against libnux (plain and ASan+UBSan), the simulator
library for the test NpuConfig, and ENFs (a byte copy and the golden tiled GEMM + requant) on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from clib_rig import CONFIG, PROGRAMS, ROOT

sys.path.insert(0, str(ROOT / "tests" / "driver"))  # the driver tests' ENF builders


@pytest.fixture(scope="session")
def sim_library() -> Path:
    from nux.sim.build import build

    return build(CONFIG, progress=False).library


@pytest.fixture(scope="session")
def programs(tmp_path_factory):
    """`programs(sanitize)` -> {name: executable}."""
    from nux.clib import compile_program

    built: dict[bool, dict[str, Path]] = {}

    def get(sanitize: bool = False) -> dict[str, Path]:
        if sanitize not in built:
            out = tmp_path_factory.mktemp("asan" if sanitize else "bin")
            built[sanitize] = {name: compile_program([src], out / name, sanitize) for name, src in PROGRAMS.items()}
        return built[sanitize]

    return get


@pytest.fixture
def run_c(request):
    """Run a C program (on the sim device unless `sim=False`); returns the CompletedProcess (check=False)."""

    def run(*args: object, env: dict[str, str] | None = None, timeout: float = 600, sim: bool = True):
        device = {"NUX_DEVICE": "sim", "NUX_SIM_LIBRARY": str(request.getfixturevalue("sim_library"))} if sim else {}
        environment = {**os.environ, **device, "ASAN_OPTIONS": "detect_leaks=1", **(env or {})}
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=environment,
                              timeout=timeout)

    return run


@pytest.fixture(scope="session")
def copy_enf_file(tmp_path_factory) -> Path:
    from npu_programs import copy_enf
    from nux.enf import save_enf

    path = tmp_path_factory.mktemp("enf") / "copy.enf"
    save_enf(copy_enf(CONFIG, (3, 8)), path)
    return path


@pytest.fixture(scope="session")
def gemm_case(tmp_path_factory):
    """(ENF path, input A path, the Enf) of the golden tiled GEMM + requant + ReLU builder."""
    from nux.enf import save_enf
    from test_acceptance_gemm import golden_builder_enf
    from tiled_gemm import random_case

    d = CONFIG.dim
    case = random_case(np.random.default_rng(7), m=CONFIG.sp_rows + 37, k=6 * d, n=3 * d)
    enf = golden_builder_enf(CONFIG, case.a, case.w, case.bias, case.m, case.s, case.a_zp, case.w_zp, case.out_zp)
    folder = tmp_path_factory.mktemp("gemm")
    save_enf(enf, folder / "gemm.enf")
    (folder / "a.bin").write_bytes(np.ascontiguousarray(case.a).tobytes())
    return folder / "gemm.enf", folder / "a.bin", case
