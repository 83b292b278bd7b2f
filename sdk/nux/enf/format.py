"""Reading and writing ENF files (spec: docs/enf.md; record layouts: layout.py).

The reader treats its input as hostile: every size and count is checked against the bytes actually present before
anything is sliced or allocated, and every failure is an EnfError saying what is wrong and where. Both directions
end in the same semantic validator (validate.py), so whatever `write_enf` accepts, `read_enf` accepts back.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from nux.enf.layout import (
    ALIGN,
    CODE_HEADER,
    CONFIG_FIELDS,
    FORMAT_VERSION,
    HEADER,
    HOST_HEADER,
    MAGIC,
    MAX_HOST_EDGES,
    MAX_NAME_BYTES,
    MAX_RANK,
    MAX_SECTIONS,
    MAX_STEPS,
    MAX_TENSORS,
    MEMPLAN,
    OPTIONAL_KIND_BASE,
    REQUIRED_FLAGS_MASK,
    SECTION,
    SECTION_COUNTS,
    STEP,
    STEPS_HEADER,
    TENSOR,
    TENSORS_HEADER,
    SectionKind,
    align,
)
from nux.enf.model import DType, Enf, EnfError, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole
from nux.enf.validate import as_enum, decode_name, encode_name, meta_json, required_isa_minor, validate_enf
from nux.isa import ISA_VERSION, ConfigError, NpuConfig

_CHECKSUM_AT = HEADER.offsets["checksum"]
_KNOWN_KINDS = frozenset(int(kind) for kind in SectionKind)


# ---------------------------------------------------------------------------------------------------- writing


def write_enf(enf: Enf) -> bytes:
    """The ENF file image of `enf` (validated first: an invalid Enf raises EnfError and writes nothing)."""
    validate_enf(enf)
    sections = _encode_sections(enf)
    table_end = HEADER.size + len(sections) * SECTION.size
    data_start = align(table_end)
    table, body = [], bytearray()
    for kind, payload in sections:  # each section 8-aligned; no padding after the last one
        body += bytes(align(len(body)) - len(body))
        table.append(SECTION.pack(kind=kind, offset=data_start + len(body), size=len(payload)))
        body += payload
    config = {name: getattr(enf.config, name) for name in CONFIG_FIELDS}
    header = HEADER.pack(
        magic=MAGIC,
        version_major=FORMAT_VERSION[0],
        version_minor=FORMAT_VERSION[1],
        header_size=HEADER.size,
        flags=0,
        checksum=0,
        file_size=data_start + len(body),
        section_table_offset=HEADER.size,
        section_count=len(sections),
        isa_version_major=ISA_VERSION[0],
        isa_version_minor=required_isa_minor(enf),
        **config,
    )
    image = bytearray(header)
    image += b"".join(table)
    image += bytes(align(table_end) - table_end)
    image += body
    struct.pack_into("<I", image, _CHECKSUM_AT, zlib.crc32(image))
    return bytes(image)


def _encode_sections(enf: Enf) -> list[tuple[SectionKind, bytes]]:
    index_of = {t.name: i for i, t in enumerate(enf.tensors)}
    sections = [
        (
            SectionKind.MEMPLAN,
            MEMPLAN.pack(arena_size=enf.arena_size, const_offset=enf.const_offset, const_size=len(enf.consts)),
        ),
        (SectionKind.TENSORS, _encode_tensors(enf.tensors)),
    ]
    if enf.consts:
        sections.append((SectionKind.CONST, bytes(enf.consts)))
    for i, program in enumerate(enf.programs):
        name = encode_name(program.name, f"program {i}", allow_empty=True)
        head = CODE_HEADER.pack(arena_offset=program.offset, code_size=len(program.code), name_len=len(name))
        sections.append((SectionKind.CODE, _padded(head + name) + bytes(program.code)))
    for graph in enf.host_graphs:
        edges = [index_of[name] for name in (*graph.inputs, *graph.outputs)]
        head = HOST_HEADER.pack(
            input_count=len(graph.inputs), output_count=len(graph.outputs), onnx_size=len(graph.onnx)
        )
        edge_list = struct.pack(f"<{len(edges)}I", *edges)
        sections.append((SectionKind.HOST, _padded(head + edge_list) + bytes(graph.onnx)))
    if enf.steps:
        steps = b"".join(STEP.pack(kind=s.kind, index=s.index) for s in enf.steps)
        sections.append((SectionKind.STEPS, STEPS_HEADER.pack(count=len(enf.steps)) + steps))
    if enf.meta:
        sections.append((SectionKind.META, meta_json(enf.meta)))
    return sections


def _encode_tensors(tensors: list[TensorInfo]) -> bytes:
    entries, pool = [], bytearray()
    for i, t in enumerate(tensors):
        name = encode_name(t.name, f"tensor {i}", allow_empty=False)
        dims = tuple(t.shape) + (0,) * (MAX_RANK - len(t.shape))
        entries.append(
            TENSOR.pack(
                name_offset=len(pool), name_len=len(name), role=t.role, dtype=t.dtype, layout=t.layout,
                rank=len(t.shape), zero_point=t.zero_point, scale=float(t.scale), arena_offset=t.offset,
                size=t.size, dims=dims,
            )
        )
        pool += name
    return TENSORS_HEADER.pack(count=len(tensors)) + b"".join(entries) + bytes(pool)


def _padded(data: bytes) -> bytes:
    return data + bytes(align(len(data)) - len(data))


# ---------------------------------------------------------------------------------------------------- reading


def read_enf(data: bytes | bytearray | memoryview) -> Enf:
    """Parse and validate an ENF image; raise EnfError naming the first problem found."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EnfError(f"read_enf needs the file's bytes, got {type(data).__name__}")
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
    header = _read_header(view)
    config = _read_config(header)
    sections = _read_section_table(view, header)
    tensors = _read_tensors(*sections[SectionKind.TENSORS][0])
    plan = _read_memplan(*sections[SectionKind.MEMPLAN][0])
    consts = b"".join(bytes(sec) for _, sec in sections[SectionKind.CONST])
    if plan["const_size"] != len(consts):
        raise EnfError(f"MEMPLAN const_size {plan['const_size']} != CONST section size {len(consts)}")
    enf = Enf(
        config=config,
        programs=[_read_code(i, *s) for i, s in enumerate(sections[SectionKind.CODE])],
        tensors=tensors,
        arena_size=plan["arena_size"],
        consts=consts,
        const_offset=plan["const_offset"],
        host_graphs=[_read_host(i, *s, tensors) for i, s in enumerate(sections[SectionKind.HOST])],
        steps=[step for s in sections[SectionKind.STEPS] for step in _read_steps(*s)],
        meta=next((_read_meta(*s) for s in sections[SectionKind.META]), {}),
    )
    validate_enf(enf)
    need = required_isa_minor(enf)
    if header["isa_version_minor"] < need:
        raise EnfError(f"the header says ISA {header['isa_version_major']}.{header['isa_version_minor']}, but the "
                       f"code uses ISA {ISA_VERSION[0]}.{need} instructions")
    return enf


