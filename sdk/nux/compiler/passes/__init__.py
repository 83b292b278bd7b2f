"""Graph passes over ir.Graph, each testable alone; `simplify` runs the fold/fuse passes in order."""

from nux.compiler.ir import Graph
from nux.compiler.passes.fuse import absorb_flatten_into_gemm, fold_pad_into_conv, fuse_activations, mark_views
from nux.compiler.passes.pads import explicit_pads
from nux.compiler.passes.shuffle import fuse_channel_shuffle


def simplify(graph: Graph) -> Graph:
    """Fold and fuse in place: auto_pad to explicit pads, Pad into Conv, Relu/Clip into the producer's clamp,
    Flatten before a Gemm into
    the Gemm's weights, Reshape-like nodes into views."""
    explicit_pads(graph)
    fold_pad_into_conv(graph)
    fuse_activations(graph)
    absorb_flatten_into_gemm(graph)
    fuse_channel_shuffle(graph)
    mark_views(graph)
    graph.remove_unused()
    graph.check()
    return graph


__all__ = ["simplify", "explicit_pads", "fold_pad_into_conv", "fuse_activations", "absorb_flatten_into_gemm",
           "fuse_channel_shuffle", "mark_views"]
