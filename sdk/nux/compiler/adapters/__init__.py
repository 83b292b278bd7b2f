"""Adapters: IR node -> the NPU lowering that computes it: resolve the node's integers (weights, zero points,
scales, pads) and call the matching `nux.compiler.lower` function. Each adapter raises `Unsupported(reason)` for a
case the NPU cannot compute exactly; the partitioner turns that into a host fallback with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from nux.compiler.ir import Graph, Node
from nux.compiler.lower import ActTensor, Emitter, LayerCost, Unsupported
from nux.isa import ISA_VERSION

#: Operators that need instructions of ISA 1.1 (REDUCE, LUTW); on a 1.0 target they run on the host.
NEEDS_ISA_1_1 = {"Softmax", "LpNormalization", "ReduceL2", "ReduceMax"}

Act = Callable[[str], ActTensor]
Adapter = Callable[[Emitter, Graph, Node, Act], LayerCost]
ADAPTERS: dict[str, Adapter] = {}


def adapter(*ops: str) -> Callable[[Adapter], Adapter]:
    def register(fn: Adapter) -> Adapter:
        for op in ops:
            ADAPTERS[op] = fn
        return fn
    return register


def why_not_npu(graph: Graph, node: Node, isa_minor: int = ISA_VERSION[1]) -> str | None:
    """A reason the node cannot go to the NPU (of ISA 1.`isa_minor`) visible without lowering it, or None."""
    if node.op in NEEDS_ISA_1_1 and isa_minor < 1:
        return "needs ISA 1.1 (the target implements ISA 1.0)"
    if node.raw:
        return f"{node.domain + '.' if node.domain else ''}{node.op} works on raw integers; host only"
    if node.op not in ADAPTERS:
        return f"no NPU kernel for {node.op}"
    for name in node.inputs + node.outputs:
        if not name:
            continue
        t = graph[name]
        if t.is_const:
            continue
        if not t.quantized:
            return f"tensor {name!r} is {t.dtype} without per-tensor quantization"
        if t.shape is None:
            return f"tensor {name!r} has an unknown shape"
    return None


def lower_node(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    """Append the node's layer to `em`; Unsupported when it must run on the host."""
    reason = why_not_npu(graph, node, em.isa_minor)
    if reason:
        raise Unsupported(reason)
    return ADAPTERS[node.op](em, graph, node, act)


# Importing the op modules registers their adapters.
from nux.compiler.adapters import conv, eltwise, matmul, movers, pool, reduce  # noqa: E402, F401
