"""The build cache: content-hash keys, hits and misses, the cross-process lock, errors, the cache location.

These builds use the stub top without tracing and at -O0, in a private cache directory, so they are cheap (a few
seconds each) and never touch the user's cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nux.isa import NPU_ID, REG
from nux.sim.build import BuildOptions, SimBuildError, build, build_key, cache_dir
from nux.sim.library import SimError, Simulator, load_library
from simrig import STUB, STUB_CONFIG, stub_parameters

CHEAP = BuildOptions(opt_cxx="-O0", trace=False)


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NUX_SIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def stub_build(**kwargs):
    args = {"verilog": STUB.read_text(), "options": CHEAP, "parameters": stub_parameters(STUB_CONFIG)}
    return build(STUB_CONFIG, **{**args, **kwargs})


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NUX_SIM_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NUX_SIM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "nux" / "sim"


def test_key_covers_verilog_options_and_parameters() -> None:
    verilog = STUB.read_text()
    params = stub_parameters(STUB_CONFIG)
    base = build_key(verilog, STUB_CONFIG, CHEAP, params)
    assert build_key(verilog, STUB_CONFIG, CHEAP, dict(params)) == base  # deterministic
    assert build_key(verilog + "\n// edited\n", STUB_CONFIG, CHEAP, params) != base
    assert build_key(verilog, STUB_CONFIG, BuildOptions(opt_cxx="-O1", trace=False), params) != base
    assert build_key(verilog, STUB_CONFIG, BuildOptions(opt_cxx="-O0", trace=True), params) != base
    assert build_key(verilog, STUB_CONFIG, CHEAP, {**params, "CMDQ_DEPTH": 2}) != base


def test_concurrent_builds_build_once_then_the_cache_hits(private_cache) -> None:
    """Two processes ask for the same library at once: one builds (showing progress), the other waits on the lock
    and reuses it; a third request is a plain cache hit. (One build serves all three checks: builds are slow.)"""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from simrig import STUB, STUB_CONFIG, stub_parameters
        from nux.sim.build import BuildOptions, build
        b = build(STUB_CONFIG, verilog=STUB.read_text(), options=BuildOptions(opt_cxx="-O0", trace=False),
                  parameters=stub_parameters(STUB_CONFIG), progress=True)
        print(json.dumps({{"library": str(b.library), "built": b.build_seconds is not None}}))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results.append((json.loads(out), err))
    (first, first_err), (second, second_err) = sorted(results, key=lambda r: not r[0]["built"])
    assert (first["built"], second["built"]) == (True, False)  # one built, the other waited and reused it
    assert first["library"] == second["library"]
    assert "compiling" in first_err and second_err == ""  # progress is shown only while building
    hit = stub_build(progress=True)
    assert hit.build_seconds is None and str(hit.library) == first["library"]
    sim = Simulator(load_library(hit.library), dram_size=1 << 16)  # the library works ...
    assert sim.mmio_read(REG["ID"]) == NPU_ID
    with pytest.raises(SimError, match="built without tracing"):  # ... and says why it cannot trace
        sim.trace_open(private_cache / "x.fst")
    sim.close()
    meta = json.loads((hit.entry / "build.json").read_text())
    assert meta["config"] == STUB_CONFIG.to_dict() and meta["cxx"] == "-O0"
    entries = sorted(p.name for p in private_cache.iterdir() if p.is_dir())
    assert len(entries) == 2 and entries[0] == hit.key  # no half-built leftovers ...
    assert entries[1].startswith("runtime-")  # ... and the Verilator runtime objects kept for the next build


def test_bad_verilog_is_a_clear_error_and_leaves_no_entry(private_cache) -> None:
    broken = STUB.read_text().replace("endmodule", "this is not verilog\nendmodule")
    with pytest.raises(SimBuildError, match="verilator failed"):
        stub_build(verilog=broken, progress=False)
    assert not [p for p in private_cache.iterdir() if p.is_dir()]
