"""nux.compiler: quantized ONNX (QDQ or QOperator) -> ENF executable for the nux NPU (docs/compiler.md).

    enf = nux.compiler.compile("net.int8.onnx")               # NpuConfig() unless config= is given
    nux.enf.save_enf(enf, "net.enf")

Passes, in order, over one small IR (ir.py): import (frontends/) -> simplify (passes/: fold Pad into Conv,
Relu/Clip into the producer's clamp, Flatten into the next Gemm's weights, Reshape-likes into views) -> plan the
arena for the activations (emit.py, memplan.py) -> partition by lowering each node once at its final offsets
(partition.py, adapters/ -> nux.compiler.lower; Unsupported = host with the reason) -> emit the ENF with
host-fallback ONNX graphs (emit.py, host.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import onnx

from nux.compiler.emit import build_enf, plan_arena
from nux.compiler.frontends.load import fix_input_shapes, infer_shapes, load_model
from nux.compiler.frontends.onnx import import_onnx
from nux.compiler.frontends.tflite import import_tflite, is_tflite
from nux.compiler.ir import CompileError, Graph
from nux.compiler.lower.target import ALIGN
from nux.compiler.partition import PlanEmitter, place, segments
from nux.compiler.passes import simplify
from nux.compiler.report import build_report, format_table
from nux.enf import Enf
from nux.isa import ISA_VERSION, NpuConfig

VERSION = "0.1"


def import_model(model: onnx.ModelProto | bytes | str | os.PathLike,
                 input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """Load, fix input shapes, infer shapes and import into the IR (no passes)."""
    if is_tflite(model):  # a TFLite flatbuffer (file identifier "TFL3"): docs/compiler_tflite.md
        return import_tflite(model, input_shapes)
    proto = load_model(model)
    fix_input_shapes(proto, input_shapes)
    return import_onnx(infer_shapes(proto))


def compile(model: onnx.ModelProto | bytes | str | os.PathLike, config: NpuConfig | None = None, *,  # noqa: A001
            input_shapes: Mapping[str, Sequence[int]] | None = None, fallback: bool = True,
            progress: bool | None = False, isa_minor: int = ISA_VERSION[1]) -> Enf:
    """Compile a quantized ONNX model into an ENF for `config` (default NpuConfig()).

    `input_shapes` fixes dynamic input dimensions; `fallback=False` turns every host fallback into a
    CompileError listing them; `progress` shows a tqdm bar (None: only on a terminal with many nodes);
    `isa_minor` is the ISA 1.x the target device implements (default: the newest this SDK knows).
    The per-layer report is in `enf.meta["report"]` (`format_table` prints it).
    """
    config = config or NpuConfig()
    graph = simplify(import_model(model, input_shapes))
    arena = plan_arena(graph)
    const_base = -(-arena.activation_bytes // ALIGN) * ALIGN
    em = PlanEmitter(config, const_base, isa_minor)
    bar = _progress(progress, len(graph.nodes))
    try:
        layers = place(graph, em, lambda name: arena.act(graph, name), bar)
    finally:
        if bar is not None:
            bar.close()
    host = [n for n in graph.nodes if n.placement == "host"]
    if host and not fallback:
        listed = "; ".join(f"{n.name} ({n.op}): {n.reason}" for n in host)
        raise CompileError(f"{len(host)} node(s) would run on the host (--no-fallback): {listed}")
    meta = {"compiler": f"nux.compiler {VERSION}", "name": graph.name, "io_dtypes": dict(graph.io_dtypes)}
    enf = build_enf(graph, segments(graph), layers, arena, config, em.image, const_base, meta)
    enf.meta["report"] = build_report(graph, layers, config, enf.arena_size, arena)
    return enf


def _progress(progress: bool | None, total: int):
    import sys

    if progress is False or (progress is None and (total < 100 or not sys.stderr.isatty())):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="compile", unit="node", leave=False)


__all__ = ["compile", "import_model", "CompileError", "Graph", "format_table", "VERSION"]
