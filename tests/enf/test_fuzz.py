"""Fuzzing read_enf: thousands of mutated and truncated files must each raise EnfError or parse to a valid Enf.

Never another exception, never a hang (SIGALRM bound per case), never a large allocation (tracemalloc peak per
case). In half the cases the file size and CRC are fixed after mutating, so the mutation reaches the structural
and semantic checks behind the checksum; the test also checks that it really does (many distinct error kinds).
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import struct
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator

import pytest
from enf_samples import fix_crc, minimal_enf, sample_enf, section_entries, with_meta
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.enf import EnfError, SectionKind, read_enf, write_enf
from nux.enf.layout import (
    CODE_HEADER,
    HEADER,
    HOST_HEADER,
    MEMPLAN,
    SECTION,
    STEP,
    STEPS_HEADER,
    TENSOR,
    TENSORS_HEADER,
    Record,
)

CASES_PER_IMAGE = 1000
SECONDS_PER_CASE = 2.0
PEAK_BYTES = 1 << 20  # per case, beyond what was live before it; the files are a few KiB
# META texts the "meta" mutation splices in: JSON escapes that decode to strings UTF-8 cannot encode (lone
# surrogates), paired surrogates (valid), NUL and line-separator escapes, raw CESU-8 surrogate bytes.
META_TEXTS = [
    rb'{"a": "\ud800"}', rb'{"\udfff": 1}', rb'{"a": ["\udbff", {"b": "\udc00\ud800"}]}',
    rb'{"a": "\ud83d\ude00"}', rb'{"a": "\u0000\u2028\u000c\u0085"}', b'{"a": "\xed\xa0\x80"}',
    rb'{"a": "\ud800\u', b'{"a": 1e400}', b'{"a": -0}',
]


def field_sites(image: bytes) -> list[tuple[int, str]]:
    """(file offset, struct code) of every size, count, offset and enum field in a valid image."""
    sites: list[tuple[int, str]] = []

    def add(record: Record, base: int) -> None:
        sites.extend((base + record.offsets[m.name], m.code) for m in record.members if not m.reserved)

    add(HEADER, 0)
    for entry_at, kind, offset, _ in section_entries(image):
        add(SECTION, entry_at)
        if kind == SectionKind.MEMPLAN:
            add(MEMPLAN, offset)
        elif kind == SectionKind.TENSORS:
            add(TENSORS_HEADER, offset)
            count = struct.unpack_from("<I", image, offset)[0]
            for i in range(count):
                add(TENSOR, offset + TENSORS_HEADER.size + i * TENSOR.size)
        elif kind == SectionKind.CODE:
            add(CODE_HEADER, offset)
            sites.append((offset + CODE_HEADER.size + 8, "I"))  # into the name / first instruction
        elif kind == SectionKind.HOST:
            add(HOST_HEADER, offset)
            n_in, n_out = struct.unpack_from("<II", image, offset)
            sites.extend((offset + HOST_HEADER.size + 4 * i, "I") for i in range(n_in + n_out))
        elif kind == SectionKind.STEPS:
            add(STEPS_HEADER, offset)
            count = struct.unpack_from("<I", image, offset)[0]
            for i in range(count):
                add(STEP, offset + STEPS_HEADER.size + i * STEP.size)
    return [(at, code) for at, code in sites if code in ("B", "H", "I", "Q", "i", "d")]


def interesting(rng: random.Random, code: str, old: int, size: int) -> int | float:
    if code == "d":
        return rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e-300, rng.uniform(-1e9, 1e9)])
    bits = 8 * struct.calcsize("<" + code)
    top = (1 << bits) - 1
    value = rng.choice([0, 1, 7, 8, 9, 31, 32, 255, 256, 65535, 65536, 65537, 2**31 - 1, 2**31, top, top - 7,
                        size, size - 8, size + 8, old + 1, old - 1, old + 8, old * 2, rng.randrange(top + 1)])
    value &= top
    if code.islower() and value >= 1 << (bits - 1):  # signed field
        value -= 1 << bits
    return value


def mutate(rng: random.Random, image: bytes, sites: list[tuple[int, str]]) -> tuple[str, bytes]:
    data = bytearray(image)
    how = rng.choice(["bitflip", "overwrite", "truncate", "field", "field", "table", "insert", "delete", "splice",
                      "meta"])
    if how == "meta" and any(kind == SectionKind.META for _, kind, _, _ in section_entries(image)):
        text = bytearray(rng.choice(META_TEXTS))
        if rng.random() < 0.5:  # and sometimes a byte changed
            text[rng.randrange(len(text))] = rng.randrange(256)
        data = bytearray(with_meta(image, bytes(text)))
    elif how in ("bitflip", "meta"):
        for _ in range(rng.randint(1, 8)):
            bit = rng.randrange(8 * len(data))
            data[bit // 8] ^= 1 << (bit % 8)
    elif how == "overwrite":
        for _ in range(rng.randint(1, 4)):
            at, n = rng.randrange(len(data)), rng.randint(1, 16)
            data[at : at + n] = rng.randbytes(n)[: len(data) - at]
    elif how == "truncate":
        del data[rng.randrange(len(data)) :]
    elif how == "field":
        for _ in range(rng.randint(1, 3)):
            at, code = rng.choice(sites)
            old = struct.unpack_from("<" + code, data, at)[0]
            struct.pack_into("<" + code, data, at, interesting(rng, code, int(old) if code != "d" else 0, len(data)))
    elif how == "table":
        entries = [at for at, _, _, _ in section_entries(image)]
        a, b = rng.choice(entries), rng.choice(entries)
        action = rng.randrange(3)
        if action == 0:  # swap two entries
            first, second = data[a : a + SECTION.size], data[b : b + SECTION.size]
            data[a : a + SECTION.size], data[b : b + SECTION.size] = second, first
        elif action == 1:  # duplicate one entry over another
            data[b : b + SECTION.size] = data[a : a + SECTION.size]
        else:
            data[a : a + SECTION.size] = rng.randbytes(SECTION.size)
    elif how == "insert":
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(rng.choice([1, 4, 8, 24, 100]))
    elif how == "delete":
        at = rng.randrange(len(data))
        del data[at : at + rng.choice([1, 4, 8, 24, 100])]
    else:  # splice: copy a chunk of the file elsewhere
        n = rng.randint(4, 64)
        src, dst = rng.randrange(len(data)), rng.randrange(len(data))
        data[dst : dst + n] = data[src : src + n]
    if rng.random() < 0.5:  # get past the size and checksum checks to exercise what lies behind them
        if len(data) >= HEADER.offsets["file_size"] + 8:
            struct.pack_into("<Q", data, HEADER.offsets["file_size"], len(data))
        return how + "+crc", fix_crc(data)
    return how, bytes(data)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum, frame):
        raise TimeoutError(f"read_enf took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def category(message: str) -> str:
    """An error message with its numbers and quoted names removed: the kind of check that fired."""
    return re.sub(r"'[^']*'|b'.*'|0x[0-9a-f]+|\d+", "#", message)[:60]


def read_case(data: bytes) -> str:
    """Outcome of reading one file: 'ok' or the category of its EnfError; any other exception propagates."""
    try:
        enf = read_enf(data)
    except EnfError as exc:
        return category(str(exc))
    assert read_enf(write_enf(enf)) == enf  # whatever the reader accepts is valid for the writer too
    return "ok"


def fuzz(seed: int, cases_per_image: int) -> tuple[Counter[str], int]:
    """Run the mutation fuzzer; return the outcome counts and how many cases got past the size/checksum checks."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    past_checksum = 0
    tracemalloc.start()
    try:
        for image in (write_enf(sample_enf()), write_enf(minimal_enf())):
            sites = field_sites(image)
            for case in range(cases_per_image):
                how, data = mutate(rng, image, sites)
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                start = time.perf_counter()
                try:
                    with time_limit(SECONDS_PER_CASE):
                        outcome = read_case(data)
                except Exception as exc:
                    raise AssertionError(f"case {case} ({how}, {len(data)} bytes) raised {exc!r}") from exc
                elapsed = time.perf_counter() - start
                peak = tracemalloc.get_traced_memory()[1] - before
                assert peak < PEAK_BYTES, f"case {case} ({how}) allocated {peak} bytes"
                assert elapsed < SECONDS_PER_CASE
                outcomes[outcome] += 1
                past_checksum += not outcome.startswith(("checksum", "file truncated", "file has trailing"))
    finally:
        tracemalloc.stop()
    return outcomes, past_checksum


