"""Removal of nodes that compute nothing at inference time: Identity, and Dropout (an identity in inference)."""

from __future__ import annotations

import onnx

from .graph import consumers, graph_output_names, producers, rename_input

PASS_THROUGH = {"Identity", "Dropout"}


def remove_pass_through(graph: onnx.GraphProto) -> bool:
    """Bypass Identity/Dropout nodes. When the node writes a graph output, its producer writes that name instead;
    an Identity straight from a graph input (or initializer) to a graph output has to stay."""
    changed = False
    for node in [n for n in graph.node if n.op_type in PASS_THROUGH]:
        if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
            if node.output[1] in consumers(graph) or node.output[1] in graph_output_names(graph):
                continue  # its mask is used: leave it
        src, dst = node.input[0], node.output[0]
        outputs = graph_output_names(graph)
        if dst not in outputs:
            graph.node.remove(node)
            rename_input(graph, dst, src)
            changed = True
            continue
        producer = producers(graph).get(src)
        if producer is None or src in outputs:
            continue
        graph.node.remove(node)
        producer.output[list(producer.output).index(src)] = dst
        rename_input(graph, src, dst)
        changed = True
    return changed
