"""The performance model: cycles of an instruction stream on the decoupled NPU, from the documented RTL timing.

One pass in program order replays what the hardware does (docs/compiler_lowering.md, "Performance model"):
dispatch takes DISPATCH_CYCLES per instruction and stalls when the target queue already holds QUEUE_DEPTH
instructions that have not started; each queue runs its instructions in order; a pop waits for the matching
push's completion (pushes on a channel come from one queue, so the k-th pop takes the k-th push); SYNC and END
wait for every queue to finish. The dispatch-time token rule guarantees that every push a pop needs is earlier in
program order, so one pass suffices.

Per-instruction costs (rtl_compute.md, rtl.md; constants the docs do not give were measured on the sim):
- A task starts TASK_START cycles after the doorbell; dispatch is fetch-bound at DISPATCH_CYCLES per instruction.
- GEMM streams one row per cycle and chains with the previous GEMM; preloading GEMMs of R < 3*dim - 2 rows take
  (3*dim - 2 + R) / 2 cycles each (the two weight buffers alternate, each waits for its drain and dim rows of
  preload); results land 2*dim - 1 + GEMM_TAIL cycles after the last row enters.
- REQUANT/VECTOR/POOL wait for the GEMM engine's last write and the previous vector instruction, read their
  parameter rows (one per cycle), stream one row (or one pool tap) per cycle and drain VECTOR_DRAIN cycles.
- LOAD: DMA_SETUP cycles, then contiguous whole-beat runs at one beat per cycle, any other DRAM row at one AXI
  burst per 1/BURSTS_PER_CYCLE cycles (or its beats, if more), padding rows one cycle; LOADs pipeline back to
  back and complete DRAM_LATENCY after their last request.
- STORE: DMA_SETUP cycles, then contiguous whole-beat runs at beats + 1 cycle per row, other rows beats + 2;
  completes after the write responses (DRAM_LATENCY).

ISA 1.1 additions (docs/isa.md; no RTL yet, so these are the costs the units are specified to meet):
- GATHER (load queue) and STORE with lane_stride: a lane-strided row is either one burst over the row's whole
  span (lanes picked from it, or written with byte strobes) or one single-beat burst per lane, whichever is
  cheaper: reads max(span beats, 1/BURSTS_PER_CYCLE) vs lanes/BURSTS_PER_CYCLE, writes span beats + 2 vs
  3 per lane (each lane priced as a one-element row).
- LOAD dst=lutw moves int32 rows like dst=acc.
- REDUCE: one row per cycle; with post != NONE a group takes max(its rows, the post unit's latency: RECIP 35,
  RSQRT 59 cycles, measured on rtl/rowops.py), as the next group streams while the post unit works; LUTW: one
  row per cycle; both
  wait like VECTOR. GEMM wzp_en / bias_en read one more row (1 cycle); REQUANT row_scale reads one parameter
  row per group.
"""

from __future__ import annotations

from collections.abc import Iterable

from nux.isa import Instr, Mem, NpuConfig, Opcode, ReducePost, VectorOp

DISPATCH_CYCLES = 5  # fetch-bound: 4-instruction bursts at the DRAM's latency (measured 5.1 per NOP)
TASK_START = 30  # doorbell to the first instruction dispatched (measured: an END-only task takes 32 cycles)
DMA_SETUP = 5  # per LOAD/STORE instruction (measured ~6 cycles per one-row LOAD)
QUEUE_DEPTH = 8
GEMM_TAIL = 2
VECTOR_DRAIN = 12
ADD_DRAIN = 20
DRAM_LATENCY = 20
BURSTS_PER_CYCLE = 0.73
VECTOR_PARAMS = {VectorOp.ADD: 6, VectorOp.LUT: 0}
#: cycles of the post unit per group (rtl/rowops.py RowOpsUnit, measured: docs/rtl_rowunit.md)
REDUCE_POST = {ReducePost.RECIP: 35, ReducePost.RSQRT: 59}
LANE_WRITE_CYCLES = 3  # one single-beat write burst per lane: what a one-element STORE row costs

_QUEUE = {Opcode.LOAD: 0, Opcode.GATHER: 0, Opcode.GEMM: 1, Opcode.REQUANT: 1, Opcode.VECTOR: 1, Opcode.POOL: 1,
          Opcode.REDUCE: 1, Opcode.LUTW: 1, Opcode.STORE: 2}
