"""The systolic array against NumPy: every output row equals a @ W for the tile its buffer select names.

The schedule is the one the compute unit relies on: tile 1 streams while tile 2 shifts into the other buffer,
and the first row of tile 2 follows the last row of tile 1 in the next cycle (no drain), then the buffers swap
roles again. Operands cover the full 9-bit range (-256..255), so a too-narrow partial sum would show.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from nux.rtl.array import SystolicArray


def _schedule(dim: int, seed: int, tiles: int, rows: int):
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-256, 256, (dim, dim)) for _ in range(tiles)]
    for w in ws:  # include the extremes in every tile
        w[0, 0], w[-1, -1] = -256, 255
    streams = [rng.integers(-256, 256, (rows, dim)) for _ in range(tiles)]
    streams[0][0, :] = -256
    return ws, streams


def min_reload_rows(dim: int) -> int:
    """Rows after a buffer switch before the old buffer may be reloaded (docs/rtl_compute.md)."""
    return 2 * dim - 3


@pytest.mark.parametrize("dim", [4, 8])
def test_back_to_back_tiles_with_shadow_load(dim: int) -> None:
    tiles, rows = 5, 3 * dim  # DRAIN rows, then dim rows overlap the next tile's shift-in
    ws, streams = _schedule(dim, dim, tiles, rows)
    dut = SystolicArray(dim)
    got: list[np.ndarray] = []
    expected = [s @ w for s, w in zip(streams, ws, strict=True)]
    entries: list[int] = []  # cycle at which each streamed row entered

    async def bench(ctx):
        cycle = 0

        async def step():
            nonlocal cycle
            await ctx.tick()
            cycle += 1
            if entries and cycle - entries[0] == dut.LATENCY:
                got.append(np.array([ctx.get(dut.out[n]) for n in range(dim)]))
                entries.pop(0)

        async def load(tile: int, buf: int, stream_rows):
            """Shift tile into buf (rows last-first) while streaming stream_rows with the other buffer."""
            pending = list(stream_rows)
            for k in reversed(range(dim)):
                ctx.set(dut.wload_en, 1)
                ctx.set(dut.wload_buf, buf)
                ctx.set(dut.wload_data, [int(v) for v in ws[tile][k]])
                if pending:
                    row, sel = pending.pop(0)
                    ctx.set(dut.a, [int(v) for v in row])
                    ctx.set(dut.sel, sel)
                    entries.append(cycle)
                else:
                    ctx.set(dut.a, [0] * dim)
                await step()
            ctx.set(dut.wload_en, 0)
            return pending

        await load(0, 0, [])
        for t in range(tiles):
            buf = t % 2
            rows_t = [(r, buf) for r in streams[t]]
            # The other buffer still serves the previous tile's last row until it leaves PE(dim-1, dim-1),
            # 2*dim-2 cycles after it entered: the earliest legal shift is min_reload_rows rows into this tile.
            for row, sel in rows_t[:min_reload_rows(dim)]:
                ctx.set(dut.a, [int(v) for v in row])
                ctx.set(dut.sel, sel)
                entries.append(cycle)
                await step()
            rest = rows_t[min_reload_rows(dim):]
            if t + 1 < tiles:
                rest = await load(t + 1, 1 - buf, rest)
            for row, sel in rest:
                ctx.set(dut.a, [int(v) for v in row])
                ctx.set(dut.sel, sel)
                entries.append(cycle)
                await step()
        ctx.set(dut.a, [0] * dim)
        while entries:
            await step()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == tiles * rows
    np.testing.assert_array_equal(np.array(got), np.concatenate(expected))
