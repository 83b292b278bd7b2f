"""The semantic rules of an ENF, checked on an `Enf` value: one validator for both `write_enf` and `read_enf`.

The reader first checks that the bytes are well formed (format.py); what is left here is whether the content makes
sense for the NPU: regions inside the arena, no code overwritten by data, sizes consistent with shapes, code that
decodes, steps that point at something. Each failure is an EnfError naming the offending item.
"""

from __future__ import annotations

import bisect
import json
import math
import numbers
import operator
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from nux.enf.layout import (
    MAX_ARENA_SIZE,
    MAX_HOST_EDGES,
    MAX_NAME_BYTES,
    MAX_RANK,
    MAX_SECTIONS,
    MAX_STEPS,
    MAX_TENSORS,
)
from nux.enf.model import DType, Enf, EnfError, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole
from nux.isa import (
    INSTR_BYTES,
    ISA_VERSION,
    OPCODE_MINOR,
    VALUE_MINOR,
    DecodeError,
    NpuConfig,
    Opcode,
    decode,
    fields_of,
    reserved_masks,
)

ZERO_POINT_RANGE = {
    DType.INT8: (-128, 127),
    DType.UINT8: (0, 255),
    DType.INT32: (-(2**31), 2**31 - 1),
    DType.FLOAT32: (0, 0),
}


def validate_enf(enf: Enf) -> None:
    """Raise EnfError describing the first rule `enf` breaks; return None when it is a valid executable."""
    if not isinstance(enf, Enf):
        raise EnfError(f"expected an Enf, got {type(enf).__name__}")
    if not isinstance(enf.config, NpuConfig):
        raise EnfError(f"config must be an NpuConfig, got {type(enf.config).__name__}")
    arena = _check_arena(enf)
    _check_count("programs", enf.programs, MAX_SECTIONS)
    _check_count("tensors", enf.tensors, MAX_TENSORS)
    _check_count("host_graphs", enf.host_graphs, MAX_SECTIONS)
    _check_count("steps", enf.steps, MAX_STEPS)
    for index, program in enumerate(enf.programs):
        _check_program(index, program, arena)
    _check_consts(enf, arena)
    names = _check_tensors(enf.tensors, enf.config.dim, arena)
    _check_regions(enf)
    for index, graph in enumerate(enf.host_graphs):
        _check_host_graph(index, graph, names)
    for index, step in enumerate(enf.steps):
        _check_step(index, step, len(enf.programs), len(enf.host_graphs))
    meta_json(enf.meta)


# ------------------------------------------------------------------------------------------- helpers used elsewhere