def _read_header(view: memoryview) -> dict:
    if len(view) < len(MAGIC) or bytes(view[: len(MAGIC)]) != MAGIC:
        raise EnfError(f"not an ENF file: bad magic {bytes(view[: len(MAGIC)])!r} (expected {MAGIC!r})")
    h = HEADER.unpack(view, 0, "header")
    major, minor = h["version_major"], h["version_minor"]
    if major != FORMAT_VERSION[0]:
        raise EnfError(
            f"unsupported ENF format version {major}.{minor}: this reader reads {FORMAT_VERSION[0]}.x "
            f"(up to {FORMAT_VERSION[0]}.{FORMAT_VERSION[1]} fully)"
        )
    if h["header_size"] < HEADER.size or h["header_size"] % ALIGN or h["header_size"] > len(view):
        raise EnfError(
            f"bad header_size {h['header_size']}: must be a multiple of {ALIGN}, >= {HEADER.size} and within the "
            f"{len(view)}-byte file"
        )
    if h["file_size"] != len(view):
        problem = "truncated" if h["file_size"] > len(view) else "has trailing bytes"
        raise EnfError(f"file {problem}: header says {h['file_size']} bytes, got {len(view)}")
    crc = zlib.crc32(view[:_CHECKSUM_AT])
    crc = zlib.crc32(bytes(4), crc)
    crc = zlib.crc32(view[_CHECKSUM_AT + 4 :], crc)
    if crc != h["checksum"]:
        raise EnfError(f"checksum mismatch: header says 0x{h['checksum']:08x}, content gives 0x{crc:08x} (corrupted)")
    if h["flags"] & REQUIRED_FLAGS_MASK:
        raise EnfError(f"unknown required flags 0x{h['flags'] & REQUIRED_FLAGS_MASK:04x} (newer writer?)")
    if h["isa_version_major"] != ISA_VERSION[0]:
        raise EnfError(
            f"code was assembled for ISA {h['isa_version_major']}.{h['isa_version_minor']}, "
            f"this SDK speaks ISA {ISA_VERSION[0]}.{ISA_VERSION[1]}"
        )
    return h


