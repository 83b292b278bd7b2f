"""The binary layout of an ENF file, as data: every fixed-size record is one table of (name, struct code, meaning).

The reader, the writer, docs/enf.md and the C header (`python -m nux.enf.docgen`) all derive from these tables,
so offsets and sizes are written down exactly once. All integers are little-endian; every record is a plain
packed C struct whose size is a multiple of 8, so a C reader can overlay it on the file bytes.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

from nux.enf.model import DType, EnfError, Layout, StepKind, TensorRole

MAGIC = b"\x89NUXENF\n"  # 0x89 catches 7-bit transfers, \n catches newline translation (the PNG trick)
FORMAT_VERSION = (1, 0)  # (major, minor); see docs/enf.md "Versioning"
ALIGN = 8  # every section starts at a multiple of 8 bytes

# Sanity caps: a reader never allocates from an untrusted count larger than these (and never more than the bytes
# actually present). They are far above what a compiled network needs.
MAX_SECTIONS = 65536
MAX_TENSORS = 65536
MAX_STEPS = 65536
MAX_HOST_EDGES = 65536  # inputs + outputs of one host graph
MAX_NAME_BYTES = 4096
MAX_RANK = 8
MAX_ARENA_SIZE = 2**32 - 1  # TASK_ARENA_SIZE is a 32-bit register


class SectionKind(enum.IntEnum):
    """Section kinds. Kinds below OPTIONAL_KIND_BASE are required knowledge: a reader rejects one it does not
    know. Kinds at or above it may be skipped by readers that do not know them (added by later minor versions)."""

    MEMPLAN = 1
    TENSORS = 2
    CONST = 3
    CODE = 4
    HOST = 5
    STEPS = 6
    META = 7


OPTIONAL_KIND_BASE = 0x8000

SECTION_DOCS = {
    SectionKind.MEMPLAN: "exactly one: arena size and where the constants go (MEMPLAN record)",
    SectionKind.TENSORS: "exactly one: the tensor table (TENSORS_HEADER, entries, then the name pool)",
    SectionKind.CONST: "at most one: the constant image copied to the arena at `const_offset` (raw bytes)",
    SectionKind.CODE: "one per program, in program-index order (CODE_HEADER, name, padding, code)",
    SectionKind.HOST: "one per host-fallback graph, in index order (HOST_HEADER, tensor indices, padding, ONNX)",
    SectionKind.STEPS: "at most one: the run order (STEPS_HEADER, then STEP entries); absent = programs in order",
    SectionKind.META: "at most one: informational UTF-8 JSON object; runtimes may ignore it",
}

#: How many sections of each kind a file may hold: (minimum, maximum).
SECTION_COUNTS = {
    SectionKind.MEMPLAN: (1, 1),
    SectionKind.TENSORS: (1, 1),
    SectionKind.CONST: (0, 1),
    SectionKind.CODE: (0, MAX_SECTIONS),
    SectionKind.HOST: (0, MAX_SECTIONS),
    SectionKind.STEPS: (0, 1),
    SectionKind.META: (0, 1),
}


def enum_doc(values: type[enum.IntEnum]) -> str:
    """`Name: 0 a, 1 b` for the doc column, so the tables never disagree with the enums."""
    return f"{values.__name__}: " + ", ".join(f"{int(v)} {v.name.lower()}" for v in values)


def align(n: int, to: int = ALIGN) -> int:
    """`n` rounded up to a multiple of `to`."""
    return -(-n // to) * to


@dataclass(frozen=True)
class Member:
    """One field of a record: a struct code (`I`, `Q`, `8s`, `8I` for an array, `4x` for reserved zeros)."""

    name: str
    code: str
    doc: str

    @property
    def reserved(self) -> bool:
        return self.code.endswith("x")

    @property
    def items(self) -> int:
        """How many values struct yields for this member (an array `8I` yields 8, padding none)."""
        return len(struct.unpack("<" + self.code, bytes(struct.calcsize("<" + self.code))))

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.code)


C_TYPES = {"B": "uint8_t", "H": "uint16_t", "I": "uint32_t", "Q": "uint64_t", "i": "int32_t", "d": "double"}


class Record:
    """A fixed-size little-endian record: packs from and unpacks to a dict of its named (non-reserved) fields."""

    def __init__(self, name: str, doc: str, *members: Member):
        self.name = name
        self.doc = doc
        self.members = members
        self.struct = struct.Struct("<" + "".join(m.code for m in members))
        if self.struct.size % ALIGN:
            raise AssertionError(f"record {name} is {self.struct.size} bytes, not a multiple of {ALIGN}")
        offsets, at = {}, 0
        for m in members:
            offsets[m.name] = at
            at += m.size
        self.offsets = offsets

    @property
    def size(self) -> int:
        return self.struct.size

    def pack(self, **values: Any) -> bytes:
        flat: list[Any] = []
        for m in self.members:
            if m.reserved:
                continue
            value = values[m.name]
            flat.extend(value if m.items > 1 else [value])
        try:
            return self.struct.pack(*flat)
        except struct.error as exc:  # the validator should have caught it; still name the record
            raise EnfError(f"cannot encode {self.name}: {exc}") from None

    def unpack(self, data: memoryview, offset: int, what: str) -> dict[str, Any]:
        """Fields of the record at `offset`; a clear EnfError (naming `what`) when the data is too short."""
        if offset < 0 or offset + self.size > len(data):
            raise EnfError(
                f"{what}: truncated: {self.name} needs {self.size} bytes at offset {offset}, "
                f"{max(0, len(data) - offset)} present"
            )
        values = iter(self.struct.unpack_from(data, offset))
        out: dict[str, Any] = {}
        for m in self.members:
            if m.reserved:
                continue
            out[m.name] = tuple(next(values) for _ in range(m.items)) if m.items > 1 else next(values)
        return out


HEADER = Record(
    "HEADER",
    "at offset 0 of the file",
    Member("magic", "8s", 'bytes 89 4E 55 58 45 4E 46 0A ("\\x89NUXENF\\n")'),
    Member("version_major", "H", "format major version; a reader rejects any major it was not written for"),
    Member("version_minor", "H", "format minor version; newer minors only add what older readers may skip"),
    Member("header_size", "I", "bytes of this header (80 in 1.0); later minors may append fields"),
    Member("flags", "I", "bits 0-15: must be zero (a reader rejects unknown ones); bits 16-31: may be ignored"),
    Member("checksum", "I", "zlib CRC-32 of the whole file computed with this field set to zero"),
    Member("file_size", "Q", "total file size in bytes; must equal the actual size"),
    Member("section_table_offset", "Q", "file offset of the section table (8-aligned, >= header_size)"),
    Member("section_count", "I", f"number of SECTION entries (<= {MAX_SECTIONS})"),
    Member("isa_version_major", "H", "ISA major version the code was assembled for; must match the reader's ISA"),
    Member("isa_version_minor", "H", "ISA minor the code needs (the highest any instruction uses); a device "
           "implementing a lower minor refuses the file"),
    Member("dim", "I", "NpuConfig.dim the ENF was compiled for"),
    Member("sp_rows", "I", "NpuConfig.sp_rows"),
    Member("acc_rows", "I", "NpuConfig.acc_rows"),
    Member("axi_data_bits", "I", "NpuConfig.axi_data_bits"),
    Member("dram_addr_bits", "I", "NpuConfig.dram_addr_bits"),
    Member("cmdq_depth", "I", "NpuConfig.cmdq_depth"),
    Member("reserved", "8x", "zero"),
)

CONFIG_FIELDS = ("dim", "sp_rows", "acc_rows", "axi_data_bits", "dram_addr_bits", "cmdq_depth")
REQUIRED_FLAGS_MASK = 0x0000FFFF

SECTION = Record(
    "SECTION",
    "one entry of the section table",
    Member("kind", "I", "a SectionKind value (table above); >= 0x8000: optional, skipped if unknown"),
    Member("reserved", "4x", "zero"),
    Member("offset", "Q", "file offset of the section's first byte (multiple of 8)"),
    Member("size", "Q", "bytes in the section (padding to the next section is not counted)"),
)

MEMPLAN = Record(
    "MEMPLAN",
    "the whole MEMPLAN section",
    Member("arena_size", "Q", f"bytes of the task's arena, in [1, {MAX_ARENA_SIZE}] and <= 2^dram_addr_bits"),
    Member("const_offset", "Q", "arena offset where the CONST image is copied"),
    Member("const_size", "Q", "bytes of the CONST image; must equal the CONST section size (0 if absent)"),
)

TENSORS_HEADER = Record(
    "TENSORS_HEADER",
    "start of the TENSORS section; `count` TENSOR entries follow, then the name pool (rest of the section)",
    Member("count", "I", f"number of tensors (<= {MAX_TENSORS})"),
    Member("reserved", "4x", "zero"),
)

TENSOR = Record(
    "TENSOR",
    "one tensor-table entry; names are UTF-8 in the pool (no NUL, unique, 1..4096 bytes)",
    Member("name_offset", "I", "offset of the name in the name pool"),
    Member("name_len", "I", "name length in bytes"),
    Member("role", "B", enum_doc(TensorRole)),
    Member("dtype", "B", enum_doc(DType)),
    Member("layout", "B", enum_doc(Layout) + " (nhwc: rank 4, logical NCHW; rows: last axis padded to dim)"),
    Member("rank", "B", f"number of dims, 0..{MAX_RANK}"),
    Member("zero_point", "i", "quantization zero point (in the dtype's range; 0 for float32)"),
    Member("scale", "d", "quantization scale, finite and > 0: real = scale * (q - zero_point)"),
    Member("arena_offset", "Q", "byte offset of the tensor in the arena"),
    Member("size", "Q", "bytes the tensor occupies; must equal what shape, dtype and layout imply"),
    Member("dims", f"{MAX_RANK}I", "the shape, dims[0..rank-1] >= 1; unused entries zero"),
)

CODE_HEADER = Record(
    "CODE_HEADER",
    "start of a CODE section; then `name_len` name bytes, zero padding to 8, then `code_size` code bytes",
    Member("arena_offset", "Q", "arena offset where the code is placed (32-byte aligned)"),
    Member("code_size", "Q", "bytes of code: non-zero multiple of 32 (one instruction = 32 bytes)"),
    Member("name_len", "I", f"program name length in bytes (UTF-8, may be 0, <= {MAX_NAME_BYTES})"),
    Member("reserved", "4x", "zero"),
)

HOST_HEADER = Record(
    "HOST_HEADER",
    "start of a HOST section; then input_count + output_count uint32 tensor-table indices (inputs first), zero "
    "padding to 8, then `onnx_size` bytes of a serialized onnx.ModelProto",
    Member("input_count", "I", "tensors the graph reads"),
    Member("output_count", "I", "tensors the graph writes (>= 1)"),
    Member("onnx_size", "Q", "bytes of the ONNX model (>= 1)"),
)

STEPS_HEADER = Record(
    "STEPS_HEADER",
    "start of the STEPS section; `count` STEP entries follow",
    Member("count", "I", f"number of steps (<= {MAX_STEPS})"),
    Member("reserved", "4x", "zero"),
)

STEP = Record(
    "STEP",
    "one step of the run order",
    Member("kind", "I", enum_doc(StepKind) + " (npu: run program `index`; host: run host graph `index`)"),
    Member("index", "I", "program or host-graph index (order of the CODE or HOST sections)"),
)

RECORDS = (HEADER, SECTION, MEMPLAN, TENSORS_HEADER, TENSOR, CODE_HEADER, HOST_HEADER, STEPS_HEADER, STEP)
