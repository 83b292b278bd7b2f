"""Builders of tiled int8 GEMM programs: the benchmark's workload and the driver's end-to-end test.

C = A @ B for A (M, K) int8 row-major and B (K, N) int8, tiled for the scratchpad and accumulator of an NpuConfig
and double-buffered so that loads, compute and stores can overlap on decoupled hardware (the VTA scheme):

    for each output block (tile_m rows x tile_nt column tiles), for each k tile (a "step"):
        load queue:    A rows of this k tile, the block's weight tiles   -> SP buffer step % 2
                       (first step of a block: bias rows and requant parameters -> ACC buffer block % 2)
        compute queue: one GEMM per column tile (preload + tile_m streamed rows) into ACC buffer block % 2
                       (last step: REQUANT with the ReLU clamp -> SP output buffer block % 2)
        store queue:   the finished block to DRAM

Tokens: a load step pushes L->C after its last load and the compute step pops it first; a compute step pushes
C->L when it is done with its SP buffer (and ACC buffer), which the load step two steps later pops; the block's
last compute instruction pushes C->S for the store, and the store pushes S->C for the compute that reuses its
buffer two blocks later. Instructions are emitted so that every pop follows its push in program order.

Weights are pre-tiled in DRAM (as a compiler lays out constants): tile (kt, nt) is dim x dim bytes at
`w + (kt * NT + nt) * dim * dim`, row i holding input lane i (k = kt*dim + i), padded with the weight zero point.

A is row-major (M, K) by default, the layout a host hands over: each LOAD row is dim bytes at a K-byte stride,
one short DRAM burst per row. With `a_tiled=True` the planner lays A out as a compiler would lay out an
activation it produces itself: K-chunk major, chunk kt holding M rows of dim bytes back to back at
`a + (kt * M + m) * dim` (lanes past K are zero and never read: LOAD's row_elems pads them with a_zp), so the
LOAD of an A tile is one contiguous range that the load unit streams as long bursts.

Tiles are chosen for data reuse: for each tile_m (a power of two up to 512, or M) the widest tile_nt that fits
SP and ACC double-buffered, then the pair with the fewest estimated cycles, a step costing
max(compute rows, loaded rows / DMA_ROWS_PER_CYCLE) -- a wider tile_nt reuses each loaded A tile across more
column tiles, so 512^3 at dim 8 runs 256 x 2 tiles (272 rows loaded per 512 rows computed) rather than
512 x 1 (520 loaded per 512).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nux.errors import NuxError
from nux.golden import kernels
from nux.isa import Instr, Mem, NpuConfig, Opcode

ALIGN = 64
DMA_ROWS_PER_CYCLE = 0.9  # sustained load rate the tile model assumes (one beat per cycle DRAM, minus bubbles)
MAX_TILE_M = 512


class ProgramError(NuxError):
    """A GEMM cannot be tiled as requested (sizes, zero points or buffers that do not fit the config)."""


def copy_program(config: NpuConfig, src: int, dst: int, rows: int, extra: list[Instr] | None = None) -> list[Instr]:
    """The smallest useful program: LOAD `rows` rows of dim bytes from arena offset `src` into SP, STORE them to
    `dst`, END. `extra` instructions go between the STORE and END (to plant a fault after real work)."""
    d = config.dim
    return [
        Instr("load", dram_offset=src, x_size=rows, x_stride=d),
        Instr("sync"),
        Instr("store", dram_offset=dst, x_size=rows, x_stride=d),
        *(extra or []),
        Instr("end"),
    ]


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _byte(value: int, name: str) -> int:
    if not -128 <= value <= 127:
        raise ProgramError(f"{name} {value} is not an int8 value")
    return value & 0xFF


@dataclass(frozen=True)
class GemmLayout:
    """Where the operands live (arena offsets) and how the GEMM is tiled.

    a: A int8, (M, K) row-major or K-chunk major when `a_tiled` (module docstring); w: pre-tiled B; bias: int32
    per column (NT*dim); params: per column tile, a row of int32 multipliers then a row of int32 shifts; c: the
    output, int8 (M, N) row-major after requant, int32 (M, N) row-major without. `end` is one past the last
    byte; place the program at or after it.
    """

    config: NpuConfig
    M: int
    K: int
    N: int
    tile_m: int
    tile_nt: int
    requant: bool
    a: int
    w: int
    bias: int
    params: int
    c: int
    end: int
    a_tiled: bool = False

    @property
    def KT(self) -> int:  # noqa: N802 - the usual GEMM names
        return -(-self.K // self.config.dim)

    @property
    def NT(self) -> int:  # noqa: N802
        return -(-self.N // self.config.dim)

    @property
    def c_itemsize(self) -> int:
        return 1 if self.requant else 4

    # ------------------------------------------------------------------ host-side data images

    def pack_a(self, a: np.ndarray) -> bytes:
        """A (M, K) int8 as stored at `a`: row-major, or K-chunk major with zero lanes past K when a_tiled."""
        arr = _checked(a, (self.M, self.K), np.int8, "A")
        if not self.a_tiled:
            return arr.tobytes()
        dim = self.config.dim
        padded = np.zeros((self.M, self.KT * dim), dtype=np.int8)
        padded[:, : self.K] = arr
        return np.ascontiguousarray(padded.reshape(self.M, self.KT, dim).transpose(1, 0, 2)).tobytes()

    def a_row(self, m: int, kt: int) -> int:
        """Arena offset of A's row m, lanes [kt*dim, kt*dim + dim), and the stride to row m + 1."""
        dim = self.config.dim
        return self.a + ((kt * self.M + m) * dim if self.a_tiled else m * self.K + kt * dim)

    @property
    def a_stride(self) -> int:
        return self.config.dim if self.a_tiled else self.K

    def pack_weights(self, b: np.ndarray, w_zp: int = 0) -> bytes:
        """B (K, N) int8 as dim x dim tiles in (kt, nt) order, padded with w_zp (so padding contributes 0)."""
        dim = self.config.dim
        padded = np.full((self.KT * dim, self.NT * dim), w_zp, dtype=np.int8)
        padded[: self.K, : self.N] = _checked(b, (self.K, self.N), np.int8, "B")
        tiles = padded.reshape(self.KT, dim, self.NT, dim).transpose(0, 2, 1, 3)
        return np.ascontiguousarray(tiles).tobytes()

    def pack_bias(self, bias: np.ndarray) -> bytes:
        out = np.zeros(self.NT * self.config.dim, dtype="<i4")
        out[: self.N] = _checked(bias, (self.N,), np.int32, "bias")
        return out.tobytes()

    def pack_params(self, m: np.ndarray, s: np.ndarray) -> bytes:
        """Per column tile: the multiplier row then the shift row (the REQUANT parameter rows)."""
        dim = self.config.dim
        rows = np.zeros((self.NT, 2, dim), dtype="<i4")
        flat_m = np.zeros(self.NT * dim, dtype="<i4")
        flat_s = np.zeros(self.NT * dim, dtype="<i4")
        flat_m[: self.N] = _checked(m, (self.N,), np.int32, "multipliers")
        flat_s[: self.N] = _checked(s, (self.N,), np.int32, "shifts")
        rows[:, 0] = flat_m.reshape(self.NT, dim)
        rows[:, 1] = flat_s.reshape(self.NT, dim)
        return rows.tobytes()

    def images(self, a: np.ndarray, b: np.ndarray, bias: np.ndarray | None = None, m: np.ndarray | None = None,
               s: np.ndarray | None = None, w_zp: int = 0) -> list[tuple[int, bytes]]:
        """(arena offset, bytes) of every input the program reads."""
        out = [(self.a, self.pack_a(a)), (self.w, self.pack_weights(b, w_zp))]
        if self.requant:
            if bias is None or m is None or s is None:
                raise ProgramError("a requantizing GEMM needs bias, multipliers and shifts")
            out += [(self.bias, self.pack_bias(bias)), (self.params, self.pack_params(m, s))]
        return out

    def output(self, raw: bytes) -> np.ndarray:
        """C from the bytes read back at arena offset `c` (length M*N*c_itemsize)."""
        dtype = np.int8 if self.requant else np.dtype("<i4")
        return np.frombuffer(raw, dtype=dtype).reshape(self.M, self.N)


