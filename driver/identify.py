"""Who is on the other end: the ID, VERSION and CFG_* registers, checked and turned into an NpuConfig."""

from __future__ import annotations

from dataclasses import dataclass

from nux.device import Device, DeviceError
from nux.errors import NuxError
from nux.isa import CONFIG_FIELDS, ISA_VERSION, NPU_ID, REG, VERSION, NpuConfig


@dataclass(frozen=True)
class Identity:
    version: tuple[int, int]
    config: NpuConfig


def identify(device: Device) -> Identity:
    """Read the identification registers; refuse anything that is not a nux NPU of this ISA major version.

    A minor version above ours is accepted (minor versions only add), a different major is not: its encodings
    or register meanings may differ, and running code on it would give silently wrong results.
    """
    ident = device.read32(REG["ID"])
    if ident != NPU_ID:
        raise DeviceError(
            f"{device!r} is not a nux NPU: ID register reads 0x{ident:08x}, expected 0x{NPU_ID:08x} ('NUX1') "
            "(wrong device, FPGA image not loaded, or wrong BAR?)"
        )
    fields = VERSION.decode(device.read32(VERSION.offset))
    version = (fields["MAJOR"], fields["MINOR"])
    if version[0] != ISA_VERSION[0]:
        raise DeviceError(
            f"the NPU implements ISA v{version[0]}.{version[1]}, this driver ISA v{ISA_VERSION[0]}.{ISA_VERSION[1]}: "
            "major versions differ, so programs are not compatible (update the driver or the FPGA image)"
        )
    values = {field: device.read32(reg.offset) for field, reg in CONFIG_FIELDS.items()}
    try:
        config = NpuConfig(**values)
    except NuxError as exc:
        raise DeviceError(f"the NPU reports an invalid configuration {values}: {exc}") from None
    return Identity(version, config)
