"""Tiled int8 GEMM programs over the shared schedule: the benchmark's workload and the driver's end-to-end test.

C = A @ B for A (M, K) int8 and B (K, N) int8 constant, laid out from an arena offset and tiled by
`nux.compiler.lower.schedule` (double-buffered, token-pipelined). A is row-major (M, K) by default, the layout a
host hands over: each LOAD row is dim bytes at a K-byte stride. With `a_tiled=True` A is K-chunk major, as a
compiler lays out an activation it produces itself: chunk kt holds M rows of dim bytes back to back at
`a + (kt * M + m) * dim` (lanes past K are zero and never read: LOAD's row_elems pads them with a_zp), so an A
tile is one contiguous range the load unit streams as long bursts.

Tiles are chosen for data reuse: for each tile_m (a power of two up to 512, or M) the widest tile_nt that fits
SP and ACC double-buffered, then the pair with the fewest estimated cycles (`schedule.estimate_cycles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nux.compiler.lower.schedule import (
    GemmOperands,
    GemmSchedule,
    Requant,
    buffers_fit,
    choose_tiles,
    estimate_cycles,
)
from nux.compiler.lower.target import ALIGN, LoweringError
from nux.golden import kernels
from nux.isa import Instr, Mem, NpuConfig, Opcode

MAX_TILE_M = 512


class ProgramError(LoweringError):
    """A GEMM cannot be tiled as requested (sizes, zero points or buffers that do not fit the config)."""


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _byte(value: int, name: str) -> int:
    if not -128 <= value <= 127:
        raise ProgramError(f"{name} {value} is not an int8 value")
    return value


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


def _a_row_cycles(config: NpuConfig, K: int, a_tiled: bool) -> float:  # noqa: N803
    """Load-unit cycles per A row: contiguous (a_tiled) rows stream as bursts, strided rows cost a burst each."""
    beats = -(-config.dim // (config.axi_data_bits // 8))
    return beats if a_tiled or K == config.dim else max(beats, 1.4)


def plan_gemm(config: NpuConfig, M: int, K: int, N: int, *, requant: bool, base: int = 0,  # noqa: N803
              tile_m: int | None = None, tile_nt: int | None = None, a_tiled: bool = False) -> GemmLayout:
    """Choose tiles for data reuse (module docstring) unless given, and lay the operands out from `base`.

    With only tile_m given, tile_nt is the widest that fits; with only tile_nt given, tile_m is the largest
    power-of-two fraction of min(M, 512) that fits. `a_tiled` stores A K-chunk major (contiguous A tile loads).
    """
    if min(M, K, N) < 1:
        raise ProgramError(f"GEMM sizes must be >= 1, got M={M} K={K} N={N}")
    dim = config.dim
    nt_total, kt_total = -(-N // dim), -(-K // dim)
    top = min(M, MAX_TILE_M)
    if tile_m is None and tile_nt is None:
        a_cost = _a_row_cycles(config, K, a_tiled)

        def estimate(tm: int, tn: int) -> float:
            rows = [tm] * (M // tm) + ([M % tm] if M % tm else [])
            return estimate_cycles(config, rows, kt_total, nt_total, tn, a_cost, requant)

        candidates = [top] + [1 << i for i in range(top.bit_length()) if 1 << i <= top]
        try:
            tile_m, tile_nt = choose_tiles(config, candidates, nt_total, requant, estimate)
        except LoweringError as exc:
            raise ProgramError(str(exc)) from None
    elif tile_m is None:
        tile_m = top
        while tile_m > 1 and not buffers_fit(config, tile_m, tile_nt, requant):
            tile_m //= 2
    elif tile_nt is None:
        tile_nt = nt_total
        while tile_nt > 1 and not buffers_fit(config, tile_m, tile_nt, requant):
            tile_nt -= 1
    if not (1 <= tile_m <= M and 1 <= tile_nt <= nt_total and buffers_fit(config, tile_m, tile_nt, requant)):
        raise ProgramError(f"tile_m={tile_m}, tile_nt={tile_nt} do not fit sp_rows={config.sp_rows}, "
                           f"acc_rows={config.acc_rows} (double-buffered)")
    offset = base
    sizes = {"a": kt_total * M * dim if a_tiled else M * K, "w": kt_total * nt_total * dim * dim,
             "bias": nt_total * dim * 4 if requant else 0,
             "params": nt_total * 2 * dim * 4 if requant else 0, "c": M * N * (1 if requant else 4)}
    where = {}
    for name, size in sizes.items():
        where[name] = offset
        offset = _align(offset + size)
    return GemmLayout(config, M, K, N, tile_m, tile_nt, requant, end=offset, a_tiled=a_tiled, **where)


class _MatrixSource:
    """A GemmLayout's A (row-major or K-chunk major) and C (row-major, N columns) as schedule blocks."""

    def __init__(self, layout: GemmLayout, a_zp: int):
        self.lay, self.a_zp = layout, a_zp

    def block_rows(self, block: int) -> int:
        return min(self.lay.tile_m, self.lay.M - block * self.lay.tile_m)

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        lay, dim = self.lay, self.lay.config.dim
        return [Instr(Opcode.LOAD, dst=Mem.SP, dram_offset=lay.a_row(block * lay.tile_m, kc), dst_row=dst_row,
                      x_size=self.block_rows(block), x_stride=lay.a_stride,
                      row_elems=min(dim, lay.K - kc * dim) % dim, pad_value=self.a_zp & 0xFF)]

    def store(self, block: int, n0: int, nts: int, src: Mem, src_row: int) -> list[Instr]:
        lay, dim = self.lay, self.lay.config.dim
        m0, rows, size = block * lay.tile_m, self.block_rows(block), lay.c_itemsize
        full = nts if (n0 + nts) * dim <= lay.N else nts - 1  # the last column tile may be ragged
        instrs = []
        if full:
            instrs.append(Instr(Opcode.STORE, src=src, src_row=src_row,
                                dram_offset=lay.c + (m0 * lay.N + n0 * dim) * size, x_size=rows,
                                x_stride=lay.N * size, y_size=full, y_stride=dim * size))
        if full < nts:
            nt = n0 + full
            instrs.append(Instr(Opcode.STORE, src=src, src_row=src_row + full * rows,
                                dram_offset=lay.c + (m0 * lay.N + nt * dim) * size, x_size=rows,
                                x_stride=lay.N * size, row_elems=lay.N - nt * dim))
        return instrs


