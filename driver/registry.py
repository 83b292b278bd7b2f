"""One device string selects a backend everywhere: `golden`, `sim`, `xdma:0`, `pci:0000:00:1d.0`.

A backend is a factory `factory(arg, **options) -> Device`, where `arg` is the text after the first ':' of the
device string (None when there is none). Backends register themselves with `register_backend`. The driver never
imports the layers above it: for a name it does not know yet, it imports the plugin module listed in `PLUGINS`
(e.g. `nux.sim`), which is expected to call `register_backend` at import time. That keeps `nux.driver` free of a
dependency on the simulator while `open_device("sim")` still works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from nux.device import Device, DeviceError

BackendFactory = Callable[..., Device]


@dataclass(frozen=True)
class Backend:
    name: str
    factory: BackendFactory
    #: a cheap check that the backend can run here (tools installed, ...); None means always
    available: Callable[[], bool] | None = None
    help: str = ""


_BACKENDS: dict[str, Backend] = {}

#: Backends provided by other packages: name -> module that registers it when imported.
PLUGINS: dict[str, str] = {"sim": "nux.sim"}

#: Backends built into the driver: name -> module that registers it when imported (lazy, so opening `golden`
#: does not import the PCI code and vice versa).
BUILTINS: dict[str, str] = {
    "golden": "nux.driver.golden_backend",
    "xdma": "nux.driver.xdma",
    "pci": "nux.driver.pci",
}


def register_backend(
    name: str, factory: BackendFactory, available: Callable[[], bool] | None = None, help: str = ""
) -> None:
    """Make `open_device("<name>[:arg]")` call `factory(arg, **options)`. Re-registering replaces."""
    if not name or ":" in name:
        raise ValueError(f"backend name must be non-empty and contain no ':', got {name!r}")
    _BACKENDS[name] = Backend(name, factory, available, help)


def _lookup(name: str) -> Backend | None:
    if name not in _BACKENDS:
        module = BUILTINS.get(name) or PLUGINS.get(name)
        if module is not None:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name is None or not module.startswith(exc.name):
                    raise  # a real missing dependency inside the plugin: show it
                return None  # the plugin package itself is not there
    return _BACKENDS.get(name)


def known_backends() -> list[str]:
    """Every backend name a device string may start with (registered, built in, or a plugin)."""
    return sorted(set(_BACKENDS) | set(BUILTINS) | set(PLUGINS))


def backend_available(name: str) -> bool:
    """True when `name` is registered (importing its plugin if needed) and its availability check passes."""
    backend = _lookup(name)
    if backend is None:
        return False
    return backend.available() if backend.available is not None else True


def split_spec(spec: str) -> tuple[str, str | None]:
    """`"xdma:0"` -> ("xdma", "0"); `"pci:0000:00:1d.0"` -> ("pci", "0000:00:1d.0"); `"golden"` -> ("golden", None)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DeviceError(f"a device string is needed, e.g. one of {known_backends()}; got {spec!r}")
    name, sep, arg = spec.strip().partition(":")
    return name, (arg if sep else None)


def open_device(spec: str, **options: object) -> Device:
    """Open the device a device string names, passing backend-specific `options` to its factory."""
    name, arg = split_spec(spec)
    backend = _lookup(name)
    if backend is None:
        hint = " (its package is not installed or not importable)" if name in PLUGINS else ""
        raise DeviceError(f"unknown device {spec!r}{hint}; known backends: {', '.join(known_backends())}")
    return backend.factory(arg, **options)


def construct(backend: str, factory: Callable[..., Device], *args: object, **options: object) -> Device:
    """Call `factory(*args, **options)`, refusing unknown options with a DeviceError that lists the valid ones.

    The check binds the signature first, so a TypeError raised inside the factory is never mistaken for a bad
    option.
    """
    import inspect

    signature = inspect.signature(factory)
    p = inspect.Parameter
    try:
        signature.bind(*args, **options)
    except TypeError as exc:
        named = (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        valid = [q.name for q in signature.parameters.values() if q.kind in named][len(args) :]
        raise DeviceError(f"{backend}: {exc}; options are {', '.join(valid) or 'none'}") from None
    return factory(*args, **options)


def parse_options(items: list[str] | None) -> dict[str, object]:
    """`["dram_size=0x1000", "user=/dev/x"]` -> {"dram_size": 4096, "user": "/dev/x"}: backend options from a
    command line (integers in any Python base become ints, `true`/`false` booleans, the rest stay text)."""
    options: dict[str, object] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise DeviceError(f"a device option must look like key=value, got {item!r}")
        value: object = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            try:
                value = int(text, 0)
            except ValueError:
                pass
        options[key] = value
    return options