_WIDE = (Mem.ACC, Mem.LUTW)  # int32 memories: 4 bytes per lane in DRAM
# (queue, flag) -> channel: 0 = L->C, 1 = C->L, 2 = C->S, 3 = S->C
_PUSH = {(0, "push_next"): 0, (1, "push_prev"): 1, (1, "push_next"): 2, (2, "push_prev"): 3}
_POP = {(1, "pop_prev"): 0, (0, "pop_next"): 1, (2, "pop_prev"): 2, (1, "pop_next"): 3}
# per queue: its (flag, channel) pairs, so each instruction looks at its own queue's flags only
_POPS = [[(flag, ch) for (queue, flag), ch in _POP.items() if queue == q] for q in range(3)]
_PUSHES = [[(flag, ch) for (queue, flag), ch in _PUSH.items() if queue == q] for q in range(3)]


def _beats(config: NpuConfig, nbytes: int, offset: int) -> int:
    beat = config.axi_data_bits // 8
    return (offset + nbytes - 1) // beat - offset // beat + 1


def _dma_rows(ins: Instr, config: NpuConfig) -> tuple[int, int, int, bool]:
    """(data rows, padding rows, bytes per row, contiguous whole-beat run) of a LOAD, GATHER or STORE."""
    v = ins.values
    esize = 4 if v.get("dst", v.get("src")) in _WIDE else 1
    row = (v["row_elems"] or config.dim) * esize
    data = v["x_size"] * v["y_size"] * v["z_size"]
    total = data
    if ins.opcode is Opcode.LOAD:
        xn = v["x_size"] + v["x_pad_before"] + v["x_pad_after"]
        yn = v["y_size"] + v["y_pad_before"] + v["y_pad_after"]
        total = xn * yn * v["z_size"]
    beat = config.axi_data_bits // 8
    beats = -(-row // beat)
    whole = row % beat == 0 and v["dram_offset"] % beat == 0 and beats & (beats - 1) == 0
    contiguous = whole and (v["x_stride"] == row or v["x_size"] == 1)
    return data, total - data, row, contiguous


def _lane_span(ins: Instr, config: NpuConfig) -> tuple[int, int] | None:
    """(lanes, beats of the row's span) of a lane-strided GATHER/STORE row, or None for a contiguous row."""
    v = ins.values
    stride = v.get("lane_stride", 0)
    if not stride:
        return None
    lanes = v["row_elems"] or config.dim
    esize = 4 if v.get("dst", v.get("src")) in _WIDE else 1
    return lanes, _beats(config, (lanes - 1) * stride + esize, v["dram_offset"])


def load_cycles(ins: Instr, config: NpuConfig) -> float:
    """Cycles the load unit is busy with one LOAD or GATHER (not counting the DRAM latency it overlaps)."""
    data, pad, row, contiguous = _dma_rows(ins, config)
    beats = _beats(config, row, ins.values["dram_offset"])
    per_row = beats if contiguous else max(beats, 1 / BURSTS_PER_CYCLE)
    lane = _lane_span(ins, config)
    if lane is not None:
        per_row = min(max(lane[1], 1 / BURSTS_PER_CYCLE), lane[0] / BURSTS_PER_CYCLE)
    return DMA_SETUP + data * per_row + pad


def store_cycles(ins: Instr, config: NpuConfig) -> float:
    data, _, row, contiguous = _dma_rows(ins, config)
    beats = _beats(config, row, ins.values["dram_offset"])
    per_row = beats + (1 if contiguous else 2)
    lane = _lane_span(ins, config)
    if lane is not None:
        per_row = min(lane[1] + 2, lane[0] * LANE_WRITE_CYCLES)
    return DMA_SETUP + data * per_row


def compute_cycles(ins: Instr, config: NpuConfig) -> float:
    """Streaming cycles of a compute instruction (rows or taps), without its fill and drain."""
    v = ins.values
    if ins.opcode is Opcode.GEMM:
        rows = v["x_size"] * v["y_size"]
        # the next tile preloads while this one streams, into the buffer the GEMM before it drained:
        # chained preloading GEMMs of R rows take max(R, (3*dim - 2 + R) / 2) each (rtl_compute.md)
        extra = v.get("wzp_en", 0) + v.get("bias_en", 0)  # one more SP / ACC row read each
        return extra + (max(rows, (3 * config.dim - 2 + rows) / 2) if v["preload"] else rows)
    if ins.opcode is Opcode.REQUANT:
        groups = -(-v["n_rows"] // v["group_rows"]) if v.get("row_scale", 0) else 0
        return 2 + v["n_rows"] + groups
    if ins.opcode is Opcode.VECTOR:
        return VECTOR_PARAMS.get(v["vop"], 2) + v["x_size"] * v["y_size"]
    if ins.opcode is Opcode.REDUCE:
        per_group = max(v["group_rows"], REDUCE_POST[v["post"]]) if v["post"] else v["group_rows"]
        return 8 + per_group * v["n_groups"]
    if ins.opcode is Opcode.LUTW:
        return 2 + v["x_size"] * v["y_size"]
    return 2 + v["x_size"] * v["y_size"] * v["win_x"] * v["win_y"]  # POOL


def gather_row_cycles(config: NpuConfig, row_bytes: int) -> float:
    """Load-unit cycles of one strided (non-coalesced) DRAM row: one burst each, or its beats if more."""
    return max(-(-row_bytes // (config.axi_data_bits // 8)), 1 / BURSTS_PER_CYCLE)


class _Model:
    def __init__(self, config: NpuConfig):
        self.config = config
        self.dispatch = 0.0
        self.free = [0.0, 0.0, 0.0]          # when each queue can start its next instruction
        self.done = [0.0, 0.0, 0.0]          # when each queue's last instruction completed
        self.gemm_written = 0.0              # when the GEMM engine's last row is in ACC
        self.vector_done = 0.0
        self.starts: list[list[float]] = [[], [], []]
        self.pushes: list[list[float]] = [[], [], [], []]
        self.pops = [0, 0, 0, 0]

    def step(self, ins: Instr) -> None:
        if ins.opcode in (Opcode.SYNC, Opcode.END):
            self.dispatch = max(self.dispatch + DISPATCH_CYCLES, *self.done, *self.free)
            return
        q = _QUEUE.get(ins.opcode, ins.values.get("queue", 0))
        started = self.starts[q]
        at = self.dispatch + DISPATCH_CYCLES
        if len(started) >= QUEUE_DEPTH:
            at = max(at, started[-QUEUE_DEPTH])
        self.dispatch = at
        start = max(at, self.free[q])
        values = ins.values
        for flag, channel in _POPS[q]:
            if values[flag]:
                start = max(start, self.pushes[channel][self.pops[channel]])
                self.pops[channel] += 1
        end = self._run(ins, q, start)
        started.append(start)
        self.done[q] = max(self.done[q], end)
        for flag, channel in _PUSHES[q]:
            if values[flag]:
                self.pushes[channel].append(end)

    def _run(self, ins: Instr, q: int, start: float) -> float:
        """Occupy queue q from `start`; return when the instruction's writes are visible."""
        cfg = self.config
        if ins.opcode in (Opcode.LOAD, Opcode.GATHER):
            self.free[0] = start + load_cycles(ins, cfg)
            return self.free[0] + DRAM_LATENCY
        if ins.opcode is Opcode.STORE:
            self.free[2] = start + store_cycles(ins, cfg)
            return self.free[2] + DRAM_LATENCY
        if ins.opcode is Opcode.NOP:
            self.free[q] = start + 1
            return start + 1
        if ins.opcode is Opcode.GEMM:
            start = max(start, self.vector_done)
            self.free[1] = start + compute_cycles(ins, cfg)
            self.gemm_written = self.free[1] + 2 * cfg.dim - 1 + GEMM_TAIL
            return self.gemm_written
        start = max(start, self.gemm_written, self.vector_done)
        drain = ADD_DRAIN if ins.opcode is Opcode.VECTOR and ins.values["vop"] == VectorOp.ADD else VECTOR_DRAIN
        self.vector_done = start + compute_cycles(ins, cfg) + drain
        self.free[1] = self.vector_done
        return self.vector_done


def predict_cycles(config: NpuConfig, program: Iterable[Instr]) -> int:
    """Modelled cycles from the first dispatch until every queue is idle (a layer, or a task up to its END)."""
    model = _Model(config)
    model.dispatch = TASK_START - DISPATCH_CYCLES
    for ins in program:
        model.step(ins)
    return int(round(max(model.dispatch, *model.done, *model.free)))


__all__ = ["predict_cycles", "gather_row_cycles", "load_cycles", "store_cycles", "compute_cycles"]
