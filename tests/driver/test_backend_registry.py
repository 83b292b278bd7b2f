"""Device strings select backends through one registry; unknown names and options fail clearly."""

from __future__ import annotations

import pytest
from nux.driver import DeviceError, backend_available, known_backends, open_device, register_backend, registry
from nux.driver.registry import split_spec


@pytest.mark.parametrize(
    "spec, expected",
    [("golden", ("golden", None)), ("xdma:1", ("xdma", "1")), ("pci:0000:00:1d.0", ("pci", "0000:00:1d.0"))],
)
def test_split_spec(spec, expected):
    assert split_spec(spec) == expected


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(DeviceError, match=r"unknown device 'fpga9'; known backends: golden, pci, sim, xdma"):
        open_device("fpga9")
    with pytest.raises(DeviceError, match="a device string is needed"):
        open_device("")


def test_registered_backend_gets_argument_and_options(monkeypatch):
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry._BACKENDS))
    seen = []

    def factory(arg, **options):
        seen.append((arg, options))
        return "a device"

    register_backend("fake", factory, available=lambda: False)
    assert open_device("fake:x:y", speed=3) == "a device"
    assert seen == [("x:y", {"speed": 3})]
    assert "fake" in known_backends()
    assert backend_available("fake") is False
    with pytest.raises(ValueError, match="contain no ':'"):
        register_backend("a:b", factory)


def test_plugin_backend_is_looked_up_lazily(monkeypatch):
    monkeypatch.setattr(registry, "_BACKENDS", {k: v for k, v in registry._BACKENDS.items() if k != "sim"})
    monkeypatch.setitem(registry.PLUGINS, "sim", "nux_no_such_plugin_module")
    assert backend_available("sim") is False
    with pytest.raises(DeviceError, match="unknown device 'sim' \\(its package is not installed"):
        open_device("sim")


def test_golden_refuses_arguments_and_unknown_options():
    with pytest.raises(DeviceError, match="takes no argument"):
        open_device("golden:1")
    with pytest.raises(DeviceError, match="golden: .*'colour'.*options are config, dram_size, hang"):
        open_device("golden", colour="red")
