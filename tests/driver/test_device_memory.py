"""The device-memory allocator: aligned first fit, coalescing, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.driver import NpuError, OutOfDeviceMemory
from nux.driver.memory import DeviceMemory


def test_first_fit_alignment_and_reuse():
    mem = DeviceMemory(1 << 20)
    a = mem.alloc(100)
    b = mem.alloc(5000)
    c = mem.alloc(64, align=64)
    assert (a, b, c) == (0, 4096, 128)  # first fit, each start rounded up to its alignment
    mem.free(b)
    assert mem.alloc(4096) == 4096  # the hole is reused
    assert mem.alloc(16, align=16) == 112  # first fit: the gap between a (ends at 100) and c (at 128)
    assert mem.used_bytes == 100 + 4096 + 64 + 16


def test_free_coalesces_back_to_one_block():
    mem = DeviceMemory(64 * 4096)
    blocks = [mem.alloc(4096) for _ in range(64)]
    with pytest.raises(OutOfDeviceMemory):
        mem.alloc(1)
    for addr in blocks[::2] + blocks[1::2]:  # free every other one first: holes must merge from both sides
        mem.free(addr)
    assert mem._free == [(0, 64 * 4096)]
    assert mem.alloc(64 * 4096) == 0


def test_out_of_memory_says_how_much_is_free():
    mem = DeviceMemory(3 * 4096)
    mem.alloc(4096)
    with pytest.raises(OutOfDeviceMemory, match=r"cannot allocate 12288 bytes.*8192 of 12288 bytes free"):
        mem.alloc(3 * 4096)


@pytest.mark.parametrize("size, align, message", [(0, 4096, "size must be positive"), (8, 3, "power of two")])
def test_bad_requests(size, align, message):
    with pytest.raises(NpuError, match=message):
        DeviceMemory(4096).alloc(size, align)


def test_double_free_is_an_error():
    mem = DeviceMemory(8192)
    addr = mem.alloc(10)
    mem.free(addr)
    with pytest.raises(NpuError, match="not an allocated block"):
        mem.free(addr)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5000), st.sampled_from([1, 8, 64, 4096])), max_size=40))
def test_random_sequences_never_overlap_and_coalesce(ops):
    size = 64 * 1024
    mem = DeviceMemory(size)
    live: dict[int, int] = {}
    for do_free, n, align in ops:
        if do_free and live:
            addr = sorted(live)[n % len(live)]
            mem.free(addr)
            del live[addr]
            continue
        try:
            addr = mem.alloc(n, align)
        except OutOfDeviceMemory:
            continue
        assert addr % align == 0 and addr + n <= size
        assert all(addr + n <= a or a + m <= addr for a, m in live.items())
        live[addr] = n
        assert mem.free_bytes + mem.used_bytes == size
    for addr in list(live):
        mem.free(addr)
    assert mem._free == [(0, size)]