def test_fuzz_mutated_files_raise_enf_error_or_parse():
    outcomes, past_checksum = fuzz(20261124, CASES_PER_IMAGE)
    total = sum(outcomes.values())
    assert total == 2 * CASES_PER_IMAGE >= 1000
    # The fuzzing must reach deep: many different checks fire, and most cases get past the checksum.
    assert len(outcomes) >= 40, outcomes
    assert past_checksum > total // 3, outcomes
    assert outcomes["ok"] > 0  # some mutations are harmless (padding, reserved bytes, ONNX payload...)


@pytest.mark.slow
def test_fuzz_long():
    outcomes, _ = fuzz(7, 10_000)
    assert sum(outcomes.values()) == 20_000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_rejected(data):
    for candidate in (data, b"\x89NUXENF\n" + data, fix_crc(write_enf(minimal_enf())[:80] + data)):
        try:
            read_enf(candidate)
        except EnfError:
            continue
        raise AssertionError("random bytes parsed as an ENF")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_truncation_of_a_valid_file_is_rejected(data):
    image = write_enf(sample_enf())
    cut = data.draw(st.integers(0, len(image) - 1))
    fixed = data.draw(st.booleans())
    truncated = image[:cut]
    if fixed and cut >= 32:
        truncated = bytearray(truncated)
        struct.pack_into("<Q", truncated, HEADER.offsets["file_size"], cut)
        truncated = fix_crc(truncated)
    try:
        read_enf(bytes(truncated))
    except EnfError:
        return
    raise AssertionError(f"file cut at {cut} of {len(image)} bytes parsed")


def test_every_single_bit_flip_is_detected():
    """Exhaustive over one file: CRC-32 catches every 1-bit error, and no check before it lets one through."""
    image = write_enf(minimal_enf())
    for bit in range(8 * len(image)):
        data = bytearray(image)
        data[bit // 8] ^= 1 << (bit % 8)
        try:
            read_enf(bytes(data))
        except EnfError:
            continue
        raise AssertionError(f"flipping bit {bit} went unnoticed")
