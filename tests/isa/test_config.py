"""NpuConfig validates itself and explains why an ENF cannot run on a device."""

import pytest
from nux.isa import ConfigError, NpuConfig


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 6}, "dim must be"),
        ({"sp_rows": 1000}, "sp_rows must be a power of two"),
        ({"acc_rows": 4}, "acc_rows must be"),
        ({"axi_data_bits": 48}, "axi_data_bits"),
        ({"dram_addr_bits": 8}, "dram_addr_bits"),
        ({"cmdq_depth": 0}, "cmdq_depth"),
    ],
)
def test_invalid_configs_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        NpuConfig(**kwargs)


def test_compatibility():
    program = NpuConfig(dim=8, sp_rows=512, acc_rows=256)
    assert (
        program.compatibility_error(NpuConfig(dim=8, sp_rows=1024, acc_rows=256, axi_data_bits=128)) is None
    )
    assert "dim 8 != device dim 4" in program.compatibility_error(NpuConfig(dim=4, sp_rows=512, acc_rows=256))
    assert "sp_rows 512 > device" in program.compatibility_error(NpuConfig(dim=8, sp_rows=256, acc_rows=256))


def test_dict_round_trip_and_unknown_fields():
    config = NpuConfig(dim=16, sp_rows=2048, acc_rows=512)
    assert NpuConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown NpuConfig fields"):
        NpuConfig.from_dict({"dim": 8, "rows": 3})
