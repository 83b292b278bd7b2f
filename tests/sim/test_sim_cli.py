"""`nux sim build` and `nux sim cache`."""

from __future__ import annotations

from nux.cli import main
from simrig import STUB, STUB_CONFIG


def test_build_prints_the_library(capsys) -> None:
    # the stub's defaults are STUB_CONFIG, so this shares the cache entry the harness tests use
    args = ["--dim", "4", "--sp-rows", str(STUB_CONFIG.sp_rows), "--acc-rows", str(STUB_CONFIG.acc_rows)]
    assert main(["sim", "build", *args, "--verilog", str(STUB)]) == 0
    out = capsys.readouterr().out
    assert ("cached: " in out or "built in " in out) and out.strip().endswith("libnux_sim.so")


def test_bad_config_is_one_line_error(capsys) -> None:
    assert main(["sim", "build", "--dim", "3"]) == 1
    assert "nux: error: dim must be 4, 8, 16 or 32" in capsys.readouterr().err


def test_cache_lists_and_clears(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NUX_SIM_CACHE", str(tmp_path / "c"))
    assert main(["sim", "cache"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"cache: {tmp_path / 'c'}", "  (empty)"]
    entry = tmp_path / "c" / "0123"
    entry.mkdir(parents=True)
    (entry / "libnux_sim.so").write_bytes(b"")
    (entry / "build.json").write_text('{"config": {"dim": 4}, "build_seconds": 1.5}')
    assert main(["sim", "cache"]) == 0
    assert "0123  dim=4  (1.5 s)" in capsys.readouterr().out
    assert main(["sim", "cache", "--clear"]) == 0
    assert not (tmp_path / "c").exists()
