"""`nux info` prints identity, config, status and counters for a device string."""

from __future__ import annotations

from nux.cli import main


def test_info_on_golden(capsys):
    assert main(["info", "--device", "golden", "-O", "dram_size=0x100000"]) == 0
    out = capsys.readouterr().out
    assert "id       0x4e555831 (NUX1)" in out
    assert "version  ISA v1.1" in out
    assert "config   dim=8  sp_rows=4096" in out  # GoldenDevice's default NpuConfig
    assert "memory   0x100000 bytes" in out
    assert "idle, 0 queued, 4 free slots, 0 completed" in out
    for counter in ("CYCLES", "MACS", "INSTRET", "STALL_STORE"):
        assert f"  {counter}" in out


def test_info_on_a_10_golden_device(capsys):
    assert main(["info", "--device", "golden", "-O", "dram_size=0x100000", "-O", "isa_minor=0"]) == 0
    assert "version  ISA v1.0" in capsys.readouterr().out


def test_info_errors_are_one_line(capsys):
    assert main(["info", "--device", "xdma:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nux: error: XDMA user BAR (MMIO) /dev/xdma9_user not found; is the XDMA driver loaded")
    assert main(["info", "--device", "golden", "-O", "oops"]) == 1
    assert "must look like key=value" in capsys.readouterr().err
