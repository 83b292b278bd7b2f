"""Every validation rule, triggered on purpose, with the message fragment it must produce.

Model-level rules go through write_enf (the writer refuses to produce an invalid file); byte-level rules patch a
valid image (fixing the CRC unless the test is about the CRC) and go through read_enf. A few semantic rules are
also reached from bytes to show that the reader runs the same validator as the writer.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable

import pytest
from enf_samples import (
    fix_crc,
    minimal_enf,
    patch,
    sample_enf,
    sample_image,
    section,
    section_entries,
    set_header,
    with_meta,
)
from nux.enf import (
    DType,
    Enf,
    EnfError,
    HostGraph,
    Layout,
    SectionKind,
    Step,
    StepKind,
    TensorRole,
    read_enf,
    validate_enf,
    write_enf,
)
from nux.enf.layout import CODE_HEADER, HEADER, HOST_HEADER, SECTION, TENSOR, TENSORS_HEADER
from nux.isa import NpuConfig, Opcode

# ------------------------------------------------------------------------------------------------ model level


def _tensor(enf: Enf, index: int, **changes) -> Enf:
    enf.tensors[index] = dataclasses.replace(enf.tensors[index], **changes)
    return enf


def _program(enf: Enf, index: int, **changes) -> Enf:
    enf.programs[index] = dataclasses.replace(enf.programs[index], **changes)
    return enf


def _set(**changes) -> Callable[[Enf], Enf]:
    return lambda enf: dataclasses.replace(enf, **changes)


BAD_OPCODE = struct.pack("<8I", 0xF, 0, 0, 0, 0, 0, 0, 0)
RESERVED_BIT = struct.pack("<8I", int(Opcode.END), 0, 0, 0, 0, 0, 0, 0x80000000)  # END, a reserved bit set

MODEL_RULES: dict[str, tuple[Callable[[Enf], Enf], str]] = {
    "config type": (_set(config={"dim": 8}), "config must be an NpuConfig"),
    "arena zero": (_set(arena_size=0), "arena_size 0 must be in [1, 4294967295]"),
    "arena 2^32": (_set(arena_size=2**32), "arena_size 4294967296 must be in"),
    "arena vs dram": (
        _set(config=NpuConfig(dim=8, sp_rows=512, acc_rows=256, dram_addr_bits=16), arena_size=70000),
        "exceeds device DRAM (2^16 bytes)",
    ),
    "arena type": (_set(arena_size="big"), "arena_size must be an integer"),
    "code empty": (lambda e: _program(e, 1, code=b""), "program 1 ('fc'): code is empty"),
    "code length": (
        lambda e: _program(e, 1, code=e.programs[1].code + b"\0"), "code length 65 is not a multiple of 32"
    ),
    "code type": (lambda e: _program(e, 0, code="load"), "code must be bytes"),
    "code alignment": (lambda e: _program(e, 1, offset=264), "arena offset 264 is not 32-byte aligned"),
    "code outside arena": (lambda e: _program(e, 1, offset=16384 - 32), "region [16352, 16416) is outside the arena"),
    "code negative offset": (lambda e: _program(e, 1, offset=-32), "outside the arena"),
    "illegal opcode": (
        lambda e: _program(e, 2, code=e.programs[2].code[:32] + BAD_OPCODE + e.programs[2].code[32:]),
        "program 2: code does not decode: instruction 1: illegal opcode 15",
    ),
    "reserved bits": (
        lambda e: _program(e, 0, code=RESERVED_BIT),
        "program 0 ('conv1'): code does not decode: instruction 0 (end): reserved bits",
    ),
    "code overlaps code": (lambda e: _program(e, 1, offset=96), "program 1 ('fc') [96, 160) overlaps program 0"),
    "code overlaps consts": (
        lambda e: _program(e, 1, offset=992), "program 1 ('fc') [992, 1056) overlaps consts [512, 1024)"
    ),
    "consts outside arena": (_set(const_offset=16000), "consts: region [16000, 16512) is outside the arena"),
    "consts type": (_set(consts=[1, 2]), "consts must be bytes"),
    "tensor overlaps code": (lambda e: _tensor(e, 3, offset=1000), "tensor 'logits' [1000, 1040) overlaps consts"),
    "tensor overlaps program": (
        lambda e: _tensor(e, 4, offset=1100), "tensor 'scalar' [1100, 1101) overlaps program 2"
    ),
    "tensor outside arena": (lambda e: _tensor(e, 5, offset=16380), "tensor 5 ('probs'): region [16380, 16444)"),
    "tensor size": (lambda e: _tensor(e, 1, size=40), "size 40 does not match shape (4, 10) uint8 rows (expected 64"),
    "tensor rank": (lambda e: _tensor(e, 2, shape=(1,) * 9, size=4), "rank 9 exceeds 8"),
    "tensor zero dim": (lambda e: _tensor(e, 2, shape=(0, 16), size=0), "has a dimension outside [1, 2^32)"),
    "tensor nhwc rank": (lambda e: _tensor(e, 0, shape=(3, 8, 8), size=192), "layout nhwc needs rank 4"),
    "tensor rows rank": (lambda e: _tensor(e, 4, layout=Layout.ROWS), "layout rows needs rank >= 1"),
    "tensor shape type": (lambda e: _tensor(e, 0, shape="1x3x8x8"), "shape must be a tuple"),
    "tensor dup name": (lambda e: _tensor(e, 2, name="input"), "tensor 2 ('input'): duplicate tensor name"),
    "tensor empty name": (lambda e: _tensor(e, 2, name=""), "tensor 2: name is empty"),
    "tensor NUL name": (lambda e: _tensor(e, 2, name="a\0b"), "contains a NUL character"),
    "tensor long name": (lambda e: _tensor(e, 2, name="n" * 4097), "name is 4097 bytes long, the limit is 4096"),
    "tensor surrogate": (lambda e: _tensor(e, 2, name="\udc80"), "not encodable as UTF-8"),
    "tensor name type": (lambda e: _tensor(e, 2, name=7), "name must be a str"),
    "tensor nan scale": (lambda e: _tensor(e, 0, scale=float("nan")), "scale nan must be a finite number > 0"),
    "tensor zero scale": (lambda e: _tensor(e, 0, scale=0.0), "scale 0.0 must be a finite number > 0"),
    "tensor int8 zp": (lambda e: _tensor(e, 0, zero_point=200), "zero_point 200 is outside [-128, 127] for int8"),
    "tensor uint8 zp": (lambda e: _tensor(e, 1, zero_point=-1), "zero_point -1 is outside [0, 255] for uint8"),
    "tensor float zp": (lambda e: _tensor(e, 2, zero_point=1), "zero_point 1 is outside [0, 0] for float32"),
    "tensor role": (lambda e: _tensor(e, 0, role=5), "tensor 0 ('input'): role: unknown value 5"),
    "tensor dtype": (lambda e: _tensor(e, 0, dtype=9), "dtype: unknown value 9"),
    "tensor entry type": (lambda e: _set(tensors=[*e.tensors, "x"])(e), "tensor 6: expected a TensorInfo"),
    "program name": (
        lambda e: _program(e, 0, name="a\0"), "program 0 ('a\\x00'): name 'a\\x00' contains a NUL character"
    ),
    "host unknown tensor": (
        lambda e: _set(host_graphs=[HostGraph(b"x", ("nope",), ("probs",))])(e),
        "host graph 0: input 'nope' is not in the tensor table",
    ),
    "host no outputs": (lambda e: _set(host_graphs=[HostGraph(b"x", ("input",), ())])(e), "has no outputs"),
    "host empty onnx": (lambda e: _set(host_graphs=[HostGraph(b"", (), ("probs",))])(e), "onnx must be non-empty"),
    "host duplicate edge": (
        lambda e: _set(host_graphs=[HostGraph(b"x", ("input", "input"), ("probs",))])(e),
        "inputs list a tensor twice",
    ),
    "host edge type": (
        lambda e: _set(host_graphs=[HostGraph(b"x", (["input"],), ("probs",))])(e), "inputs must be tensor names"
    ),
    "step program": (lambda e: _set(steps=[Step(StepKind.NPU, 3)])(e), "step 0: program 3 does not exist"),
    "step host": (lambda e: _set(steps=[Step(StepKind.HOST, 2)])(e), "step 0: host graph 2 does not exist"),
    "step kind": (lambda e: _set(steps=[Step(7, 0)])(e), "step 0: kind: unknown value 7"),
    "steps type": (_set(steps={"a": 1}), "steps must be a list"),
    "too many steps": (_set(steps=[Step(StepKind.NPU, 0)] * 65537), "too many steps: 65537 (limit 65536)"),
    "meta set": (_set(meta={"a": {1, 2}}), "meta is not plain JSON"),
    "meta nan": (_set(meta={"a": float("nan")}), "meta is not plain JSON"),
    "meta tuple": (_set(meta={"a": (1, 2)}), "meta does not survive a JSON round trip"),
    "meta type": (_set(meta=[1]), "meta must be a dict"),
    "meta surrogate": (_set(meta={"a": "x\ud800"}), "meta is not encodable as UTF-8"),
    "meta surrogate key": (_set(meta={"\udfff": 1}), "meta is not encodable as UTF-8"),
}


@pytest.mark.parametrize("rule", MODEL_RULES)
def test_model_rule(rule):
    mutate, fragment = MODEL_RULES[rule]
    enf = mutate(sample_enf())
    with pytest.raises(EnfError) as info:
        write_enf(enf)
    assert fragment in str(info.value)
    with pytest.raises(EnfError, match="."):  # one validator for both: validate_enf says the same
        validate_enf(enf)


def test_validate_rejects_non_enf():
    with pytest.raises(EnfError, match="expected an Enf, got dict"):
        write_enf({"programs": []})


def test_regions_may_touch_and_tensors_may_share():
    enf = minimal_enf()
    enf.tensors[1] = dataclasses.replace(enf.tensors[1], offset=enf.tensors[0].offset)  # in-place output
    enf.consts, enf.const_offset = b"\1" * 32, 32  # right after the 32-byte program
    assert read_enf(write_enf(enf)) == enf


# ------------------------------------------------------------------------------------------------- byte level

IMAGE = sample_image()
_TENSORS_AT = section(IMAGE, SectionKind.TENSORS)[1]
_ENTRY0 = _TENSORS_AT + TENSORS_HEADER.size  # first tensor entry
_CODE1 = section(IMAGE, SectionKind.CODE, 1)
_HOST1 = section(IMAGE, SectionKind.HOST, 1)
_STEPS = section(IMAGE, SectionKind.STEPS)
_MEMPLAN = section(IMAGE, SectionKind.MEMPLAN)


def _entry(nth: int) -> int:
    """File offset of the nth section-table entry."""
    return section_entries(IMAGE)[nth][0]


def _kind_of(nth: int, kind: int) -> bytes:
    return patch(IMAGE, _entry(nth), "I", kind)


def _with_meta(text: bytes) -> bytes:
    return with_meta(IMAGE, text)


def _tensor_field(index: int, field: str, fmt: str, value: int) -> bytes:
    return patch(IMAGE, _ENTRY0 + index * TENSOR.size + TENSOR.offsets[field], fmt, value)


BYTE_RULES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty file": (lambda: b"", "not an ENF file: bad magic b''"),
    "bad magic": (lambda: b"PK\3\4" + IMAGE[4:], "not an ENF file: bad magic"),
    "short header": (lambda: IMAGE[:40], "header: truncated: HEADER needs 80 bytes at offset 0, 40 present"),
    "major version": (lambda: set_header(IMAGE, "version_major", 2), "unsupported ENF format version 2.0"),
    "header size small": (lambda: set_header(IMAGE, "header_size", 72), "bad header_size 72"),
    "header size odd": (lambda: set_header(IMAGE, "header_size", 84), "bad header_size 84"),
    "header size huge": (lambda: set_header(IMAGE, "header_size", 2**32 - 8), "bad header_size 4294967288"),
    "truncated": (lambda: IMAGE[:-8], f"file truncated: header says {len(IMAGE)} bytes, got {len(IMAGE) - 8}"),
    "trailing": (lambda: IMAGE + b"\0" * 8, "file has trailing bytes"),
    "checksum": (lambda: patch(IMAGE, len(IMAGE) - 20, "B", 0x55, crc=False), "checksum mismatch"),
    "checksum field": (
        lambda: set_header(IMAGE, "checksum", 1, crc=False), "checksum mismatch: header says 0x00000001"
    ),
    "required flag": (lambda: set_header(IMAGE, "flags", 0x4), "unknown required flags 0x0004"),
    "isa version": (lambda: set_header(IMAGE, "isa_version_major", 3), "code was assembled for ISA 3.0"),
    "config": (lambda: set_header(IMAGE, "dim", 5), "target NpuConfig is invalid: dim must be 4, 8, 16 or 32"),
    "section count cap": (lambda: set_header(IMAGE, "section_count", 65537), "section_count 65537 exceeds the limit"),
    "section table outside": (lambda: set_header(IMAGE, "section_count", 1000), "section table [80, 24080) must be"),
    "section table in header": (lambda: set_header(IMAGE, "section_table_offset", 40), "section table [40,"),
    "section table misaligned": (lambda: set_header(IMAGE, "section_table_offset", 84), "must be 8-aligned"),
    "unknown kind": (lambda: _kind_of(3, 99), "section 3: unknown section kind 99"),
    "section outside file": (
        lambda: patch(IMAGE, _entry(0) + 16, "Q", 2**63), "section 0 (MEMPLAN): [", ),
    "section misaligned": (lambda: patch(IMAGE, _entry(0) + 8, "Q", _MEMPLAN[1] + 4), "must start 8-aligned"),
    "section overlap": (lambda: patch(IMAGE, _entry(1) + 8, "Q", _MEMPLAN[1] + 8), "overlaps section 0 (MEMPLAN)"),
    "section over table": (lambda: patch(IMAGE, _entry(0) + 8, "Q", 88), "overlaps section table"),
    "two memplans": (lambda: _kind_of(6, SectionKind.MEMPLAN), "file has 2 MEMPLAN sections; allowed: 1..1"),
    "no tensors": (lambda: _kind_of(1, SectionKind.CONST), "file has 0 TENSORS sections; allowed: 1..1"),
    "memplan size": (lambda: patch(IMAGE, _MEMPLAN[0] + 16, "Q", 16), "section 0 (MEMPLAN): section is 16 bytes"),
    "const size": (lambda: patch(IMAGE, _MEMPLAN[1] + 16, "Q", 7), "MEMPLAN const_size 7 != CONST section size 512"),
    "arena from file": (lambda: patch(IMAGE, _MEMPLAN[1], "Q", 0), "arena_size 0 must be in"),
    "tensor count": (lambda: patch(IMAGE, _TENSORS_AT, "I", 1000), "1000 tensor entries need 72008 bytes"),
    "tensor count cap": (lambda: patch(IMAGE, _TENSORS_AT, "I", 70000), "tensor count 70000 exceeds the limit 65536"),
    "tensor name pool": (lambda: _tensor_field(2, "name_len", "I", 5000), "tensor 2: name [14, 5014) outside"),
    "tensor name utf8": (
        lambda: patch(IMAGE, _TENSORS_AT + TENSORS_HEADER.size + 6 * TENSOR.size, "B", 0xFF),
        "tensor 0: name is not valid UTF-8",
    ),
    "tensor rank byte": (lambda: _tensor_field(1, "rank", "B", 9), "tensor 1 ('conv1_out'): rank 9 exceeds 8"),
    "tensor unused dims": (lambda: _tensor_field(1, "rank", "B", 1), "unused dims (10, 0, 0, 0, 0, 0, 0) must be zero"),
    "tensor dtype byte": (lambda: _tensor_field(0, "dtype", "B", 9), "tensor 0 ('input'): dtype: unknown value 9"),
    "tensor layout byte": (lambda: _tensor_field(0, "layout", "B", 3), "layout: unknown value 3"),
    "tensor size from file": (lambda: _tensor_field(3, "size", "Q", 41), "size 41 does not match shape (1, 10) int32"),
    "tensor dup from file": (lambda: patch(IMAGE, _ENTRY0 + TENSOR.size, "II", 0, 5), "duplicate tensor name"),
    "tensor overlap from file": (
        lambda: _tensor_field(3, "arena_offset", "Q", 0),
        "tensor 'logits' [0, 40) overlaps program 0 ('conv1')",
    ),
    "code name length": (
        lambda: patch(IMAGE, _CODE1[1] + CODE_HEADER.offsets["name_len"], "I", 5000), "name length 5000 exceeds 4096"
    ),
    "code size": (lambda: patch(IMAGE, _CODE1[1] + 8, "Q", 2**40), "section is 96 bytes, its contents say"),
    "code decode from file": (
        lambda: patch(IMAGE, _CODE1[1] + 32, "I", 0xE), "program 1 ('fc'): code does not decode: instruction 0"
    ),
    "code alignment from file": (lambda: patch(IMAGE, _CODE1[1], "Q", 260), "not 32-byte aligned"),
    "host counts cap": (lambda: patch(IMAGE, _HOST1[1], "II", 40000, 40000), "exceed the limit 65536"),
    "host size": (lambda: patch(IMAGE, _HOST1[1], "I", 3), "section is"),
    "host tensor index": (
        lambda: patch(IMAGE, _HOST1[1] + HOST_HEADER.size, "I", 6), "tensor index 6 out of range (the table has 6"
    ),
    "host no outputs from file": (
        lambda: patch(IMAGE, _HOST1[1], "IIQ", 2, 0, _HOST1[2] - 24), "host graph 1: has no outputs"
    ),
    "steps count": (lambda: patch(IMAGE, _STEPS[1], "I", 7), "section is 56 bytes, its contents say 64"),
    "steps cap": (lambda: patch(IMAGE, _STEPS[1], "I", 70000), "step count 70000 exceeds the limit 65536"),
    "step kind from file": (lambda: patch(IMAGE, _STEPS[1] + 8, "I", 2), "step 0 kind: unknown value 2"),
    "step index from file": (lambda: patch(IMAGE, _STEPS[1] + 12, "I", 9), "step 0: program 9 does not exist"),
    "meta json": (lambda: _with_meta(b"{not json"), "META is not UTF-8 JSON"),
    "meta utf8": (lambda: _with_meta(b'{"a": "\xff"}'), "META is not UTF-8 JSON"),
    "meta array": (lambda: _with_meta(b"[1, 2]"), "META must be a JSON object, got list"),
    "meta deep": (lambda: _with_meta(b"[" * 100000 + b"]" * 100000), "META is not UTF-8 JSON"),
    "meta infinity": (lambda: _with_meta(b'{"a": 1e999}'), "meta is not plain JSON"),
    "meta lone surrogate": (lambda: _with_meta(b'{"a": "\\ud800"}'), "meta is not encodable as UTF-8"),
    "meta surrogate key": (lambda: _with_meta(b'{"\\udc00x": [1]}'), "meta is not encodable as UTF-8"),
}


@pytest.mark.parametrize("rule", BYTE_RULES)
def test_byte_rule(rule):
    build, fragment = BYTE_RULES[rule]
    with pytest.raises(EnfError) as info:
        read_enf(build())
    assert fragment in str(info.value)


def test_newer_minor_version_with_longer_header_optional_section_and_flag_is_read():
    """A 1.x file from a newer writer: bigger header, ignorable flag bit, an optional section kind we don't know."""
    enf = sample_enf()
    entries = section_entries(IMAGE)
    count = len(entries) + 1
    header_size = HEADER.size + 16
    data_at = header_size + count * SECTION.size
    shift = data_at - entries[0][2]
    table = b"".join(SECTION.pack(kind=k, offset=off + shift, size=size) for _, k, off, size in entries)
    extra = b"future section!!"
    pad = bytes(-len(IMAGE) % 8)
    table += SECTION.pack(kind=0x8001, offset=len(IMAGE) + len(pad) + shift, size=len(extra))
    body = IMAGE[entries[0][2] :] + pad + extra
    head = bytearray(IMAGE[: HEADER.size] + b"\xaa" * 16)
    out = bytearray(head + table + body)
    for name, value in [("version_minor", 7), ("header_size", header_size), ("flags", 0x10000),
                        ("file_size", len(out)), ("section_count", count),
                        ("section_table_offset", header_size)]:
        at = HEADER.offsets[name]
        code = next(m.code for m in HEADER.members if m.name == name)
        struct.pack_into("<" + code, out, at, value)
    assert read_enf(fix_crc(out)) == enf


def test_error_is_a_nux_error():
    from nux.errors import NuxError

    assert issubclass(EnfError, NuxError)


def test_size_message_names_dtype_and_layout():
    enf = _tensor(sample_enf(), 0, role=TensorRole.OUTPUT, dtype=DType.INT8, layout=Layout.PLAIN, size=193)
    with pytest.raises(EnfError, match=r"size 193 does not match shape \(1, 3, 8, 8\) int8 plain \(expected 192"):
        write_enf(enf)


def test_read_rejects_non_bytes():
    with pytest.raises(EnfError, match="read_enf needs the file's bytes, got str"):
        read_enf("model.enf")
