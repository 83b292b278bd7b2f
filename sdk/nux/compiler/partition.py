"""Partition: decide for every node whether it runs on the NPU or on the host, and why.

A node goes to the NPU when an adapter exists for its op, its activations are per-tensor int8/uint8, and the
lowering accepts its attributes; the lowering is tried for real (into a `ProbeEmitter`), so every `Unsupported`
it raises becomes the node's fallback reason and the probe's costs, constant and scratch sizes feed the report
and the memory plan. Views cost nothing and follow their neighbours. Consecutive nodes with one placement form a
`Segment`: an NPU program or a host graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from nux.compiler.adapters import lower_node
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import ActTensor, Emitter, LayerCost, Unsupported
from nux.compiler.lower.target import ALIGN
from nux.isa import NpuConfig


class ProbeEmitter(Emitter):
    """Lowers with stand-in offsets to learn what a layer needs: its constants' and scratch buffers' sizes."""

    def __init__(self, config: NpuConfig, base: int):
        super().__init__(config)
        self.end = base
        self.const_sizes: list[tuple[int, int]] = []  # (size, align) in request order
        self.scratch_sizes: list[tuple[int, int]] = []

    def _bump(self, n: int, align: int) -> int:
        offset = -(-self.end // align) * align
        self.end = offset + max(1, n)
        return offset

    def const(self, data: bytes, align: int = ALIGN) -> int:
        self.const_sizes.append((len(data), align))
        return self._bump(len(data), align)

    def scratch(self, nbytes: int, align: int = ALIGN) -> int:
        self.scratch_sizes.append((int(nbytes), align))
        return self._bump(int(nbytes), align)


@dataclass
class Layer:
    """What partitioning learned about one NPU node."""

    cost: LayerCost
    const_sizes: list[tuple[int, int]] = field(default_factory=list)
    scratch_sizes: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Segment:
    kind: str  # "npu" or "host"
    nodes: list[Node]


def stand_in_acts(graph: Graph) -> dict[str, ActTensor]:
    """Every quantized activation at a distinct offset (no reuse): good enough to probe a lowering."""
    acts, end = {}, 0
    for t in graph.tensors.values():
        if not t.is_const and t.quantized and t.shape is not None:
            acts[t.name] = ActTensor(end, t.shape, t.dtype, t.quant.scalar_scale, t.quant.scalar_zero_point)
            end += -(-prod(t.shape) // ALIGN) * ALIGN
    return acts


def place(graph: Graph, config: NpuConfig, progress=None) -> dict[str, Layer]:
    """Set `placement`/`reason` of every node; return the probe results of the NPU nodes by node name."""
    acts = stand_in_acts(graph)
    base = sum(-(-prod(a.shape) // ALIGN) * ALIGN for a in acts.values())
    layers: dict[str, Layer] = {}
    for node in graph.nodes:
        if progress is not None:
            progress.update(1)
        if node.view:
            continue
        probe = ProbeEmitter(config, base)
        try:
            cost = lower_node(probe, graph, node, acts.__getitem__)
        except Unsupported as exc:
            node.placement, node.reason = "host", exc.reason
            continue
        node.placement, node.reason = "npu", ""
        layers[node.name] = Layer(cost, probe.const_sizes, probe.scratch_sizes)
    _place_views(graph)
    return layers


def _place_views(graph: Graph) -> None:
    """A view runs where its data is: on the host when its producer and all its readers are host nodes (it is
    then part of a host graph), else it is an alias in the arena that costs nothing."""
    producers, readers = graph.producers(), graph.consumers()
    for node in graph.nodes:
        if not node.view:
            continue
        src = producers.get(node.inputs[0])
        users = readers.get(node.outputs[0], [])
        host_side = (src is not None and src.placement == "host") and users and all(
            u.placement == "host" for u in users) and node.outputs[0] not in graph.outputs
        node.placement = "host" if host_side else "npu"
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
