"""Npu.load refuses an ENF whose META holds a lone surrogate with an EnfError (found by fuzzing: it used to be
a raw UnicodeEncodeError from the validator), whether given as an Enf, as bytes or as a file."""

from __future__ import annotations

import dataclasses
import zlib

import pytest
from npu_programs import DEFAULT_CONFIG, copy_enf
from nux.driver import Npu
from nux.enf import EnfError, write_enf
from nux.enf.layout import HEADER

CHECKSUM_AT = HEADER.offsets["checksum"]


def image_with_name(escaped: bytes) -> bytes:
    """A valid copy ENF whose META name is `escaped` (6 bytes of JSON, e.g. a \\u escape), CRC fixed."""
    image = write_enf(dataclasses.replace(copy_enf(DEFAULT_CONFIG, (1, 8)), meta={"name": "______"}))
    out = bytearray(image.replace(b'"______"', b'"' + escaped + b'"'))
    assert out != image and len(escaped) == 6
    out[CHECKSUM_AT : CHECKSUM_AT + 4] = bytes(4)
    out[CHECKSUM_AT : CHECKSUM_AT + 4] = zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def test_load_refuses_a_lone_surrogate_in_meta(tmp_path):
    data = image_with_name(rb"\ud800")
    path = tmp_path / "bad.enf"
    path.write_bytes(data)
    enf = dataclasses.replace(copy_enf(DEFAULT_CONFIG, (1, 8)), meta={"name": "\udc00"})
    with Npu("golden", config=DEFAULT_CONFIG) as npu:
        for source in (data, path, enf):
            with pytest.raises(EnfError, match="meta is not encodable as UTF-8.*lone surrogate"):
                npu.load(source)
        assert npu.models == []
        assert npu.load(image_with_name(rb"\u00e9")).name == "\u00e9"  # other escapes are fine