def _read_config(header: dict) -> NpuConfig:
    try:
        return NpuConfig(**{name: header[name] for name in CONFIG_FIELDS})
    except ConfigError as exc:
        raise EnfError(f"target NpuConfig is invalid: {exc}") from None


Sections = dict[SectionKind, list[tuple[str, memoryview]]]


def _read_section_table(view: memoryview, header: dict) -> Sections:
    count, table = header["section_count"], header["section_table_offset"]
    if count > MAX_SECTIONS:
        raise EnfError(f"section_count {count} exceeds the limit {MAX_SECTIONS}")
    table_end = table + count * SECTION.size
    if table < header["header_size"] or table % ALIGN or table_end > len(view):
        raise EnfError(
            f"section table [{table}, {table_end}) must be {ALIGN}-aligned, after the header "
            f"({header['header_size']} bytes) and inside the {len(view)}-byte file"
        )
    regions = [(0, header["header_size"], "header"), (table, table_end, "section table")]
    sections: Sections = defaultdict(list)
    for i in range(count):
        entry = SECTION.unpack(view, table + i * SECTION.size, f"section {i}")
        kind, offset, size = entry["kind"], entry["offset"], entry["size"]
        known = kind in _KNOWN_KINDS
        if not known and kind < OPTIONAL_KIND_BASE:
            raise EnfError(f"section {i}: unknown section kind {kind}")
        label = f"section {i} ({SectionKind(kind).name if known else f'optional kind 0x{kind:x}'})"
        if offset % ALIGN or offset + size > len(view):
            raise EnfError(
                f"{label}: [{offset}, {offset + size}) must start {ALIGN}-aligned and lie inside the "
                f"{len(view)}-byte file"
            )
        regions.append((offset, offset + size, label))
        if known:
            sections[SectionKind(kind)].append((label, view[offset : offset + size]))
    regions.sort()
    for (s0, e0, a), (s1, e1, b) in pairwise(regions):
        if s1 < e0:
            raise EnfError(f"{b} [{s1}, {e1}) overlaps {a} [{s0}, {e0})")
    for kind, (low, high) in SECTION_COUNTS.items():
        if not low <= len(sections[kind]) <= high:
            raise EnfError(f"file has {len(sections[kind])} {kind.name} sections; allowed: {low}..{high}")
    return sections


def _expect_size(label: str, sec: memoryview, expected: int) -> None:
    if len(sec) != expected:
        raise EnfError(f"{label}: section is {len(sec)} bytes, its contents say {expected}")


def _read_memplan(label: str, sec: memoryview) -> dict:
    _expect_size(label, sec, MEMPLAN.size)
    return MEMPLAN.unpack(sec, 0, label)


