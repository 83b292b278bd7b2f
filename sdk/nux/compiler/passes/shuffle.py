"""Channel shuffle: Reshape -> Transpose -> Reshape that only permutes the channels of a 4-D tensor (ShuffleNet's
`x.view(n, g, c/g, h, w).transpose(1, 2).reshape(n, c, h, w)`) becomes one Gather along axis 1 with constant
indices.

Exact: the three nodes move bytes and share one quantization, and so does the Gather. It matters because 4-D
activations are stored NHWC and 5-D ones row-major: unfused, the NPU would relayout twice through 5-D tensors
(element-granular copies both ways); fused, it is one copy inside the NHWC layout (lower.movers.gather).
"""

from __future__ import annotations

import numpy as np

from nux.compiler.ir import Graph, Node, Tensor


def channel_permutation(shape: tuple[int, ...], middle: tuple[int, ...], perm: list[int]) -> np.ndarray | None:
    """idx with reshape(transpose(reshape(x, middle), perm), shape) == x[:, idx] for a 4-D `shape`, or None."""
    base = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    moved = base.reshape(middle).transpose(perm).reshape(shape)
    n, c, h, w = shape
    idx = moved[0, :, 0, 0] // (h * w) % c
    return idx if np.array_equal(moved, base[:, idx]) else None


def _single(graph: Graph, name: str, readers: dict[str, list[Node]]) -> Node | None:
    nodes = readers.get(name, [])
    return nodes[0] if len(nodes) == 1 and name not in graph.outputs else None


def _shuffle(graph: Graph, t: Node, readers: dict[str, list[Node]], producers: dict[str, Node]) -> bool:
    """Rewrite the Reshape -> `t` -> Reshape around Transpose `t` into a Gather; False if it is no shuffle."""
    r1, r2 = producers.get(t.inputs[0]), _single(graph, t.outputs[0], readers)
    if r1 is None or r2 is None or r1.op != "Reshape" or r2.op != "Reshape" or r1.raw or r2.raw \
            or _single(graph, r1.outputs[0], readers) is not t:
        return False
    x, mid, y = graph[r1.inputs[0]], graph[t.inputs[0]], graph[r2.outputs[0]]
    chain = [x, mid, graph[t.outputs[0]], y]
    if any(v.shape is None or not v.quantized for v in chain) or len(x.shape) != 4 or x.shape != y.shape \
            or not all(x.quant.same_as(v.quant) and v.dtype == x.dtype for v in chain):
        return False
    perm = list(t.attr("perm", list(range(len(mid.shape)))[::-1]))
    idx = channel_permutation(x.shape, mid.shape, perm)
    if idx is None:
        return False
    name = f"{y.name}__shuffle"
    graph.add(Tensor(name, (idx.size,), "int64", None, idx.astype(np.int64)))
    r2.op, r2.inputs, r2.attrs = "Gather", [x.name, name], {"axis": 1}
    r2.fused += [r1.name, t.name]
    graph.nodes.remove(r1)
    graph.nodes.remove(t)
    return True


def fuse_channel_shuffle(graph: Graph) -> None:
    """Every channel-only Reshape -> Transpose -> Reshape becomes Gather(x, constant indices, axis=1)."""
    changed = True
    while changed:
        readers, producers = graph.consumers(), graph.producers()
        changed = any(_shuffle(graph, t, readers, producers) for t in graph.nodes if t.op == "Transpose")
