"""Gemm / MatMul -> nux.compiler.lower.matmul.gemm (constant B) or matmul_act (both operands activations)."""

from __future__ import annotations

from nux.compiler import lower
from nux.compiler.adapters import Act, adapter
from nux.compiler.adapters.params import bias, weight
from nux.compiler.ir import Graph, Node
from nux.compiler.lower import Emitter, LayerCost, Unsupported


@adapter("Gemm", "MatMul")
def gemm(em: Emitter, graph: Graph, node: Node, act: Act) -> LayerCost:
    x, y = act(node.inputs[0]), act(node.outputs[0])
    if node.attr("transA", 0):
        raise Unsupported("Gemm transA=1 (transpose the activation first)")
    if not graph[node.inputs[1]].is_const:
        if node.op != "MatMul":
            raise Unsupported("Gemm with a non-constant B")
        return lower.matmul_act(em, x, act(node.inputs[1]), y, clamp=node.clamp)
    trans_b = bool(node.attr("transB", 0))
    n = y.shape[-1]
    w, w_scale, w_zp = weight(graph, node, 1, n, axis=0 if trans_b else 1)
    b = bias(graph, node, 2, x.scale, w_scale) if node.op == "Gemm" else None
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    return lower.gemm(em, x, y, w, w_scale, w_zp, b, trans_b=trans_b, alpha=alpha, beta=beta,
                                    clamp=node.clamp)
