"""Arena planning: offsets for buffers with lifetimes, reusing bytes of buffers that are never live together.

Greedy by size (the TFLite arena planner's strategy): largest buffer first, each at the lowest aligned offset that
overlaps no already-placed buffer whose lifetime intersects its own. Lifetimes are inclusive step ranges.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

ALIGN = 64


@dataclass(frozen=True)
class Buffer:
    key: Hashable
    size: int
    first: int  # first step at which it is live
    last: int  # last step at which it is live (inclusive)
    align: int = ALIGN


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def plan(buffers: Sequence[Buffer], base: int = 0) -> tuple[dict[Hashable, int], int]:
    """(offset of each buffer, end of the highest byte used); offsets are >= base."""
    placed: list[tuple[int, int, Buffer]] = []  # (offset, end, buffer)
    offsets: dict[Hashable, int] = {}
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, str(b.key))):
        live = sorted((o, e) for o, e, b in placed if b.first <= buf.last and buf.first <= b.last)
        offset = _align(base, buf.align)
        for start, end in live:
            if offset + buf.size <= start:
                break
            offset = max(offset, _align(end, buf.align))
        offsets[buf.key] = offset
        placed.append((offset, offset + max(buf.size, 1), buf))
    return offsets, max((e for _, e, _ in placed), default=base)
