"""write_enf/read_enf round trips: rich hand-made ENFs and hypothesis-generated ones."""

from __future__ import annotations

import struct
import zlib

from enf_samples import CHECKSUM_AT, check_model_is_onnx, minimal_enf, sample_enf, section_entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nux.enf import (
    FORMAT_VERSION,
    MAGIC,
    DType,
    Enf,
    HostGraph,
    Layout,
    Program,
    SectionKind,
    Step,
    StepKind,
    TensorInfo,
    TensorRole,
    load_enf,
    read_enf,
    save_enf,
    tensor_nbytes,
    write_enf,
)
from nux.isa import TEST_CONFIGS, Instr, Opcode, assemble


def test_rich_enf_round_trips_equal():
    enf = sample_enf()
    image = write_enf(enf)
    back = read_enf(image)
    assert back == enf
    assert back.steps == enf.steps and back.meta == enf.meta and back.host_graphs == enf.host_graphs
    assert write_enf(back) == image  # deterministic: same Enf, same bytes
    check_model_is_onnx(back.host_graphs[0].onnx)


def test_minimal_enf_round_trips_and_defaults():
    enf = minimal_enf()
    back = read_enf(write_enf(enf))
    assert back == enf
    assert back.meta == {} and back.steps == [] and back.consts == b""
    assert [s.index for s in back.run_steps()] == [0]


def test_file_header_and_sections_as_specified():
    image = write_enf(sample_enf())
    assert image[:8] == MAGIC
    major, minor, header_size = struct.unpack_from("<HHI", image, 8)
    assert (major, minor) == FORMAT_VERSION and header_size == 80
    assert struct.unpack_from("<Q", image, 24)[0] == len(image)
    stored = struct.unpack_from("<I", image, CHECKSUM_AT)[0]
    assert stored == zlib.crc32(image[:CHECKSUM_AT] + bytes(4) + image[CHECKSUM_AT + 4 :])
    entries = section_entries(image)
    kinds = [kind for _, kind, _, _ in entries]
    assert kinds.count(SectionKind.CODE) == 3 and kinds.count(SectionKind.HOST) == 2
    assert all(offset % 8 == 0 for _, _, offset, _ in entries)


def test_read_accepts_bytearray_and_memoryview():
    image = write_enf(sample_enf())
    assert read_enf(bytearray(image)) == read_enf(memoryview(image)) == sample_enf()


def test_save_and_load(tmp_path):
    path = tmp_path / "model.enf"
    save_enf(sample_enf(), path)
    assert load_enf(path) == sample_enf()
    assert [p.name for p in tmp_path.iterdir()] == ["model.enf"]  # no temporary file left behind


def test_tensor_nbytes_rows_pads_last_axis():
    assert tensor_nbytes(DType.INT8, Layout.ROWS, (3, 9), 8) == 3 * 16
    assert tensor_nbytes(DType.INT32, Layout.ROWS, (2, 8), 8) == 2 * 8 * 4
    assert tensor_nbytes(DType.FLOAT32, Layout.NHWC, (1, 2, 3, 4), 8) == 96
    assert tensor_nbytes(DType.UINT8, Layout.PLAIN, (), 8) == 1


# ------------------------------------------------------------------------------------------------ hypothesis

_INSTRS = [
    Instr("load", dram_offset=64, x_size=3),
    Instr("gemm", preload=1, x_size=7),
    Instr("store", dram_offset=8, y_size=2),
    Instr("nop"),
    Instr("sync"),
    Instr(Opcode.END),
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def enfs(draw) -> Enf:
    """Valid ENFs with regions laid out one after another (with random gaps) in the arena."""
    config = draw(st.sampled_from(TEST_CONFIGS))
    cursor = 0

    def place(size: int, alignment: int = 1) -> int:
        nonlocal cursor
        start = -(-(cursor + draw(st.integers(0, 64))) // alignment) * alignment
        cursor = start + size
        return start

    programs = []
    for _ in range(draw(st.integers(0, 4))):
        code = assemble(draw(st.lists(st.sampled_from(_INSTRS), min_size=1, max_size=6)))
        name = draw(st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=6))
        programs.append(Program(code, place(len(code), 32), name))
    consts = draw(st.binary(max_size=100))
    const_offset = place(len(consts))
    tensors = []
    names = draw(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=6),
                          max_size=6, unique=True))
    for name in names:
        dtype = draw(st.sampled_from(DType))
        layout = draw(st.sampled_from(Layout))
        rank = 4 if layout == Layout.NHWC else draw(st.integers(1 if layout == Layout.ROWS else 0, 8))
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
        size = tensor_nbytes(dtype, layout, shape, config.dim)
        zero_point = {DType.INT8: st.integers(-128, 127), DType.UINT8: st.integers(0, 255),
                      DType.INT32: st.integers(-(2**31), 2**31 - 1), DType.FLOAT32: st.just(0)}[dtype]
        tensors.append(TensorInfo(
            name, draw(st.sampled_from(TensorRole)), dtype, shape, place(size), size,
            draw(st.floats(min_value=1e-30, max_value=1e30)), draw(zero_point), layout,
        ))
    graphs = []
    if names:
        for _ in range(draw(st.integers(0, 3))):
            inputs = draw(st.lists(st.sampled_from(names), unique=True, max_size=3))
            outputs = draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=3))
            graphs.append(HostGraph(draw(st.binary(min_size=1, max_size=40)), tuple(inputs), tuple(outputs)))
    step_choices = [Step(StepKind.NPU, i) for i in range(len(programs))]
    step_choices += [Step(StepKind.HOST, i) for i in range(len(graphs))]
    steps = draw(st.lists(st.sampled_from(step_choices), max_size=6)) if step_choices else []
    meta = draw(st.dictionaries(st.text(max_size=6), _json, max_size=4))
    arena = cursor + draw(st.integers(1, 100))
    return Enf(config, programs, tensors, arena, consts, const_offset, graphs, steps, meta)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(enfs())
def test_generated_enfs_round_trip(enf):
    image = write_enf(enf)
    back = read_enf(image)
    assert back == enf
    assert write_enf(back) == image
