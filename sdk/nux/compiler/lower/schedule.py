"""The double-buffered, token-pipelined GEMM schedule every matrix lowering (GEMM, conv, matmul) shares.

C[M, N] = A[M, K] @ W[K, N] where A's rows come from a `GemmSource` (row-major matrix, implicit im2col, ...) one
K chunk of dim lanes at a time, W is pre-tiled in DRAM (tile (kc, nt) is dim x dim bytes at
`w + (kc * NT + nt) * dim * dim`, row i holding the weights of chunk lane i) and C goes back through the source's
store. The VTA scheme:

    for each output block (a block of source rows x tile_nt column tiles), for each k chunk (a "step"):
        load queue:    A rows of this chunk (source.load_a), the block's weight tiles -> SP buffer step % 2
                       (first step of a block: bias rows and requant parameters -> ACC buffer block % 2)
        compute queue: one GEMM per column tile (preload + the block's rows) into ACC buffer block % 2
                       (last step: one REQUANT per column tile -> SP output buffer block % 2)
        store queue:   the finished block to DRAM (source.store)

Tokens: a load step pushes L->C after its last load and the compute step pops it first; a compute step pushes
C->L when it is done with its SP buffer (and ACC buffer), which the load step two steps later pops; the block's
last compute instruction pushes C->S for the store, and the store pushes S->C for the compute that reuses its
buffer two blocks later. Instructions are emitted so that every pop follows its push in program order, and the
tokens balance to zero at the end (the layer leaves every channel empty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from nux.compiler.lower.target import Unsupported
from nux.isa import Instr, Mem, NpuConfig, Opcode


class GemmSource(Protocol):
    """Where A comes from and where C goes: blocks of output rows, each with its own LOADs and STOREs.

    A source whose weights are an activation (GemmOperands.w is None) also has
    `load_w(kc, n0, nts, dst_row) -> list[Instr]`, the LOADs of weight tiles (kc, n0..n0+nts-1). With
    GemmOperands.taps > 1 the source also has `views(block, kc) -> [(offset, x_size, y_size, x_stride,
    y_stride)]`, one per tap: where in its A buffer the GEMM of that tap streams (a band of input rows loaded
    once, each kernel tap a shifted, strided view of it), and `a_rows`, the A buffer's size.
    """

    def block_rows(self, block: int) -> int:
        """Rows of output block `block` (at most the plan's tile_m)."""

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        """LOADs that write chunk kc of the block's A rows to SP rows dst_row.. (one row per output row)."""

    def store(self, block: int, n0: int, nts: int, src: Mem, src_row: int) -> list[Instr]:
        """STOREs of the block's column tiles n0..n0+nts-1, laid out tile-major from src_row (rows each)."""


@dataclass(frozen=True)
class Requant:
    """The output stage: REQUANT with these bytes (None: keep int32 results in ACC and store them)."""

    out_signed: bool
    out_zp: int
    lo: int
    hi: int


@dataclass(frozen=True)
class GemmOperands:
    """The schedule's fixed inputs: chunk/tile counts, zero points and the constants' arena offsets.

    w: the pre-tiled weights' offset, or None when the source gathers weight tiles itself (`load_w`, for
    activation x activation products); bias: int32 per column (NT*dim) loaded into ACC, or None for zero;
    params: per column tile a row of multipliers and a row of shifts (int32); bias_gemm: (A row, tiles) of the
    bias as one more K chunk (common.bias_chunk), computed first in every block instead of ACC bias loads;
    bias_en (ISA 1.1): one bias row per column tile is loaded into ACC per block and the block's first GEMM of
    each tile starts from it (GEMM bias_en) instead of a broadcast bias row per output row.
    wzp: (ISA 1.1) arena offset of one SP row per column tile holding per-column weight zero points, subtracted
    at preload (GEMM wzp_en; w_zp must be 0), loaded once into the top SP rows.
    """

    kt: int
    nt: int
    a_zp: int
    a_signed: bool
    w_zp: int
    w_signed: bool
    w: int | None
    bias: int | None
    params: int | None
    requant: Requant | None
    bias_gemm: tuple[int, int] | None = None
    bias_per_row: bool = False  # bias is int32 per output row (lane 0 only; one column tile), not per column
    taps: int = 1  # weight tiles per chunk and column tile: GEMMs reading shifted views of one A buffer
    bias_en: bool = False
    wzp: int | None = None


def buffers_fit(config: NpuConfig, tile_m: int, tile_nt: int, requant: bool, reserve: int = 0,
                a_rows: int | None = None, taps: int = 1, bias_rows: bool = False) -> bool:
    """Do the double-buffered A, weight, output and ACC regions of a (tile_m, tile_nt) block fit?
    `bias_rows`: the double-buffered bias rows of GEMM bias_en, tile_nt per block."""
    dim = config.dim
    a_rows = tile_m if a_rows is None else a_rows
    sp = 2 * a_rows + 2 * taps * tile_nt * dim + (2 * tile_m * tile_nt if requant else 0) + reserve
    acc = 2 * tile_m * tile_nt + (4 * tile_nt if requant else 0) + (2 * tile_nt if bias_rows else 0)
    return sp <= config.sp_rows and acc <= config.acc_rows


class GemmSchedule:
    """Emits the schedule of one GEMM (module docstring) for `blocks` source blocks."""

    def __init__(self, config: NpuConfig, ops: GemmOperands, source: GemmSource, blocks: int, tile_m: int,
                 tile_nt: int):
        self.dim = dim = config.dim
        self.ops, self.src = ops, source
        self.tile_m, self.tile_nt = tile_m, tile_nt
        t, nt = tile_m, tile_nt
        a = getattr(source, "a_rows", t) if ops.taps > 1 else t
        w = ops.taps * nt * dim
        # SP: A buffers, weight buffers, output buffers; ACC: accumulator buffers, parameter buffers.
        self.sp_a = (0, a)
        self.sp_w = (2 * a, 2 * a + w)
        self.sp_out = (2 * a + 2 * w, 2 * a + 2 * w + t * nt)
        self.acc_c = (0, t * nt)
        self.acc_p = (2 * t * nt, 2 * t * nt + 2 * nt)
        self.acc_b = (2 * t * nt + 4 * nt, 2 * t * nt + 5 * nt)  # GEMM bias_en rows, one per column tile
        self.sp_bias = config.sp_rows - 1  # the bias chunk's A row (buffers_fit with reserve=1)
        # the weight zero-point rows, below the bias chunk's row (buffers_fit with reserve=nt)
        self.sp_wzp = config.sp_rows - ops.nt - int(ops.bias_gemm is not None)
        self.first_kc = -1 if ops.bias_gemm else 0
        self.blocks = [(m, n0) for m in range(blocks) for n0 in range(0, ops.nt, nt)]
        self.steps = [(b, kc) for b in range(len(self.blocks)) for kc in range(self.first_kc, ops.kt)]
        self.program: list[Instr] = []

    def _block(self, b: int) -> tuple[int, int, int, int]:
        """(source block, rows, first column tile, column tiles) of output block b."""
        m, n0 = self.blocks[b]
        return m, self.src.block_rows(m), n0, min(self.tile_nt, self.ops.nt - n0)

    def _emit(self, instrs: list[Instr], pop: str, pop_when: bool, push: str, push_when: bool) -> None:
        """Append a group of one queue's instructions: the first pops, the last pushes (when asked)."""
        if pop_when:
            instrs[0] = instrs[0].replace(**{pop: 1})
        if push_when:
            instrs[-1] = instrs[-1].replace(**{push: 1})
        self.program += instrs

    def _weights(self, kc: int, n0: int, nts: int, row: int) -> list[Instr]:
        """LOADs of the weight tiles (kc, n0..n0+nts-1): pre-tiled constants, the bias chunk, or gathered."""
        ops, dim = self.ops, self.dim
        if kc >= 0 and ops.w is None:  # weights are an activation: the source gathers the tiles
            return self.src.load_w(kc, n0, nts, row)
        if kc < 0:
            return [Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=ops.bias_gemm[1] + n0 * dim * dim, dst_row=row,
                          x_size=nts * dim, x_stride=dim)]
        return [Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=ops.w + (kc * ops.taps * ops.nt + n0) * dim * dim,
                      dst_row=row, x_size=nts * dim, x_stride=dim, y_size=ops.taps, y_stride=ops.nt * dim * dim)]

    def load_step(self, s: int) -> None:
        ops, dim = self.ops, self.dim
        b, kc = self.steps[s]
        m, rows, n0, nts = self._block(b)
        instrs = []
        if s == 0 and ops.wzp is not None:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=ops.wzp, dst_row=self.sp_wzp, x_size=ops.nt,
                                x_stride=dim))
        if s == 0 and ops.bias_gemm:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=ops.bias_gemm[0], dst_row=self.sp_bias))
        if kc == self.first_kc and ops.bias is not None and ops.bias_per_row:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=ops.bias + m * self.tile_m * 4,
                                dst_row=self.acc_c[b % 2], x_size=rows, x_stride=4, row_elems=1))
        elif kc == self.first_kc and ops.bias is not None and ops.bias_en:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=ops.bias + n0 * dim * 4,
                                dst_row=self.acc_b[b % 2], x_size=nts, x_stride=dim * 4))
        elif kc == self.first_kc and ops.bias is not None:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=ops.bias + n0 * dim * 4,
                                dst_row=self.acc_c[b % 2], x_size=rows, x_stride=0, y_size=nts, y_stride=dim * 4))
        if kc == self.first_kc and ops.requant is not None:
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=ops.params + n0 * 2 * dim * 4,
                                dst_row=self.acc_p[b % 2], x_size=2 * nts, x_stride=dim * 4))
        if kc >= 0:
            instrs += self.src.load_a(m, kc, self.sp_a[s % 2])
        instrs += self._weights(kc, n0, nts, self.sp_w[s % 2])
        self._emit(instrs, "pop_next", s >= 2, "push_next", True)

    def compute_step(self, s: int) -> None:
        ops, dim = self.ops, self.dim
        b, kc = self.steps[s]
        _, rows, _, nts = self._block(b)
        acc_c = self.acc_c[b % 2]
        first_of_block, last_of_block = kc == self.first_kc, kc == ops.kt - 1
        accumulate = (ops.bias is not None and not ops.bias_en) or not first_of_block
        start = dict(bias_en=1) if ops.bias is not None and ops.bias_en and first_of_block else {}
        if kc == -1:  # the bias chunk: one A row of uint8 (255, ..., 255, 1) again and again, int8 tiles, zp 0
            operand = dict(a_signed=0, w_signed=1, a_zp=0, w_zp=0)
            views = [(self.sp_bias, rows, 1, 0, 0)]
        else:
            operand = dict(a_signed=int(ops.a_signed), w_signed=int(ops.w_signed), a_zp=ops.a_zp & 0xFF,
                           w_zp=ops.w_zp & 0xFF)
            if ops.wzp is not None:
                operand["wzp_en"] = 1
            shifted = self.src.views(self.blocks[b][0], kc) if ops.taps > 1 else [(0, rows, 1, 1, 0)]
            views = [(self.sp_a[s % 2] + off, xs, ys, axs, ays) for off, xs, ys, axs, ays in shifted]
        n0 = self.blocks[b][1]
        instrs = [Instr(Opcode.GEMM, preload=1, w_row=self.sp_w[s % 2] + (t * nts + j) * dim,
                        acc_base=acc_c + j * rows, a_base=base, x_size=xs, y_size=ys, a_xstride=axs, a_ystride=ays,
                        accumulate=int(accumulate or t > 0), **operand,
                        **(dict(wzp_row=self.sp_wzp + n0 + j) if "wzp_en" in operand else {}),
                        **(dict(start, bias_row=self.acc_b[b % 2] + j) if start and t == 0 else {}))
                  for t, (base, xs, ys, axs, ays) in enumerate(views) for j in range(nts)]
        rq = ops.requant
        # Without requant the store reads this ACC buffer: the block two back must have been stored.
        instrs[0] = instrs[0].replace(pop_prev=1, pop_next=int(rq is None and first_of_block and b >= 2))
        if rq is not None and last_of_block:  # one REQUANT per column tile: each has its own parameter rows
            sp_out, acc_p = self.sp_out[b % 2], self.acc_p[b % 2]
            instrs += [Instr(Opcode.REQUANT, out_signed=int(rq.out_signed), out_zp=rq.out_zp & 0xFF,
                             clamp_lo=rq.lo & 0xFF, clamp_hi=rq.hi & 0xFF, param_row=acc_p + 2 * j,
                             acc_base=acc_c + j * rows, sp_base=sp_out + j * rows, n_rows=rows,
                             pop_next=int(b >= 2 and j == 0)) for j in range(nts)]
        last = instrs[-1]
        instrs[-1] = last.replace(push_prev=int(s + 2 < len(self.steps)), push_next=int(last_of_block))
        self.program += instrs

    def store_block(self, b: int) -> None:
        m, _, n0, nts = self._block(b)
        src, first = (Mem.SP, self.sp_out[b % 2]) if self.ops.requant else (Mem.ACC, self.acc_c[b % 2])
        self._emit(self.src.store(m, n0, nts, src, first), "pop_prev", True, "push_prev", b + 2 < len(self.blocks))

    def build(self) -> list[Instr]:
        """The whole layer: every pop after its push, every token consumed by the end."""
        self.load_step(0)
        for s, (b, kc) in enumerate(self.steps):
            if s + 1 < len(self.steps):
                self.load_step(s + 1)
            self.compute_step(s)
            if kc == self.ops.kt - 1:
                self.store_block(b)
        return self.program