def tensor_nbytes(dtype: DType, layout: Layout, shape: Sequence[int], dim: int) -> int:
    """Bytes a tensor occupies in the arena: ROWS pads the last axis up to a multiple of `dim` lanes."""
    dims = list(shape)
    if layout == Layout.ROWS and dims:
        dims[-1] = -(-dims[-1] // dim) * dim
    return math.prod(dims) * DType(dtype).numpy.itemsize


def encode_name(name: object, what: str, allow_empty: bool) -> bytes:
    """The UTF-8 bytes of a name, checked: a str, no NUL (C readers), at most MAX_NAME_BYTES bytes."""
    if not isinstance(name, str):
        raise EnfError(f"{what}: name must be a str, got {type(name).__name__}")
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EnfError(f"{what}: name {name!r} is not encodable as UTF-8 ({exc.reason})") from None
    if not raw and not allow_empty:
        raise EnfError(f"{what}: name is empty")
    if b"\0" in raw:
        raise EnfError(f"{what}: name {name!r} contains a NUL character")
    if len(raw) > MAX_NAME_BYTES:
        raise EnfError(f"{what}: name is {len(raw)} bytes long, the limit is {MAX_NAME_BYTES}")
    return raw


def decode_name(raw: bytes, what: str, allow_empty: bool) -> str:
    """Inverse of encode_name for bytes read from a file, with the same rules."""
    try:
        name = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise EnfError(f"{what}: name is not valid UTF-8") from None
    encode_name(name, what, allow_empty)
    return name


def meta_json(meta: object) -> bytes:
    """META as canonical UTF-8 JSON; it must be a dict that survives a JSON round trip unchanged and holds no lone
    surrogate (JSON can escape one, `"\\ud800"`, but UTF-8 cannot encode it)."""
    if not isinstance(meta, dict):
        raise EnfError(f"meta must be a dict, got {type(meta).__name__}")
    try:
        text = json.dumps(meta, sort_keys=True, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        same = json.loads(text) == meta
    except (TypeError, ValueError, RecursionError) as exc:
        raise EnfError(f"meta is not plain JSON: {exc}") from None
    if not same:
        raise EnfError("meta does not survive a JSON round trip (tuples, non-str keys?); use lists and str keys")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: Python str allows it, UTF-8 (and C readers) do not
        context = exc.object[max(exc.start - 20, 0) : exc.end + 20]
        raise EnfError(
            f"meta is not encodable as UTF-8: {context!r} holds a lone surrogate (a \\uD800-\\uDFFF escape "
            "without its pair)"
        ) from None


def check_code(code: bytes, what: str) -> None:
    """Every instruction of `code` must decode (legal opcode, no reserved bit set).

    A vectorised screen with the ISA's own reserved-bit masks finds the first bad instruction (decoding one by one in
    Python costs ~14 us/instruction, seconds for a large network); `nux.isa.decode` then produces the message, so
    the ISA stays the authority on what decodes.
    """
    words = np.frombuffer(code, dtype="<u4").reshape(-1, INSTR_BYTES // 4)
    ops = words[:, 0] & 0xF
    bad = ~_LEGAL_OPCODE[ops] | (words & _RESERVED[ops]).any(axis=1)
    hits = np.flatnonzero(bad)
    if hits.size == 0:
        return
    index = int(hits[0])
    try:
        decode(code[index * INSTR_BYTES : (index + 1) * INSTR_BYTES], index)
    except DecodeError as exc:
        raise EnfError(f"{what}: code does not decode: {exc}") from None
    raise AssertionError(f"{what}: screen flagged instruction {index} but nux.isa.decode accepts it")


def code_minor(code: bytes) -> int:
    """The ISA minor `code` needs (nux.isa.required_minor of its instructions), vectorised: an opcode a minor
    added, a bit of a field a minor added set, or an enum value a minor made legal. `code` must decode."""
    words = np.frombuffer(code, dtype="<u4").reshape(-1, INSTR_BYTES // 4)
    ops = words[:, 0] & 0xF
    need = int(_OPCODE_MINOR[ops].max(initial=0))
    for minor, added in enumerate(_ADDED_BITS, 1):
        if minor > need and (words & added[ops]).any():
            need = minor
    for op, word, lsb, mask, value, minor in _VALUE_MINOR:
        if minor > need and ((ops == op) & ((words[:, word] >> lsb) & mask == value)).any():
            need = minor
    return need


def required_isa_minor(enf: Enf) -> int:
    """The ISA minor an executable needs: the largest `code_minor` of its programs (0 for a 1.0 executable). The
    ENF header records it, and a device implementing a lower minor refuses the file."""
    return max((code_minor(p.code) for p in enf.programs), default=0)


def _decode_tables() -> tuple[np.ndarray, np.ndarray]:
    legal = np.zeros(16, dtype=bool)
    masks = np.zeros((16, INSTR_BYTES // 4), dtype=np.uint32)
    for op in Opcode:
        legal[int(op)] = True
        masks[int(op)] = reserved_masks(op)
    return legal, masks


def _minor_tables() -> tuple[np.ndarray, list[np.ndarray], list[tuple[int, int, int, int, int, int]]]:
    """Per opcode its minor; per minor m >= 1 the bits of the fields m added; the enum values minors added."""
    opcode_minor = np.zeros(16, dtype=np.int64)
    added = [np.zeros((16, INSTR_BYTES // 4), dtype=np.uint32) for _ in range(ISA_VERSION[1])]
    for op in Opcode:
        opcode_minor[int(op)] = OPCODE_MINOR.get(op, 0)
        for m in range(1, ISA_VERSION[1] + 1):
            added[m - 1][int(op)] = [old & ~new for old, new in zip(reserved_masks(op, m - 1), reserved_masks(op, m),
                                                                    strict=True)]
    values = []
    for (op, name, value), minor in VALUE_MINOR.items():
        field = next(f for f in fields_of(op) if f.name == name)
        values.append((int(op), field.word, field.lsb, field.mask, int(value), minor))
    return opcode_minor, added, values


_LEGAL_OPCODE, _RESERVED = _decode_tables()
_OPCODE_MINOR, _ADDED_BITS, _VALUE_MINOR = _minor_tables()


# ------------------------------------------------------------------------------------------------------ rules


def _int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise EnfError(f"{what} must be an integer, got {type(value).__name__}") from None


def _check_count(what: str, items: object, cap: int) -> None:
    if not isinstance(items, list | tuple):
        raise EnfError(f"{what} must be a list, got {type(items).__name__}")
    if len(items) > cap:
        raise EnfError(f"too many {what}: {len(items)} (limit {cap})")


def _check_arena(enf: Enf) -> int:
    arena = _int(enf.arena_size, "arena_size")
    if not 0 < arena <= MAX_ARENA_SIZE:
        raise EnfError(f"arena_size {arena} must be in [1, {MAX_ARENA_SIZE}] (TASK_ARENA_SIZE is 32 bits)")
    if arena > 1 << enf.config.dram_addr_bits:
        raise EnfError(f"arena_size {arena} exceeds device DRAM (2^{enf.config.dram_addr_bits} bytes)")
    return arena


def _check_region(what: str, offset: Any, size: int, arena: int) -> int:
    offset = _int(offset, f"{what}: offset")
    if offset < 0 or offset + size > arena:
        raise EnfError(f"{what}: region [{offset}, {offset + size}) is outside the arena [0, {arena})")
    return offset


def _program_label(index: int, program: Program) -> str:
    name = program.name if isinstance(program.name, str) else ""
    return f"program {index}" + (f" ({name!r})" if name else "")


def _check_program(index: int, program: Program, arena: int) -> None:
    if not isinstance(program, Program):
        raise EnfError(f"program {index}: expected a Program, got {type(program).__name__}")
    what = _program_label(index, program)
    encode_name(program.name, what, allow_empty=True)
    if not isinstance(program.code, bytes | bytearray):
        raise EnfError(f"{what}: code must be bytes, got {type(program.code).__name__}")
    if not program.code:
        raise EnfError(f"{what}: code is empty (a program needs at least one instruction)")
    if len(program.code) % INSTR_BYTES:
        raise EnfError(f"{what}: code length {len(program.code)} is not a multiple of {INSTR_BYTES}")
    offset = _check_region(what, program.offset, len(program.code), arena)
    if offset % INSTR_BYTES:
        raise EnfError(f"{what}: arena offset {offset} is not {INSTR_BYTES}-byte aligned")
    check_code(bytes(program.code), what)


def _check_consts(enf: Enf, arena: int) -> None:
    if not isinstance(enf.consts, bytes | bytearray):
        raise EnfError(f"consts must be bytes, got {type(enf.consts).__name__}")
    _check_region("consts", enf.const_offset, len(enf.consts), arena)


def _check_tensors(tensors: Sequence[TensorInfo], dim: int, arena: int) -> set[str]:
    names: set[str] = set()
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, TensorInfo):
            raise EnfError(f"tensor {index}: expected a TensorInfo, got {type(tensor).__name__}")
        encode_name(tensor.name, f"tensor {index}", allow_empty=False)
        what = f"tensor {index} ({tensor.name!r})"
        if tensor.name in names:
            raise EnfError(f"{what}: duplicate tensor name")
        names.add(tensor.name)
        _check_tensor(what, tensor, dim, arena)
    return names


def as_enum(enum_type: type, value: Any, what: str) -> Any:
    """`value` as a member of `enum_type`; an EnfError listing the known values otherwise."""
    try:
        return enum_type(_int(value, what))
    except ValueError:
        known = ", ".join(f"{e.name.lower()}={int(e)}" for e in enum_type)
        raise EnfError(f"{what}: unknown value {value} (known: {known})") from None


def _check_tensor(what: str, tensor: TensorInfo, dim: int, arena: int) -> None:
    as_enum(TensorRole, tensor.role, f"{what}: role")
    dtype = as_enum(DType, tensor.dtype, f"{what}: dtype")
    layout = as_enum(Layout, tensor.layout, f"{what}: layout")
    if not isinstance(tensor.shape, tuple | list):
        raise EnfError(f"{what}: shape must be a tuple, got {type(tensor.shape).__name__}")
    if len(tensor.shape) > MAX_RANK:
        raise EnfError(f"{what}: rank {len(tensor.shape)} exceeds {MAX_RANK}")
    shape = [_int(d, f"{what}: shape") for d in tensor.shape]
    if any(not 1 <= d < 2**32 for d in shape):
        raise EnfError(f"{what}: shape {tuple(shape)} has a dimension outside [1, 2^32)")
    if layout == Layout.NHWC and len(shape) != 4:
        raise EnfError(f"{what}: layout nhwc needs rank 4, got shape {tuple(shape)}")
    if layout == Layout.ROWS and not shape:
        raise EnfError(f"{what}: layout rows needs rank >= 1")
    expected = tensor_nbytes(dtype, layout, shape, dim)
    size = _int(tensor.size, f"{what}: size")
    if size != expected:
        raise EnfError(
            f"{what}: size {size} does not match shape {tuple(shape)} {dtype.name.lower()} "
            f"{layout.name.lower()} (expected {expected} bytes)"
        )
    _check_region(what, tensor.offset, size, arena)
    if not isinstance(tensor.scale, numbers.Real) or not (math.isfinite(tensor.scale) and tensor.scale > 0):
        raise EnfError(f"{what}: scale {tensor.scale!r} must be a finite number > 0")
    lo, hi = ZERO_POINT_RANGE[dtype]
    if not lo <= _int(tensor.zero_point, f"{what}: zero_point") <= hi:
        raise EnfError(f"{what}: zero_point {tensor.zero_point} is outside [{lo}, {hi}] for {dtype.name.lower()}")


def _check_regions(enf: Enf) -> None:
    """Code regions must not overlap each other or the constants; tensors must not overlap code or constants."""
    fixed = [(p.offset, p.offset + len(p.code), _program_label(i, p)) for i, p in enumerate(enf.programs)]
    if enf.consts:
        fixed.append((enf.const_offset, enf.const_offset + len(enf.consts), "consts"))
    fixed.sort()
    for (s0, e0, a), (s1, e1, b) in pairwise(fixed):
        if s1 < e0:
            raise EnfError(f"{b} [{s1}, {e1}) overlaps {a} [{s0}, {e0})")
    starts = [s for s, _, _ in fixed]
    ends = [e for _, e, _ in fixed]
    for tensor in enf.tensors:
        start, end = tensor.offset, tensor.offset + tensor.size
        i = bisect.bisect_right(ends, start)
        if i < len(fixed) and starts[i] < end:
            raise EnfError(
                f"tensor {tensor.name!r} [{start}, {end}) overlaps {fixed[i][2]} [{starts[i]}, {ends[i]})"
            )


def _check_host_graph(index: int, graph: HostGraph, names: set[str]) -> None:
    what = f"host graph {index}"
    if not isinstance(graph, HostGraph):
        raise EnfError(f"{what}: expected a HostGraph, got {type(graph).__name__}")
    if not isinstance(graph.onnx, bytes | bytearray) or not graph.onnx:
        raise EnfError(f"{what}: onnx must be non-empty bytes (a serialized ModelProto)")
    for side in ("inputs", "outputs"):
        edges = getattr(graph, side)
        if not isinstance(edges, tuple | list):
            raise EnfError(f"{what}: {side} must be a tuple of tensor names")
        if not all(isinstance(name, str) for name in edges):
            raise EnfError(f"{what}: {side} must be tensor names (str), got {list(edges)!r}")
        if len(set(edges)) != len(edges):
            raise EnfError(f"{what}: {side} list a tensor twice: {list(edges)}")
        for name in edges:
            if name not in names:
                raise EnfError(f"{what}: {side[:-1]} {name!r} is not in the tensor table")
    if not graph.outputs:
        raise EnfError(f"{what}: has no outputs")
    if len(graph.inputs) + len(graph.outputs) > MAX_HOST_EDGES:
        raise EnfError(f"{what}: more than {MAX_HOST_EDGES} inputs and outputs")


def _check_step(index: int, step: Step, n_programs: int, n_graphs: int) -> None:
    if not isinstance(step, Step):
        raise EnfError(f"step {index}: expected a Step, got {type(step).__name__}")
    kind = as_enum(StepKind, step.kind, f"step {index}: kind")
    target = _int(step.index, f"step {index}: index")
    count, noun = (n_programs, "program") if kind == StepKind.NPU else (n_graphs, "host graph")
    if not 0 <= target < count:
        raise EnfError(f"step {index}: {noun} {target} does not exist (there are {count})")
