"""From a partitioned graph to an ENF: arena plan, the real lowering of NPU segments, host graphs, tensor table.

Arena layout: activations and per-layer scratch first (planned together by lifetime, buffers reused), then the
constants, then the code of every NPU program. Activations stay in the arena between NPU layers, stored the way
the next layer reads them (4-D NHWC, else row-major); a view shares its input's buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nux.compiler.adapters import lower_node
from nux.compiler.host import host_model
from nux.compiler.ir import CompileError, Graph, Node, Tensor
from nux.compiler.lower import ActTensor, Emitter, LayerCost
from nux.compiler.lower.target import ALIGN
from nux.compiler.memplan import Buffer, plan
from nux.compiler.partition import Layer, Segment
from nux.enf import DType, Enf, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole, tensor_nbytes
from nux.isa import INSTR_BYTES, Instr, NpuConfig, assemble

ENF_DTYPES = {"int8": DType.INT8, "uint8": DType.UINT8, "int32": DType.INT32, "float32": DType.FLOAT32}


class PlannedEmitter(Emitter):
    """Constants bump-allocated from `const_base`; scratch at the offsets the memory plan gave this layer."""

    def __init__(self, config: NpuConfig, const_base: int, consts: bytearray):
        super().__init__(config)
        self.const_base, self.consts = const_base, consts
        self.scratch_offsets: list[int] = []
        self.layer = ""

    def const(self, data: bytes, align: int = ALIGN) -> int:
        start = -(-len(self.consts) // align) * align
        self.consts.extend(bytes(start - len(self.consts)) + bytes(data))
        return self.const_base + start

    def scratch(self, nbytes: int, align: int = ALIGN) -> int:
        if not self.scratch_offsets:
            raise CompileError(f"layer {self.layer!r} asked for more scratch than when it was probed")
        return self.scratch_offsets.pop(0)


@dataclass
class Arena:
    """Where every arena tensor lives (views share their root's offset) and the plan's figures."""

    offsets: dict[str, int] = field(default_factory=dict)
    scratch: dict[str, list[int]] = field(default_factory=dict)
    activation_bytes: int = 0


def _root(graph: Graph, producers: dict[str, Node], name: str) -> str:
    while name in producers and producers[name].view and producers[name].placement == "npu":
        name = producers[name].inputs[0]
    return name


def arena_tensors(graph: Graph, segs: list[Segment]) -> dict[str, tuple[int, int]]:
    """Tensors that live in the arena -> (first, last) step index (nodes numbered in graph order)."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    span = {}  # node name -> (first, last) step of its segment: a host graph reads all inputs before writing
    seg_of = {}
    for seg in segs:
        first, last = index[seg.nodes[0].name], index[seg.nodes[-1].name]
        for n in seg.nodes:
            span[n.name], seg_of[n.name] = (first, last), id(seg)
    producers, readers = graph.producers(), graph.consumers()
    end = len(graph.nodes)
    needed: dict[str, tuple[int, int]] = {}

    def need(name: str) -> None:
        t = graph[name]
        if t.is_const or name in needed:
            return
        p = producers.get(name)
        first = 0 if p is None else span.get(p.name, (index[p.name],) * 2)[0]
        last = max([span.get(r.name, (index[r.name],) * 2)[1] for r in readers.get(name, [])] + [first])
        needed[name] = (first, end if name in graph.outputs else last)

    for name in graph.inputs + graph.outputs:
        need(name)
    for node in graph.nodes:
        names = [n for n in node.inputs + node.outputs if n]
        if node.placement == "npu":
            for name in names:
                need(name)
            continue
        for name in node.inputs:
            p = producers.get(name)
            if name and (p is None or seg_of.get(p.name) != seg_of[node.name]):
                need(name)
        for name in node.outputs:
            if name and any(seg_of.get(r.name) != seg_of[node.name] for r in readers.get(name, [])):
                need(name)
    return needed


def plan_arena(graph: Graph, segs: list[Segment], layers: dict[str, Layer]) -> Arena:
    producers = graph.producers()
    lifetimes = arena_tensors(graph, segs)
    roots: dict[str, tuple[int, int, int]] = {}  # root -> (size, first, last)
    for name, (first, last) in lifetimes.items():
        root = _root(graph, producers, name)
        size, f, la = roots.get(root, (graph[root].nbytes, first, last))
        roots[root] = (size, min(f, first), max(la, last))
    buffers: list[Buffer] = [Buffer(r, s, f, la) for r, (s, f, la) in roots.items()]
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    for name, layer in layers.items():
        buffers += [Buffer((name, k), size, index[name], index[name], align)
                    for k, (size, align) in enumerate(layer.scratch_sizes)]
    offsets, end = plan(buffers)
    arena = Arena(activation_bytes=end)
    for name in lifetimes:
        arena.offsets[name] = offsets[_root(graph, producers, name)]
    for name, layer in layers.items():
        arena.scratch[name] = [offsets[(name, k)] for k in range(len(layer.scratch_sizes))]
    return arena


def _act(graph: Graph, arena: Arena, name: str) -> ActTensor:
    t = graph[name]
    return ActTensor(arena.offsets[name], t.shape, t.dtype, t.quant.scalar_scale, t.quant.scalar_zero_point)


def lower_segments(graph: Graph, segs: list[Segment], arena: Arena, config: NpuConfig,
                   progress=None) -> tuple[bytes, int, list[list[Instr]], dict[str, LayerCost]]:
    """(constant image, its arena offset, one instruction list per NPU segment, cost per NPU node)."""
    const_base = -(-arena.activation_bytes // ALIGN) * ALIGN
    consts = bytearray()
    programs, costs = [], {}
    for seg in segs:
        if seg.kind != "npu":
            continue
        em = PlannedEmitter(config, const_base, consts)
        for node in seg.nodes:
            if progress is not None:
                progress.update(1)
            em.layer, em.scratch_offsets = node.name, list(arena.scratch.get(node.name, []))
            costs[node.name] = lower_node(em, graph, node, lambda n: _act(graph, arena, n))
        programs.append(em.program + [Instr("end")])
    return bytes(consts), const_base, programs, costs


def tensor_info(graph: Graph, name: str, offset: int, role: TensorRole, dim: int, public: str) -> TensorInfo:
    t: Tensor = graph[name]
    if t.dtype not in ENF_DTYPES:
        raise CompileError(f"tensor {name!r} ({t.dtype}) must cross between host and NPU or be a model input/output"
                           f", but ENF tensors are int8, uint8, int32 or float32")
    dtype = ENF_DTYPES[t.dtype]
    layout = Layout.NHWC if len(t.shape) == 4 else Layout.PLAIN
    quant = t.quant if t.quant is not None and t.quant.per_tensor else None
    size = tensor_nbytes(dtype, layout, t.shape, dim)
    return TensorInfo(public, role, dtype, tuple(t.shape), offset, size, quant.scalar_scale if quant else 1.0,
                      quant.scalar_zero_point if quant else 0, layout)


def build_enf(graph: Graph, segs: list[Segment], arena: Arena, config: NpuConfig, consts: bytes, const_base: int,
              programs: list[list[Instr]], meta: dict) -> Enf:
    code_base = -(-(const_base + len(consts)) // INSTR_BYTES) * INSTR_BYTES
    enf_programs, steps, hosts = [], [], []
    program_iter = iter(programs)
    for seg in segs:
        if seg.kind == "npu":
            code = assemble(next(program_iter))
            enf_programs.append(Program(code, code_base, f"npu{len(enf_programs)}"))
            code_base += len(code)
            steps.append(Step(StepKind.NPU, len(enf_programs) - 1))
        else:
            ins, outs = _host_boundary(graph, seg, arena)
            hosts.append(HostGraph(host_model(graph, seg.nodes, ins, outs), tuple(ins), tuple(outs)))
            steps.append(Step(StepKind.HOST, len(hosts) - 1))
    tensors = []
    for name, offset in arena.offsets.items():
        role = TensorRole.INPUT if name in graph.inputs else TensorRole.OUTPUT if name in graph.outputs else \
            TensorRole.INTERNAL
        if role != TensorRole.INTERNAL or any(name in h.inputs + h.outputs for h in hosts):
            tensors.append(tensor_info(graph, name, offset, role, config.dim, name))
    order = {n: i for i, n in enumerate(graph.inputs + graph.outputs)}
    tensors.sort(key=lambda t: order.get(t.name, len(order)))
    arena_size = max(code_base, const_base + len(consts), 1)
    if arena_size > min(2**32 - 1, 2**config.dram_addr_bits):
        raise CompileError(f"the model needs a {arena_size}-byte arena, more than the NPU can address "
                           f"({min(2**32 - 1, 2**config.dram_addr_bits)} bytes)")
    return Enf(config, enf_programs, tensors, arena_size, consts, const_base if consts else 0, hosts, steps, meta)


def _host_boundary(graph: Graph, seg: Segment, arena: Arena) -> tuple[list[str], list[str]]:
    inside = {o for n in seg.nodes for o in n.outputs if o}
    ins = list(dict.fromkeys(i for n in seg.nodes for i in n.inputs if i and i not in inside and not graph[i].is_const))
    outs = [o for o in dict.fromkeys(o for n in seg.nodes for o in n.outputs if o) if o in arena.offsets]
    if not outs:
        raise CompileError(f"host graph of {[n.name for n in seg.nodes]} produces nothing the model uses")
    return ins, outs


