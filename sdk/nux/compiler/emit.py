"""Arena planning before lowering, and the ENF assembled from the partitioned, lowered graph.

Arena layout: activations first (planned by lifetime, buffers reused), then the constants and per-layer scratch
(bump-allocated while lowering, partition.PlanEmitter), then the code of every NPU program. Activations stay in the
arena between NPU layers, stored the way the next layer reads them (4-D NHWC, else row-major); a view shares its
input's buffer. The plan covers every activation with a static shape, including ones that end up inside a host
graph (placement is decided by lowering, which needs the offsets); buffer reuse keeps that cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nux.compiler.host import host_model
from nux.compiler.ir import CompileError, Graph, Node, Tensor
from nux.compiler.lower import ActTensor
from nux.compiler.memplan import Buffer, plan
from nux.compiler.partition import Layer, Segment
from nux.enf import DType, Enf, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole, tensor_nbytes
from nux.isa import INSTR_BYTES, Instr, NpuConfig, assemble

ENF_DTYPES = {"int8": DType.INT8, "uint8": DType.UINT8, "int32": DType.INT32, "float32": DType.FLOAT32}


@dataclass
class Arena:
    """Where every planned tensor lives (views share their root's offset) and how many bytes activations take."""

    offsets: dict[str, int] = field(default_factory=dict)
    activation_bytes: int = 0
    live_bytes: list[int] = field(default_factory=list)  # per node index: bytes of activations live there

    def act(self, graph: Graph, name: str) -> ActTensor:
        t = graph[name]
        if name not in self.offsets:
            raise CompileError(f"tensor {name!r} has no place in the arena (unknown shape or type {t.dtype})")
        return ActTensor(self.offsets[name], t.shape, t.dtype, t.quant.scalar_scale, t.quant.scalar_zero_point)


def _root(producers: dict[str, Node], name: str) -> str:
    while name in producers and producers[name].view:
        name = producers[name].inputs[0]
    return name


def plan_arena(graph: Graph) -> Arena:
    """Offsets for every non-constant tensor with a static shape and an ENF dtype, by node-order lifetimes."""
    producers, readers = graph.producers(), graph.consumers()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    end = len(graph.nodes)
    roots: dict[str, list[int]] = {}  # root -> [size, first, last]
    members: dict[str, str] = {}
    for name, t in graph.tensors.items():
        if t.is_const or t.shape is None or t.dtype not in ENF_DTYPES:
            continue
        p = producers.get(name)
        first = index[p.name] if p is not None else 0
        last = max([index[r.name] for r in readers.get(name, [])] + [first, end if name in graph.outputs else 0])
        root = _root(producers, name)
        members[name] = root
        size, f, la = roots.get(root, [graph[root].nbytes, first, last])
        roots[root] = [size, min(f, first), max(la, last)]
    offsets, top = plan([Buffer(r, s, f, la) for r, (s, f, la) in roots.items()])
    live = [sum(s for s, f, la in roots.values() if f <= i <= la) for i in range(end)]
    return Arena({name: offsets[root] for name, root in members.items()}, top, live)


def tensor_info(graph: Graph, name: str, offset: int, role: TensorRole, dim: int) -> TensorInfo:
    t: Tensor = graph[name]
    if t.dtype not in ENF_DTYPES or t.shape is None:
        raise CompileError(f"tensor {name!r} ({t.dtype}, shape {t.shape}) crosses between host and NPU or is a "
                           "model input/output, but ENF tensors are int8, uint8, int32 or float32 with static shapes")
    dtype = ENF_DTYPES[t.dtype]
    layout = Layout.NHWC if len(t.shape) == 4 else Layout.PLAIN
    quant = t.quant if t.quant is not None and t.quant.per_tensor else None
    return TensorInfo(name, role, dtype, tuple(t.shape), offset, tensor_nbytes(dtype, layout, t.shape, dim),
                      quant.scalar_scale if quant else 1.0, quant.scalar_zero_point if quant else 0, layout)


def _host_boundary(graph: Graph, seg: Segment, needed: set[str]) -> tuple[list[str], list[str]]:
    inside = {o for n in seg.nodes for o in n.outputs if o}
    ins = list(dict.fromkeys(i for n in seg.nodes for i in n.inputs if i and i not in inside and not graph[i].is_const))
    outs = [o for o in dict.fromkeys(o for n in seg.nodes for o in n.outputs if o) if o in needed]
    if not outs:
        raise CompileError(f"host graph of {[n.name for n in seg.nodes]} produces nothing the model uses")
    return ins, outs


def _needed_outside(graph: Graph, segs: list[Segment]) -> set[str]:
    """Tensors read outside the segment that writes them, or model outputs: what a host graph must write back."""
    owner = {o: id(seg) for seg in segs for n in seg.nodes for o in n.outputs if o}
    needed = set(graph.outputs)
    for seg in segs:
        for node in seg.nodes:
            needed.update(i for i in node.inputs if i and owner.get(i, None) not in (None, id(seg)))
    for node in graph.nodes:  # views in the arena read their input there
        if node.view and node.placement == "npu":
            needed.add(node.inputs[0])
    return needed


def build_enf(graph: Graph, segs: list[Segment], layers: dict[str, Layer], arena: Arena, config: NpuConfig,
              consts: bytes, const_base: int, meta: dict) -> Enf:
    code_base = -(-(const_base + len(consts)) // INSTR_BYTES) * INSTR_BYTES
    programs, steps, hosts = [], [], []
    needed = _needed_outside(graph, segs)
    for seg in segs:
        if seg.kind == "npu":
            instrs: list[Instr] = [i for n in seg.nodes for i in layers[n.name].program] + [Instr("end")]
            code = assemble(instrs)
            programs.append(Program(code, code_base, f"npu{len(programs)}"))
            code_base += len(code)
            steps.append(Step(StepKind.NPU, len(programs) - 1))
        else:
            ins, outs = _host_boundary(graph, seg, needed)
            hosts.append(HostGraph(host_model(graph, seg.nodes, ins, outs), tuple(ins), tuple(outs)))
            steps.append(Step(StepKind.HOST, len(hosts) - 1))
    boundary = {n for h in hosts for n in h.inputs + h.outputs}
    tensors = []
    for name in dict.fromkeys(graph.inputs + graph.outputs + sorted(boundary)):
        role = TensorRole.INPUT if name in graph.inputs else TensorRole.OUTPUT if name in graph.outputs else \
            TensorRole.INTERNAL
        if name not in arena.offsets:
            raise CompileError(f"tensor {name!r} must live in device memory but has an unknown shape or type "
                               f"({graph[name].dtype}, shape {graph[name].shape})")
        tensors.append(tensor_info(graph, name, arena.offsets[name], role, config.dim))
    arena_size = max(code_base, const_base + len(consts), 1)
    limit = min(2**32 - 1, 2**config.dram_addr_bits)
    if arena_size > limit:
        raise CompileError(f"the model needs a {arena_size}-byte arena, more than the NPU can address ({limit} bytes)")
    return Enf(config, programs, tensors, arena_size, bytes(consts), const_base if consts else 0, hosts, steps, meta)
