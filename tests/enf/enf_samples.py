"""Sample ENFs and byte-level helpers shared by the ENF tests.

The byte helpers locate fields through the layout tables (nux.enf.layout) and patch them, optionally fixing the
CRC so that a corrupted file gets past the checksum and exercises the deeper checks.
"""

from __future__ import annotations

import struct
import zlib

import onnx
from nux.enf import DType, Enf, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole, write_enf
from nux.enf.layout import HEADER, SECTION, SectionKind
from nux.isa import TEST_CONFIGS, Instr, assemble
from onnx import TensorProto, helper

CHECKSUM_AT = HEADER.offsets["checksum"]


def relu_onnx(name_in: str, name_out: str) -> bytes:
    """A real (tiny) ONNX model, so host-graph bytes look like what the compiler will store."""
    graph = helper.make_graph(
        [helper.make_node("Relu", [name_in], [name_out])],
        "host",
        [helper.make_tensor_value_info(name_in, TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info(name_out, TensorProto.FLOAT, [1, 16])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def program(*instrs: Instr) -> bytes:
    return assemble([*instrs, Instr("end")])


def sample_enf() -> Enf:
    """A rich ENF: three programs, constants, every dtype/layout/role, two host graphs, explicit steps, meta."""
    config = TEST_CONFIGS[1]  # dim 8
    code0 = program(Instr("load", dram_offset=4096, x_size=4), Instr("gemm", preload=1, x_size=16), Instr("sync"))
    code1 = program(Instr("store", dram_offset=8192, x_size=2))
    code2 = program(Instr("nop"), Instr("load", dram_offset=512, x_size=1))
    tensors = [
        TensorInfo("input", TensorRole.INPUT, DType.INT8, (1, 3, 8, 8), 4096, 192, 0.0078125, -1, Layout.NHWC),
        TensorInfo("conv1_out", TensorRole.INTERNAL, DType.UINT8, (4, 10), 4352, 64, 0.05, 128, Layout.ROWS),
        TensorInfo("relu_out", TensorRole.INTERNAL, DType.FLOAT32, (1, 16), 4480, 64),
        TensorInfo("logits", TensorRole.OUTPUT, DType.INT32, (1, 10), 8192, 40, 1.5e-4, -7),
        TensorInfo("scalar", TensorRole.OUTPUT, DType.INT8, (), 8240, 1, 0.1, 3),
        TensorInfo("probs", TensorRole.OUTPUT, DType.FLOAT32, (1, 16), 8256, 64),
    ]
    return Enf(
        config=config,
        programs=[Program(code0, 0, "conv1"), Program(code1, 256, "fc"), Program(code2, 1024, "")],
        tensors=tensors,
        arena_size=16384,
        consts=bytes(range(256)) * 2,
        const_offset=512,
        host_graphs=[
            HostGraph(relu_onnx("conv1_out", "relu_out"), ("conv1_out",), ("relu_out",)),
            HostGraph(relu_onnx("relu_out", "probs"), ("relu_out", "input"), ("probs", "scalar")),
        ],
        steps=[Step(StepKind.NPU, 0), Step(StepKind.HOST, 0), Step(StepKind.NPU, 1), Step(StepKind.HOST, 1),
               Step(StepKind.NPU, 2), Step(StepKind.NPU, 0)],
        meta={"compiler": "nux-test", "model": {"name": "sample", "opset": 13}, "layers": [1, 2.5, "três", None]},
    )


def minimal_enf() -> Enf:
    """The smallest useful ENF: one program, one input, one output, no consts, no steps, no meta."""
    return Enf(
        config=TEST_CONFIGS[0],
        programs=[Program(program(), 0)],
        tensors=[
            TensorInfo("x", TensorRole.INPUT, DType.INT8, (4,), 64, 4),
            TensorInfo("y", TensorRole.OUTPUT, DType.INT8, (4,), 128, 4),
        ],
        arena_size=256,
    )


# ------------------------------------------------------------------------------------------- byte-level helpers


def fix_crc(image: bytes | bytearray) -> bytes:
    """`image` with its checksum recomputed (only when it is long enough to hold the field)."""
    out = bytearray(image)
    if len(out) >= CHECKSUM_AT + 4:
        struct.pack_into("<I", out, CHECKSUM_AT, 0)
        struct.pack_into("<I", out, CHECKSUM_AT, zlib.crc32(out))
    return bytes(out)


def patch(image: bytes, at: int, fmt: str, *values: object, crc: bool = True) -> bytes:
    """Overwrite struct `fmt` at `at` and (by default) fix the checksum so the change reaches deeper checks."""
    out = bytearray(image)
    struct.pack_into("<" + fmt, out, at, *values)
    return fix_crc(out) if crc else bytes(out)


def header_field(name: str) -> tuple[int, str]:
    """(offset, struct code) of a header field."""
    member = next(m for m in HEADER.members if m.name == name)
    return HEADER.offsets[name], member.code


def set_header(image: bytes, name: str, value: int, crc: bool = True) -> bytes:
    at, code = header_field(name)
    return patch(image, at, code, value, crc=crc)


def section_entries(image: bytes) -> list[tuple[int, int, int, int]]:
    """(entry offset in the file, kind, section offset, section size) for each section-table entry."""
    count = struct.unpack_from("<I", image, HEADER.offsets["section_count"])[0]
    table = struct.unpack_from("<Q", image, HEADER.offsets["section_table_offset"])[0]
    out = []
    for i in range(count):
        at = table + i * SECTION.size
        kind, _, offset, size = struct.unpack_from("<IIQQ", image, at)
        out.append((at, kind, offset, size))
    return out


def section(image: bytes, kind: SectionKind, nth: int = 0) -> tuple[int, int, int]:
    """(entry offset, section offset, size) of the nth section of `kind`."""
    hits = [(at, off, size) for at, k, off, size in section_entries(image) if k == kind]
    return hits[nth]


def with_meta(image: bytes, text: bytes) -> bytes:
    """`image` with its META section's bytes replaced by `text`, file size and CRC fixed. META must be the last
    section (write_enf puts it there), so the file just changes size."""
    entry_at, offset, _ = section(image, SectionKind.META)
    out = bytearray(image[:offset] + text)
    struct.pack_into("<Q", out, entry_at + SECTION.offsets["size"], len(text))
    struct.pack_into("<Q", out, HEADER.offsets["file_size"], len(out))
    return fix_crc(out)


def sample_image() -> bytes:
    return write_enf(sample_enf())


def check_model_is_onnx(data: bytes) -> None:
    onnx.checker.check_model(onnx.load_from_string(data))
