"""Fixtures of the simulator tests. Builds go to the user cache (NUX_SIM_CACHE), shared by xdist workers through
the build lock, so a session builds each design once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

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


def pytest_collection_modifyitems(config, items) -> None:
    """Every test here builds with Verilator: mark them `rtl`, so `-m "not rtl"` keeps a quick run quick."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.rtl)
