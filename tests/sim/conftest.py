"""Fixtures of the simulator tests. Builds go to the user cache (NUX_SIM_CACHE), shared by xdist workers through
the build lock, so a session builds each design once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from nux.isa import NpuConfig
from simrig import STUB_CONFIG, stub_device_kwargs


@pytest.fixture
def make_stub() -> Iterator[Callable[..., object]]:
    """Factory of stub SimDevices (closed after the test); keyword arguments go to SimDevice."""
    from nux.sim.device import SimDevice

    devices: list[SimDevice] = []

    def make(config: NpuConfig = STUB_CONFIG, **options: object) -> SimDevice:
        device = SimDevice(**{**stub_device_kwargs(config), "dram_size": 1 << 20, **options})
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()
