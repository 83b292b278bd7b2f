"""Graph passes over ir.Graph, each testable alone; `simplify` runs the fold/fuse passes in order."""

from nux.compiler.ir import Graph
from nux.compiler.passes.decompose import canonical_pad, reverse_slice
from nux.compiler.passes.fuse import absorb_flatten_into_gemm, fold_pad_into_conv, fuse_activations, mark_views
from nux.compiler.passes.pads import explicit_pads
from nux.compiler.passes.shapes import (
    expand_broadcast_operands,
    gemm_bias_rows,
    matmul_4d_as_3d,
    matmul_vector_b,
    transpose_gemm_a,
    window_1d_as_2d,
)
from nux.compiler.passes.shuffle import fuse_channel_shuffle


def simplify(graph: Graph) -> Graph:
    """Fold and fuse in place: 1-D windows as 2-D, auto_pad to explicit pads, operator cases into operators the
    NPU lowers (passes/decompose.py, passes/shapes.py), Pad into Conv, Relu/Clip into the producer's clamp,
    Flatten before a Gemm into the Gemm's weights, Reshape-like nodes into views."""
    window_1d_as_2d(graph)
    explicit_pads(graph)
    canonical_pad(graph)
    reverse_slice(graph)
    transpose_gemm_a(graph)
    gemm_bias_rows(graph)
    matmul_vector_b(graph)
    matmul_4d_as_3d(graph)
    expand_broadcast_operands(graph)
    fold_pad_into_conv(graph)
    fuse_activations(graph)
    absorb_flatten_into_gemm(graph)
    fuse_channel_shuffle(graph)
    mark_views(graph)
    graph.remove_unused()
    graph.check()
    return graph


__all__ = ["simplify", "explicit_pads", "canonical_pad", "reverse_slice", "transpose_gemm_a", "matmul_vector_b",
           "matmul_4d_as_3d",
           "expand_broadcast_operands", "window_1d_as_2d", "gemm_bias_rows",
           "fold_pad_into_conv", "fuse_activations", "absorb_flatten_into_gemm",
           "fuse_channel_shuffle", "mark_views"]
