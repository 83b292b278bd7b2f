"""Constants of the libnux tests, in a module of their own: `from conftest import` finds whichever folder's
conftest pytest imported first when it collects several folders."""

from __future__ import annotations

from pathlib import Path

from nux.isa import TEST_CONFIGS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = TEST_CONFIGS[0]  # dim 4: the fastest simulation
PROGRAMS = {"sync_model": ROOT / "examples/c/sync_model.c", "task_model": ROOT / "examples/c/task_model.c",
            "checks": ROOT / "tests/clib/checks.c"}
