"""`golden`: the NumPy golden model as a register-level device (nux.golden.GoldenDevice).

Options: `config` (NpuConfig), `dram_size` (bytes), `hang` (never complete a task: for timeout tests).
"""

from __future__ import annotations

from nux.driver.device import Device, DeviceError
from nux.driver.registry import construct, register_backend


def open_golden(arg: str | None, **options: object) -> Device:
    """Create a fresh golden device; the device string takes no argument (`golden`)."""
    if arg:
        raise DeviceError(f"the golden device takes no argument, got 'golden:{arg}'")
    from nux.golden import GoldenDevice

    return construct("golden", GoldenDevice, **options)


register_backend("golden", open_golden, help="NumPy golden model (options: config, dram_size, hang)")