def _checked(x: np.ndarray, shape: tuple[int, ...], dtype, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != shape:
        raise ProgramError(f"{name} has shape {arr.shape}, expected {shape}")
    if np.dtype(dtype) == np.int32 and arr.dtype.kind in "iu":
        if arr.size and (arr.min() < -(1 << 31) or arr.max() >= 1 << 31):
            raise ProgramError(f"{name} does not fit int32")
        return arr.astype("<i4")
    if arr.dtype != dtype:
        raise ProgramError(f"{name} must be {np.dtype(dtype)}, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def _fits(config: NpuConfig, tile_m: int, tile_nt: int, requant: bool) -> bool:
    dim = config.dim
    sp = 2 * tile_m + 2 * tile_nt * dim + (2 * tile_m * tile_nt if requant else 0)
    acc = 2 * tile_m * tile_nt + (4 * tile_nt if requant else 0)
    return sp <= config.sp_rows and acc <= config.acc_rows


def _step_cycles(config: NpuConfig, rows: int, nts: int) -> float:
    """Modelled cycles of one k step of a rows x nts block: compute and loads overlap, the slower one counts."""
    return max(rows * nts, (rows + nts * config.dim) / DMA_ROWS_PER_CYCLE)


def _estimate(config: NpuConfig, M: int, NT: int, tile_m: int, tile_nt: int) -> float:  # noqa: N803
    """Modelled cycles per k chunk of the whole GEMM (blocks x steps; ragged edge blocks included)."""
    total = 0.0
    for rows, m_count in ((tile_m, M // tile_m), (M % tile_m, 1)):
        for nts, n_count in ((tile_nt, NT // tile_nt), (NT % tile_nt, 1)):
            if rows and nts and m_count and n_count:
                total += m_count * n_count * _step_cycles(config, rows, nts)
    return total


def _widest_nt(config: NpuConfig, tile_m: int, nt_total: int, requant: bool) -> int:
    nt = nt_total
    while nt > 1 and not _fits(config, tile_m, nt, requant):
        nt -= 1
    return nt


def _choose_tiles(config: NpuConfig, M: int, nt_total: int, requant: bool) -> tuple[int, int]:  # noqa: N803
    """The (tile_m, tile_nt) with the fewest modelled cycles among fitting ones; ties go to the larger tile_m."""
    top = min(M, MAX_TILE_M)
    candidates = {top} | {1 << i for i in range(top.bit_length()) if 1 << i <= top}
    best: tuple[float, int, int] | None = None
    for tile_m in sorted(candidates, reverse=True):
        tile_nt = _widest_nt(config, tile_m, nt_total, requant)
        if not _fits(config, tile_m, tile_nt, requant):
            continue
        cost = _estimate(config, M, nt_total, tile_m, tile_nt)
        if best is None or cost < best[0]:
            best = (cost, tile_m, tile_nt)
    if best is None:
        raise ProgramError(f"no tiling fits sp_rows={config.sp_rows}, acc_rows={config.acc_rows} (double-buffered)")
    return best[1], best[2]


def plan_gemm(config: NpuConfig, M: int, K: int, N: int, *, requant: bool, base: int = 0,  # noqa: N803
              tile_m: int | None = None, tile_nt: int | None = None, a_tiled: bool = False) -> GemmLayout:
    """Choose tiles for data reuse (module docstring) unless given, and lay the operands out from `base`.

    With only tile_m given, tile_nt is the widest that fits; with only tile_nt given, tile_m is the largest
    power-of-two fraction of min(M, 512) that fits. `a_tiled` stores A K-chunk major (contiguous A tile loads).
    """
    if min(M, K, N) < 1:
        raise ProgramError(f"GEMM sizes must be >= 1, got M={M} K={K} N={N}")
    dim = config.dim
    nt_total = -(-N // dim)
    if tile_m is None and tile_nt is None:
        tile_m, tile_nt = _choose_tiles(config, M, nt_total, requant)
    elif tile_m is None:
        tile_m = min(M, MAX_TILE_M)
        while tile_m > 1 and not _fits(config, tile_m, tile_nt, requant):
            tile_m //= 2
    elif tile_nt is None:
        tile_nt = _widest_nt(config, tile_m, nt_total, requant)
    if not (1 <= tile_m <= M and 1 <= tile_nt <= nt_total and _fits(config, tile_m, tile_nt, requant)):
        raise ProgramError(f"tile_m={tile_m}, tile_nt={tile_nt} do not fit sp_rows={config.sp_rows}, "
                           f"acc_rows={config.acc_rows} (double-buffered)")
    kt_total = -(-K // dim)
    offset = base
    sizes = {"a": kt_total * M * dim if a_tiled else M * K, "w": kt_total * nt_total * dim * dim,
             "bias": nt_total * dim * 4 if requant else 0,
             "params": nt_total * 2 * dim * 4 if requant else 0, "c": M * N * (1 if requant else 4)}
    where = {}
    for name, size in sizes.items():
        where[name] = offset
        offset = _align(offset + size)
    return GemmLayout(config, M, K, N, tile_m, tile_nt, requant, end=offset, a_tiled=a_tiled, **where)


class _Builder:
    """Emits the double-buffered schedule of a GemmLayout (see the module docstring)."""

    def __init__(self, layout: GemmLayout, a_zp: int, w_zp: int, out_zp: int):
        self.lay = layout
        self.dim = layout.config.dim
        self.a_zp, self.w_zp, self.out_zp = _byte(a_zp, "a_zp"), _byte(w_zp, "w_zp"), _byte(out_zp, "out_zp")
        t, nt, dim = layout.tile_m, layout.tile_nt, self.dim
        # SP: A buffers, weight buffers, output buffers; ACC: accumulator buffers, parameter buffers.
        self.sp_a = (0, t)
        self.sp_w = (2 * t, 2 * t + nt * dim)
        self.sp_out = (2 * t + 2 * nt * dim, 2 * t + 2 * nt * dim + t * nt)
        self.acc_c = (0, t * nt)
        self.acc_p = (2 * t * nt, 2 * t * nt + 2 * nt)
        self.blocks = [(m0, n0) for m0 in range(0, layout.M, t) for n0 in range(0, layout.NT, nt)]
        self.steps = [(b, kt) for b in range(len(self.blocks)) for kt in range(layout.KT)]
        self.program: list[Instr] = []

    def _block(self, b: int) -> tuple[int, int, int, int]:
        """(first row, rows, first column tile, column tiles) of output block b."""
        m0, n0 = self.blocks[b]
        return m0, min(self.lay.tile_m, self.lay.M - m0), n0, min(self.lay.tile_nt, self.lay.NT - n0)

    def _emit(self, instrs: list[Instr], pop: str | None, pop_when: bool, push: str | None, push_when: bool):
        """Append a group of one queue's instructions: the first pops, the last pushes (when asked)."""
        if pop and pop_when:
            instrs[0] = instrs[0].replace(**{pop: 1})
        if push and push_when:
            instrs[-1] = instrs[-1].replace(**{push: 1})
        self.program += instrs

    def load_step(self, s: int) -> None:
        lay, dim = self.lay, self.dim
        b, kt = self.steps[s]
        m0, rows, n0, nts = self._block(b)
        instrs = []
        if kt == 0 and lay.requant:
            acc_c, acc_p = self.acc_c[b % 2], self.acc_p[b % 2]
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=lay.bias + n0 * dim * 4, dst_row=acc_c,
                                x_size=rows, x_stride=0, y_size=nts, y_stride=dim * 4))
            instrs.append(Instr(Opcode.LOAD, dst=Mem.ACC, dram_offset=lay.params + n0 * 2 * dim * 4, dst_row=acc_p,
                                x_size=2 * nts, x_stride=dim * 4))
        instrs.append(Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=lay.a_row(m0, kt),
                            dst_row=self.sp_a[s % 2], x_size=rows, x_stride=lay.a_stride,
                            row_elems=min(dim, lay.K - kt * dim) % dim, pad_value=self.a_zp))
        instrs.append(Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=lay.w + (kt * lay.NT + n0) * dim * dim,
                            dst_row=self.sp_w[s % 2], x_size=nts * dim, x_stride=dim))
        self._emit(instrs, "pop_next", s >= 2, "push_next", True)

    def compute_step(self, s: int) -> None:
        lay, dim = self.lay, self.dim
        b, kt = self.steps[s]
        _, rows, _, nts = self._block(b)
        acc_c = self.acc_c[b % 2]
        first_of_block, last_of_block = kt == 0, kt == lay.KT - 1
        instrs = [
            Instr(Opcode.GEMM, preload=1, a_signed=1, w_signed=1, a_zp=self.a_zp, w_zp=self.w_zp,
                  w_row=self.sp_w[s % 2] + j * dim, acc_base=acc_c + j * rows, a_base=self.sp_a[s % 2], x_size=rows,
                  a_xstride=1, accumulate=int(lay.requant or not first_of_block))
            for j in range(nts)
        ]
        # Without requant the store reads this ACC buffer: the block two back must have been stored.
        instrs[0] = instrs[0].replace(pop_prev=1, pop_next=int(not lay.requant and first_of_block and b >= 2))
        if lay.requant and last_of_block:  # one REQUANT per column tile: each has its own parameter rows
            sp_out, acc_p = self.sp_out[b % 2], self.acc_p[b % 2]
            instrs += [Instr(Opcode.REQUANT, out_signed=1, out_zp=self.out_zp, clamp_lo=self.out_zp, clamp_hi=127,
                             param_row=acc_p + 2 * j, acc_base=acc_c + j * rows, sp_base=sp_out + j * rows,
                             n_rows=rows, pop_next=int(b >= 2 and j == 0)) for j in range(nts)]
        last = instrs[-1]
        instrs[-1] = last.replace(push_prev=int(s + 2 < len(self.steps)), push_next=int(last_of_block))
        self.program += instrs

    def store_block(self, b: int) -> None:
        lay, dim = self.lay, self.dim
        m0, rows, n0, nts = self._block(b)
        size = lay.c_itemsize
        src, first = (Mem.SP, self.sp_out[b % 2]) if lay.requant else (Mem.ACC, self.acc_c[b % 2])
        full = nts if (n0 + nts) * dim <= lay.N else nts - 1  # the last column tile may be ragged
        instrs = []
        if full:
            instrs.append(Instr(Opcode.STORE, src=src, src_row=first,
                                dram_offset=lay.c + (m0 * lay.N + n0 * dim) * size, x_size=rows,
                                x_stride=lay.N * size, y_size=full, y_stride=dim * size))
        if full < nts:
            nt = n0 + full
            instrs.append(Instr(Opcode.STORE, src=src, src_row=first + full * rows,
                                dram_offset=lay.c + (m0 * lay.N + nt * dim) * size, x_size=rows,
                                x_stride=lay.N * size, row_elems=lay.N - nt * dim))
        self._emit(instrs, "pop_prev", True, "push_prev", b + 2 < len(self.blocks))

    def build(self) -> list[Instr]:
        self.load_step(0)
        for s, (b, kt) in enumerate(self.steps):
            if s + 1 < len(self.steps):
                self.load_step(s + 1)
            self.compute_step(s)
            if kt == self.lay.KT - 1:
                self.store_block(b)
        self.program.append(Instr(Opcode.END))
        return self.program


def tiled_gemm_program(config: NpuConfig, M: int, K: int, N: int, *, a_zp: int = 0, w_zp: int = 0,  # noqa: N803
                       base: int = 0, tile_m: int | None = None, tile_nt: int | None = None,
                       a_tiled: bool = False) -> tuple[list[Instr], GemmLayout]:
    """int32 C = (A - a_zp) @ (B - w_zp), stored from ACC; operands laid out from arena offset `base`."""
    layout = plan_gemm(config, M, K, N, requant=False, base=base, tile_m=tile_m, tile_nt=tile_nt, a_tiled=a_tiled)
    return _Builder(layout, a_zp, w_zp, 0).build(), layout


def tiled_gemm_requant_program(config: NpuConfig, M: int, K: int, N: int, *, a_zp: int = 0,  # noqa: N803
                               w_zp: int = 0, out_zp: int = 0, base: int = 0, tile_m: int | None = None,
                               tile_nt: int | None = None, a_tiled: bool = False) -> tuple[list[Instr], GemmLayout]:
    """int8 C = ReLU(requant((A - a_zp) @ (B - w_zp) + bias)) with per-column multipliers and shifts.

    ReLU is the clamp [out_zp, 127]. Operands are laid out from arena offset `base` (see GemmLayout); the
    result matches `gemm_requant_reference`.
    """
    layout = plan_gemm(config, M, K, N, requant=True, base=base, tile_m=tile_m, tile_nt=tile_nt, a_tiled=a_tiled)
    return _Builder(layout, a_zp, w_zp, out_zp).build(), layout


def gemm_requant_reference(a: np.ndarray, b: np.ndarray, bias: np.ndarray, m: np.ndarray, s: np.ndarray, *,
                           a_zp: int = 0, w_zp: int = 0, out_zp: int = 0) -> np.ndarray:
    """The same computation with the op-level kernels (independent of the ISA)."""
    return kernels.gemm(a, b, bias, m, s, a_zp=a_zp, b_zp=w_zp, out_zp=out_zp, out_signed=True, lo=out_zp, hi=127)


__all__ = ["GemmLayout", "ProgramError", "gemm_requant_reference", "plan_gemm", "tiled_gemm_program",
           "tiled_gemm_requant_program"]
