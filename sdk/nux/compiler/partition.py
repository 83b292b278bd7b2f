"""Partition: decide for every node whether it runs on the NPU or on the host, and why -- by lowering it.

A node goes to the NPU when an adapter exists for its op, its activations are per-tensor int8/uint8, and the
lowering accepts its attributes. The lowering is tried for real, at the node's final arena offsets (the arena is
planned before partitioning, emit.py), into a transactional emitter: an `Unsupported` rolls its constants back
and becomes the node's fallback reason; success keeps the layer's instructions. Each node is lowered once.
Views cost nothing and follow their neighbours. Consecutive nodes with one placement form a `Segment`: an NPU
program or a host graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nux.compiler.adapters import lower_node
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import ActTensor, Emitter, LayerCost, Unsupported
from nux.compiler.lower.target import ALIGN
from nux.isa import Instr, NpuConfig


class PlanEmitter(Emitter):
    """Constants and per-layer scratch bump-allocated from `base` (after the activations); `mark`/`rollback`
    undo a layer whose lowering raised Unsupported halfway."""

    def __init__(self, config: NpuConfig, base: int, isa_minor: int):
        super().__init__(config, isa_minor)
        self.base = base
        self.image = bytearray()  # constants (and zeros where scratch lies) from `base` on

    def _bump(self, data: bytes, align: int) -> int:
        start = -(-len(self.image) // align) * align
        self.image.extend(bytes(start - len(self.image)) + data)
        return self.base + start

    def const(self, data: bytes, align: int = ALIGN) -> int:
        return self._bump(bytes(data), align)

    def scratch(self, nbytes: int, align: int = ALIGN) -> int:
        return self._bump(bytes(max(1, int(nbytes))), align)

    def mark(self) -> tuple[int, int]:
        return len(self.image), len(self.program)

    def rollback(self, mark: tuple[int, int]) -> None:
        del self.image[mark[0]:]
        del self.program[mark[1]:]


@dataclass
class Layer:
    """One NPU node's lowering: its cost and its instructions (without END)."""

    cost: LayerCost
    program: list[Instr] = field(default_factory=list)
    const_bytes: int = 0  # constants (weights, biases, requant parameters, tables) and scratch it added


@dataclass
class Segment:
    kind: str  # "npu" or "host"
    nodes: list[Node]


def place(graph: Graph, em: PlanEmitter, act: Callable[[str], ActTensor], progress=None) -> dict[str, Layer]:
    """Set `placement`/`reason` of every node; return the lowered NPU nodes by name."""
    layers: dict[str, Layer] = {}
    for node in graph.nodes:
        if progress is not None:
            progress.update(1)
        if node.view:
            continue
        mark = em.mark()
        try:
            cost = lower_node(em, graph, node, act)
        except Unsupported as exc:
            em.rollback(mark)
            node.placement, node.reason = "host", exc.reason
            continue
        node.placement, node.reason = "npu", ""
        layers[node.name] = Layer(cost, em.program[mark[1]:], len(em.image) - mark[0])
    _place_views(graph)
    return layers


def _place_views(graph: Graph) -> None:
    """A view runs where its data is: on the host when its producer and all its readers are host nodes (it is
    then part of a host graph), else it is an alias in the arena that costs nothing.

    Chains of views (Reshape -> Flatten between two host nodes) are settled together: every view starts on the
    host and moves to the arena when its producer or a reader is on the NPU (or it is a graph output), until
    nothing moves. Deciding one view at a time would make the first view of a chain an alias because its reader,
    the next view, was not placed yet -- and the two host nodes around the chain would then merge into one host
    graph that reads the alias before computing it."""
    producers, readers = graph.producers(), graph.consumers()
    views = [node for node in graph.nodes if node.view]
    for node in views:
        node.placement = "host"
    moved = True
    while moved:
        moved = False
        for node in views:
            if node.placement == "npu":
                continue
            src = producers.get(node.inputs[0])
            users = readers.get(node.outputs[0], [])
            if (src is None or src.placement != "host" or not users or node.outputs[0] in graph.outputs
                    or any(u.placement != "host" for u in users)):
                node.placement, moved = "npu", True
    for node in views:
        node.reason = "" if node.placement == "npu" else "between host nodes"


def segments(graph: Graph) -> list[Segment]:
    """Runs of consecutive nodes with one placement (views in the arena join whatever run they sit in)."""
    result: list[Segment] = []
    for node in graph.nodes:
        if node.view and node.placement == "npu":
            continue  # aliases need no code
        if result and result[-1].kind == node.placement:
            result[-1].nodes.append(node)
        else:
            result.append(Segment(node.placement, [node]))
    return result
