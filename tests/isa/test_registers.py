"""The register map declaration: typed fields, the generated flags, descriptor words, and the import-time checks."""

from __future__ import annotations

import dataclasses
import random

import pytest
from nux.isa import (
    CONFIG_FIELDS,
    CTRL,
    IRQ_ENABLE,
    IRQ_STATUS,
    PERF_COUNTERS,
    REGISTERS,
    STATUS,
    TASK_FIELDS,
    TEST_CONFIGS,
    VERSION,
    Access,
    BitField,
    Ctrl,
    ErrorCode,
    Irq,
    NpuConfig,
    Register,
    Status,
    constant_registers,
    registers,
    task_fields,
    task_words,
)


def test_bit_field_get_put_round_trip_and_refuse_overflow():
    f = BitField("X", 8, 8, "")
    assert f.mask == 0xFF00 and f.max == 255 and f.msb == 15
    assert f.put(0xAB) == 0xAB00 and f.get(0x12AB34) == 0xAB
    for bad in (-1, 256):
        with pytest.raises(ValueError, match="does not fit the 8-bit field X"):
            f.put(bad)


def test_register_encode_decode_are_inverse():
    rng = random.Random(1)
    for reg in (r for r in REGISTERS if r.fields):
        for _ in range(20):
            values = {f.name: rng.randrange(f.max + 1) for f in reg.fields}
            assert reg.decode(reg.encode(**values)) == values
    with pytest.raises(KeyError, match="STATUS has no field 'NOPE'"):
        STATUS.field("NOPE")


def test_flags_are_the_one_bit_fields():
    for flag, reg in ((Status, STATUS), (Ctrl, CTRL), (Irq, IRQ_STATUS)):
        one_bit = {f.name: f.mask for f in reg.fields if f.width == 1}
        assert {m.name: int(m) for m in flag} == one_bit
    assert STATUS.field("ERROR_CODE").enum is ErrorCode and IRQ_ENABLE.fields == IRQ_STATUS.fields


def test_every_config_field_has_its_register():
    assert list(CONFIG_FIELDS) == list(NpuConfig().to_dict())
    for config in TEST_CONFIGS:
        values = constant_registers(config)
        assert {field: values[reg] for field, reg in CONFIG_FIELDS.items()} == config.to_dict()
        assert values[VERSION] == VERSION.value and all(r.access is Access.R for r in values)


def test_task_words_split_64_bit_fields_and_round_trip():
    desc = dict(prog_base=0x1_2345_6780, prog_len=7, arena_base=0xFFFF_FFFF_0000_0000, arena_size=1 << 20, tag=9)
    words = task_words(**desc)
    assert {r.name: v for r, v in words.items()} == {
        "TASK_PROG_BASE_LO": 0x2345_6780, "TASK_PROG_BASE_HI": 1, "TASK_PROG_LEN": 7, "TASK_ARENA_BASE_LO": 0,
        "TASK_ARENA_BASE_HI": 0xFFFF_FFFF, "TASK_ARENA_SIZE": 1 << 20, "TASK_TAG": 9}
    assert task_fields({r.name: v for r, v in words.items()}) == desc
    assert list(TASK_FIELDS) == list(desc)
    with pytest.raises(ValueError, match="a task descriptor has the fields"):
        task_words(prog_base=0)


def _broken(registers_: tuple[Register, ...]) -> None:
    with pytest.raises(AssertionError):
        registers.check_map(registers_, PERF_COUNTERS)


def _with(new: Register) -> tuple[Register, ...]:
    return tuple(new if r.name == new.name else r for r in REGISTERS)


def test_the_import_time_check_catches_bad_edits():
    registers.check_map(REGISTERS, PERF_COUNTERS)  # the real map passes
    extra = Register("DUP", STATUS.offset, Access.R, "")
    _broken((*REGISTERS, extra))  # two registers at one offset
    _broken((*REGISTERS, dataclasses.replace(extra, offset=0x202)))  # misaligned
    _broken((*REGISTERS, dataclasses.replace(extra, offset=PERF_COUNTERS[0].hi)))  # on a perf counter's high word
    _broken(_with(dataclasses.replace(STATUS, fields=(*STATUS.fields, BitField("X", 20, 8, "")))))  # overlap
    _broken(_with(dataclasses.replace(STATUS, fields=(BitField("C", 8, 2, "", enum=ErrorCode),))))  # enum too wide
    _broken(tuple(r for r in REGISTERS if r.config != "dim"))  # an NpuConfig field unreported
    _broken(tuple(r for r in REGISTERS if r.name != "TASK_PROG_BASE_LO"))  # a descriptor word missing
