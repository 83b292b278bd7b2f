"""A device-memory allocator: first fit over a sorted free list, coalescing neighbours on free.

Device memory holds a few large, long-lived blocks (one arena per loaded model), so a simple list is fast enough
and easy to reason about; fragmentation is bounded by coalescing.
"""

from __future__ import annotations

import bisect

from nux.driver.errors import NpuError, OutOfDeviceMemory


class DeviceMemory:
    """Hands out aligned blocks of [base, base + size) and takes them back."""

    def __init__(self, size: int, base: int = 0):
        if size <= 0:
            raise NpuError(f"device memory size must be positive, got {size}")
        self.base, self.size = base, size
        self._free: list[tuple[int, int]] = [(base, size)]  # (start, length), sorted by start, never adjacent
        self._used: dict[int, int] = {}  # start -> length

    @property
    def free_bytes(self) -> int:
        return sum(length for _, length in self._free)

    @property
    def used_bytes(self) -> int:
        return sum(self._used.values())

    def alloc(self, size: int, align: int = 4096) -> int:
        """The address of a new block of `size` bytes aligned to `align` (a power of two)."""
        if size <= 0:
            raise NpuError(f"allocation size must be positive, got {size}")
        if align <= 0 or align & (align - 1):
            raise NpuError(f"alignment must be a power of two, got {align}")
        for i, (start, length) in enumerate(self._free):
            addr = -(-start // align) * align
            if addr + size <= start + length:
                pieces = [(start, addr - start), (addr + size, start + length - addr - size)]
                self._free[i : i + 1] = [(s, n) for s, n in pieces if n > 0]
                self._used[addr] = size
                return addr
        raise OutOfDeviceMemory(
            f"cannot allocate {size} bytes (align {align}) in device memory: {self.free_bytes} of {self.size} bytes "
            f"free, largest free block {max((n for _, n in self._free), default=0)} bytes"
        )

    def free(self, addr: int) -> None:
        """Return a block from `alloc`; freeing anything else is an error, not a silent no-op."""
        size = self._used.pop(addr, None)
        if size is None:
            raise NpuError(f"free(0x{addr:x}): not an allocated block")
        i = bisect.bisect(self._free, (addr, size))
        start, length = addr, size
        if i < len(self._free) and self._free[i][0] == addr + size:  # merge with the next free block
            length += self._free.pop(i)[1]
        if i > 0 and sum(self._free[i - 1]) == addr:  # merge with the previous one
            start, prev = self._free.pop(i - 1)
            length += prev
            i -= 1
        self._free.insert(i, (start, length))

    def blocks(self) -> dict[int, int]:
        """Allocated blocks, address -> size."""
        return dict(self._used)