def estimate_cycles(config: NpuConfig, block_rows: list[int], kt: int, nt_total: int, tile_nt: int,
                    a_row_cycles: float, requant: bool, bias: str | None = None) -> float:
    """Quick planner estimate of a schedule: per block the slower of compute and loads, plus REQUANT passes.

    `a_row_cycles` is what one A row costs the load unit (the source knows its strides); weight rows are
    contiguous. `bias` "acc" adds the broadcast bias rows to the loads, "gemm" one more chunk to both. The full
    model (perf.predict_cycles) prices the emitted program; this only ranks tilings. `bias` "row" (GEMM
    bias_en) loads one bias row per column tile and block.
    """
    dim, beat = config.dim, config.axi_data_bits // 8
    w_row, acc_row = -(-dim // beat), -(-4 * dim // beat)
    total = 0.0
    for rows in block_rows:
        for n0 in range(0, nt_total, tile_nt):
            nts = min(tile_nt, nt_total - n0)
            gemm = nts * max(rows, 3 * dim - 2)
            compute = kt * gemm + (gemm if bias == "gemm" else 0)
            load = kt * (rows * a_row_cycles + nts * dim * w_row)
            load += rows * nts * acc_row if bias == "acc" else nts * dim * w_row if bias == "gemm" else \
                nts * acc_row if bias == "row" else 0
            if requant:
                compute += nts * (rows + 2 + 14) + 2 * dim
            total += max(compute, load) + 2 * dim
    return total


def choose_tiles(config: NpuConfig, candidates: list[int], nt_total: int, requant: bool,
                 estimate: Callable[[int, int], float], reserve: int = 0) -> tuple[int, int]:
    """The (tile_m, tile_nt) with the fewest estimated cycles among the fitting ones; ties go to larger tile_m.

    For each tile_m the widest tile_nt that fits is the only one considered: a wider tile reuses each loaded A
    tile across more column tiles. `reserve` SP rows at the top stay free (the bias chunk's A row).
    """
    return best_tiles(config, candidates, nt_total, requant, estimate, reserve)[1:]


def best_tiles(config: NpuConfig, candidates: list[int], nt_total: int, requant: bool,
               estimate: Callable[[int, int], float], reserve: int = 0,
               a_rows: Callable[[int], int] | None = None, taps: int = 1,
               bias_rows: bool = False) -> tuple[float, int, int]:
    """(estimated cycles, tile_m, tile_nt) of choose_tiles; `a_rows(tile_m)` sizes a banded A buffer."""
    best: tuple[float, int, int] | None = None
    for tile_m in sorted(set(candidates), reverse=True):
        tile_nt = nt_total
        rows = a_rows(tile_m) if a_rows else None

        def fits(tn: int, tile_m: int = tile_m, rows: int | None = rows) -> bool:
            return buffers_fit(config, tile_m, tn, requant, reserve, rows, taps, bias_rows)

        while tile_nt > 1 and not fits(tile_nt):
            tile_nt -= 1
        if not fits(tile_nt):
            continue
        cost = estimate(tile_m, tile_nt)
        if best is None or cost < best[0]:
            best = (cost, tile_m, tile_nt)
    if best is None:
        raise Unsupported(f"no tiling fits sp_rows={config.sp_rows}, acc_rows={config.acc_rows} (double-buffered)")
    return best


Band = tuple[list[Instr], list[Instr], list[Instr]]


def pipeline(bands: list[Band], store_reads_loads: bool = False) -> list[Instr]:
    """Chain (loads, computes, stores) bands that alternate between two buffer sets (band i uses set i % 2).

    The same token scheme as GemmSchedule with one step per block: loads of band i wait for the compute of band
    i - 2 (C->L), its compute for its loads (L->C) and for the store of band i - 2 (S->C), its store for its
    compute (C->S). With `store_reads_loads` (data movers: the store reads what the loads wrote) the loads of
    band i wait for the store of band i - 2 instead, relayed by a compute-queue NOP after each store. Every
    group must be non-empty; the tokens balance to zero.
    """
    program: list[Instr] = []
    n = len(bands)

    def group(instrs: list[Instr], pops: dict[str, bool], pushes: dict[str, bool]) -> None:
        instrs = list(instrs)
        instrs[0] = instrs[0].replace(**{flag: 1 for flag, on in pops.items() if on})
        instrs[-1] = instrs[-1].replace(**{flag: 1 for flag, on in pushes.items() if on})
        program.extend(instrs)

    def load(i: int) -> None:
        group(bands[i][0], {"pop_next": i >= 2}, {"push_next": True})

    relay = store_reads_loads
    load(0)
    for i, (_, computes, stores) in enumerate(bands):
        if i + 1 < n:
            load(i + 1)
        again = i + 2 < n
        group(computes, {"pop_prev": True, "pop_next": i >= 2 and not relay},
              {"push_prev": again and not relay, "push_next": True})
        group(stores, {"pop_prev": True}, {"push_prev": again})
        if relay and again:
            program.append(Instr(Opcode.NOP, queue=1, pop_next=1, push_prev=1))
    return program
