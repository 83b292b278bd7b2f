"""Readable tables for sessions and benchmarks (rendered with rich to plain text, so they print anywhere)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from nux.driver import Npu
from nux.enf import Enf
from nux.session.tensors import TensorDesc


def render(table: Table) -> str:
    """The table as plain text (no colour codes), as wide as it needs, without trailing spaces or blank lines."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, legacy_windows=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines() if line.strip())


def tensor_table(enf: Enf, inputs: Sequence[TensorDesc], outputs: Sequence[TensorDesc], npu: Npu) -> str:
    """Inputs and outputs: name, shape, the dtype `run` exchanges, the stored dtype, scale and zero point."""
    steps = enf.run_steps()
    host = sum(1 for s in steps if s.kind.name == "HOST")
    title = (f"{enf.meta.get('name') or 'model'} on {npu.device!r}: {len(steps) - host} NPU step(s), {host} host "
             f"step(s), arena {enf.arena_size:,} bytes")
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("", "#", "name", "shape", "dtype", "stored", "scale", "zero point"):
        table.add_column(column)
    for role, descs in (("input", inputs), ("output", outputs)):
        for d in descs:
            table.add_row(role, str(d.index), d.name, "x".join(map(str, d.shape)) or "scalar", str(d.dtype),
                          str(d.quant_dtype), f"{d.scale:.6g}", str(d.zero_point))
    return title + "\n" + render(table)