def _build(layout: GemmLayout, a_zp: int, w_zp: int, requant: Requant | None) -> list[Instr]:
    ops = GemmOperands(kt=layout.KT, nt=layout.NT, a_zp=_byte(a_zp, "a_zp"), a_signed=True,
                       w_zp=_byte(w_zp, "w_zp"), w_signed=True, w=layout.w,
                       bias=layout.bias if requant else None, params=layout.params if requant else None,
                       requant=requant)
    blocks = -(-layout.M // layout.tile_m)
    program = GemmSchedule(layout.config, ops, _MatrixSource(layout, a_zp), blocks, layout.tile_m,
                           layout.tile_nt).build()
    return program + [Instr(Opcode.END)]


def tiled_gemm_program(config: NpuConfig, M: int, K: int, N: int, *, a_zp: int = 0, w_zp: int = 0,  # noqa: N803
                       base: int = 0, tile_m: int | None = None, tile_nt: int | None = None,
                       a_tiled: bool = False) -> tuple[list[Instr], GemmLayout]:
    """int32 C = (A - a_zp) @ (B - w_zp), stored from ACC; operands laid out from arena offset `base`."""
    layout = plan_gemm(config, M, K, N, requant=False, base=base, tile_m=tile_m, tile_nt=tile_nt, a_tiled=a_tiled)
    return _build(layout, a_zp, w_zp, None), layout


def tiled_gemm_requant_program(config: NpuConfig, M: int, K: int, N: int, *, a_zp: int = 0,  # noqa: N803
                               w_zp: int = 0, out_zp: int = 0, base: int = 0, tile_m: int | None = None,
                               tile_nt: int | None = None, a_tiled: bool = False) -> tuple[list[Instr], GemmLayout]:
    """int8 C = ReLU(requant((A - a_zp) @ (B - w_zp) + bias)) with per-column multipliers and shifts.

    ReLU is the clamp [out_zp, 127]. Operands are laid out from arena offset `base` (see GemmLayout); the
    result matches `gemm_requant_reference`.
    """
    layout = plan_gemm(config, M, K, N, requant=True, base=base, tile_m=tile_m, tile_nt=tile_nt, a_tiled=a_tiled)
    rq = Requant(out_signed=True, out_zp=_byte(out_zp, "out_zp"), lo=out_zp, hi=127)
    return _build(layout, a_zp, w_zp, rq), layout


def gemm_requant_reference(a: np.ndarray, b: np.ndarray, bias: np.ndarray, m: np.ndarray, s: np.ndarray, *,
                           a_zp: int = 0, w_zp: int = 0, out_zp: int = 0) -> np.ndarray:
    """The same computation with the op-level kernels (independent of the ISA)."""
    return kernels.gemm(a, b, bias, m, s, a_zp=a_zp, b_zp=w_zp, out_zp=out_zp, out_signed=True, lo=out_zp, hi=127)


__all__ = ["GemmLayout", "ProgramError", "gemm_requant_reference", "plan_gemm", "tiled_gemm_program",
           "tiled_gemm_requant_program"]