def _read_tensors(label: str, sec: memoryview) -> list[TensorInfo]:
    count = TENSORS_HEADER.unpack(sec, 0, label)["count"]
    if count > MAX_TENSORS:
        raise EnfError(f"{label}: tensor count {count} exceeds the limit {MAX_TENSORS}")
    pool_at = TENSORS_HEADER.size + count * TENSOR.size
    if pool_at > len(sec):
        raise EnfError(f"{label}: {count} tensor entries need {pool_at} bytes, the section has {len(sec)}")
    pool = sec[pool_at:]
    tensors = []
    for i in range(count):
        what = f"{label}: tensor {i}"
        e = TENSOR.unpack(sec, TENSORS_HEADER.size + i * TENSOR.size, what)
        start, length = e["name_offset"], e["name_len"]
        if length > MAX_NAME_BYTES or start + length > len(pool):
            raise EnfError(f"{what}: name [{start}, {start + length}) outside the {len(pool)}-byte name pool")
        name = decode_name(pool[start : start + length], what, allow_empty=False)
        rank, dims = e["rank"], e["dims"]
        if rank > len(dims):
            raise EnfError(f"{what} ({name!r}): rank {rank} exceeds {len(dims)}")
        if any(dims[rank:]):
            raise EnfError(f"{what} ({name!r}): unused dims {dims[rank:]} must be zero")
        tensors.append(
            TensorInfo(
                name=name,
                role=as_enum(TensorRole, e["role"], f"{what} ({name!r}): role"),
                dtype=as_enum(DType, e["dtype"], f"{what} ({name!r}): dtype"),
                shape=tuple(dims[:rank]),
                offset=e["arena_offset"],
                size=e["size"],
                scale=e["scale"],
                zero_point=e["zero_point"],
                layout=as_enum(Layout, e["layout"], f"{what} ({name!r}): layout"),
            )
        )
    return tensors


def _read_code(index: int, label: str, sec: memoryview) -> Program:
    h = CODE_HEADER.unpack(sec, 0, label)
    if h["name_len"] > MAX_NAME_BYTES:
        raise EnfError(f"{label}: program name length {h['name_len']} exceeds {MAX_NAME_BYTES}")
    code_at = align(CODE_HEADER.size + h["name_len"])
    _expect_size(label, sec, code_at + h["code_size"])
    name = decode_name(sec[CODE_HEADER.size : CODE_HEADER.size + h["name_len"]], f"program {index}", True)
    return Program(code=bytes(sec[code_at:]), offset=h["arena_offset"], name=name)


def _read_host(index: int, label: str, sec: memoryview, tensors: list[TensorInfo]) -> HostGraph:
    h = HOST_HEADER.unpack(sec, 0, label)
    n_in, n_out = h["input_count"], h["output_count"]
    if n_in + n_out > MAX_HOST_EDGES:
        raise EnfError(f"{label}: {n_in} inputs + {n_out} outputs exceed the limit {MAX_HOST_EDGES}")
    onnx_at = align(HOST_HEADER.size + 4 * (n_in + n_out))
    _expect_size(label, sec, onnx_at + h["onnx_size"])
    edges = struct.unpack_from(f"<{n_in + n_out}I", sec, HOST_HEADER.size)
    for e in edges:
        if e >= len(tensors):
            raise EnfError(f"{label}: tensor index {e} out of range (the table has {len(tensors)} tensors)")
    names = tuple(tensors[e].name for e in edges)
    return HostGraph(onnx=bytes(sec[onnx_at:]), inputs=names[:n_in], outputs=names[n_in:])


def _read_steps(label: str, sec: memoryview) -> list[Step]:
    count = STEPS_HEADER.unpack(sec, 0, label)["count"]
    if count > MAX_STEPS:
        raise EnfError(f"{label}: step count {count} exceeds the limit {MAX_STEPS}")
    _expect_size(label, sec, STEPS_HEADER.size + count * STEP.size)
    steps = []
    for i in range(count):
        e = STEP.unpack(sec, STEPS_HEADER.size + i * STEP.size, label)
        steps.append(Step(as_enum(StepKind, e["kind"], f"{label}: step {i} kind"), e["index"]))
    return steps


def _read_meta(label: str, sec: memoryview) -> dict:
    try:
        meta = json.loads(bytes(sec).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EnfError(f"{label}: META is not UTF-8 JSON: {str(exc)[:200]}") from None
    if not isinstance(meta, dict):
        raise EnfError(f"{label}: META must be a JSON object, got {type(meta).__name__}")
    return meta


# ------------------------------------------------------------------------------------------------------- files


def load_enf(path: str | os.PathLike) -> Enf:
    """Read and validate an ENF file; errors name the file."""
    data = Path(path).read_bytes()
    try:
        return read_enf(data)
    except EnfError as exc:
        raise EnfError(f"{path}: {exc}") from None


def save_enf(enf: Enf, path: str | os.PathLike) -> None:
    """Write `enf` to `path` atomically (a reader never sees a half-written file)."""
    image = write_enf(enf)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(image)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
