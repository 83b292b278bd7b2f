"""Gemm / MatMul: activation x constant (fully connected layers) and activation x activation (batched).

Constant B is a 1x1 convolution over a one-row image of M pixels (row m of A is pixel m: K channels, NHWC is
exactly row-major), so it shares conv2d's tiling, schedule and requant. Activation x activation runs one GEMM
schedule per batch whose weight tiles are gathered from B in DRAM by strided LOADs (rows past K and lanes past N
are padding holding B's zero point, so they contribute nothing).
"""

from __future__ import annotations

import numpy as np

from nux.compiler.lower.common import clamp_bounds, finish_layer, int32_row, multipliers, param_rows, weights_8bit
from nux.compiler.lower.conv import conv2d
from nux.compiler.lower.perf import gather_row_cycles
from nux.compiler.lower.schedule import GemmOperands, GemmSchedule, Requant, choose_tiles, estimate_cycles
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.isa import Instr, Mem, Opcode


def _rows(t: ActTensor) -> tuple[int, int]:
    """(rows, last dimension) of a row-major activation seen as a matrix."""
    return int(np.prod(t.shape[:-1], dtype=np.int64)), t.shape[-1]


def gemm(em: Emitter, x: ActTensor, y: ActTensor, w: np.ndarray, w_scale: np.ndarray | float,
         w_zero_point: np.ndarray | int, bias: np.ndarray | None, trans_b: bool = False, alpha: float = 1.0,
         beta: float = 1.0, clamp: tuple[int, int] | None = None) -> LayerCost:
    """y = clamp(requant(alpha * (x - x.zp) @ (B - w_zp) + beta * bias)) for constant B (MatMul/Gemm/FC).

    x (..., K) and y (..., N) row-major; w is B (K, N), or (N, K) with trans_b; w_scale and w_zero_point per
    output column or scalar; alpha folds into the output multiplier, so the bias is added as beta / alpha * bias,
    which must be integral (else Unsupported).
    """
    b = np.asarray(w).T if trans_b else np.asarray(w)
    m_rows, k = _rows(x)
    if b.ndim != 2 or b.shape[0] != k or _rows(y) != (m_rows, b.shape[1]):
        raise LoweringError(f"gemm shapes x {x.shape}, B {b.shape}, y {y.shape} do not chain")
    if alpha <= 0:
        raise Unsupported(f"Gemm alpha {alpha} <= 0 cannot be folded into a positive requant multiplier")
    if bias is not None and beta != alpha:  # alpha scales the requant, so the bias enters as beta / alpha * C
        scaled = np.asarray(bias, dtype=np.float64) * (beta / alpha)
        if not np.array_equal(scaled, np.rint(scaled)):
            raise Unsupported(f"Gemm beta / alpha = {beta / alpha} times the int32 bias is not an integer")
        bias = np.rint(scaled).astype(np.int64)
    n = b.shape[1]
    scales = np.broadcast_to(np.asarray(w_scale, dtype=np.float64), (n,))
    if m_rows == 1 and np.all(scales == scales[0]):
        try:
            return _gemv(em, x, y, b, float(scales[0]) * alpha, w_zero_point, bias, clamp)
        except Unsupported:  # (before any constant is placed) conv2d can still use ISA 1.1's GEMM wzp_en
            if em.isa_minor < 1:
                raise
    image_x = ActTensor(x.offset, (1, k, 1, m_rows), x.dtype, x.scale, x.zero_point)
    image_y = ActTensor(y.offset, (1, n, 1, m_rows), y.dtype, y.scale / alpha, y.zero_point)
    weights = np.ascontiguousarray(b.T).reshape(n, k, 1, 1)
    return conv2d(em, image_x, image_y, weights, w_scale, w_zero_point, bias, clamp=clamp)


class _GemvSource:
    """y^T = B^T x^T for one input row: B^T (N, K) chunk-major constant rows are streamed, x is the weight tile.

    Row n of a block streams B^T[n, chunk] through a tile whose row k holds x[chunk*dim + k] in lane 0 (rows
    and lanes past it hold x's zero point), so lane 0 of ACC row n is y[n]: N*K/dim streamed rows instead of one
    preload-bound GEMM per weight tile, and the weights stream as contiguous bursts.
    """

    def __init__(self, em: Emitter, bt: int, x: ActTensor, y: int, n: int, tile_m: int):
        self.dim, self.bt, self.x, self.y, self.n, self.tile_m = em.config.dim, bt, x, y, n, tile_m

    def block_rows(self, block: int) -> int:
        return min(self.tile_m, self.n - block * self.tile_m)

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        first = self.bt + (kc * self.n + block * self.tile_m) * self.dim
        return [Instr(Opcode.LOAD, dst=Mem.SP, dst_row=dst_row, dram_offset=first, x_size=self.block_rows(block),
                      x_stride=self.dim)]

    def load_w(self, kc: int, n0: int, nts: int, dst_row: int) -> list[Instr]:
        rows = min(self.dim, self.x.shape[-1] - kc * self.dim)
        return [Instr(Opcode.LOAD, dst=Mem.SP, dst_row=dst_row, dram_offset=self.x.offset + kc * self.dim,
                      x_size=rows, x_stride=1, x_pad_after=self.dim - rows, row_elems=1, pad_value=self.x.zp_byte)]

    def store(self, block: int, n0: int, nts: int, src: Mem, src_row: int) -> list[Instr]:
        return [Instr(Opcode.STORE, src=src, src_row=src_row, dram_offset=self.y + block * self.tile_m,
                      x_size=self.block_rows(block), x_stride=1, row_elems=1)]


def _gemv(em: Emitter, x: ActTensor, y: ActTensor, b: np.ndarray, w_scale: float, w_zero_point: np.ndarray | int,
          bias: np.ndarray | None, clamp: tuple[int, int] | None) -> LayerCost:
    """One-row gemm with one output multiplier (per-tensor weights): see _GemvSource."""
    cfg, dim = em.config, em.config.dim
    k, n = b.shape
    w8, wzp = weights_8bit(b, w_zero_point, axis=1)
    kt = -(-k // dim)
    bt = np.full((kt * dim, n), wzp, dtype=w8.dtype)
    bt[:k] = w8
    bt_blob = np.ascontiguousarray(bt.reshape(kt, dim, n).transpose(0, 2, 1)).tobytes()  # (kt, N, dim)
    mult, shift = multipliers(np.full(dim, x.scale * w_scale / y.scale))
    lo, hi = clamp_bounds(y, clamp)
    has_bias = bias is not None and bool(np.any(bias))
    top = min(n, (cfg.acc_rows - 4) // 2, (cfg.sp_rows - 2 * dim) // 4)
    if top < 1:
        raise Unsupported("accumulator too small for a GEMV block")
    ops = GemmOperands(kt=kt, nt=1, a_zp=wzp, a_signed=w8.dtype == np.int8, w_zp=x.zero_point, w_signed=x.signed,
                       w=None, bias=em.const(int32_row(np.asarray(bias).reshape(n), n)) if has_bias else None,
                       params=em.const(param_rows(dim, mult, shift, 1)), bias_per_row=True,
                       requant=Requant(y.signed, y.zero_point, lo, hi))
    src = _GemvSource(em, em.const(bt_blob), x, y.offset, n, top)
    blocks = -(-n // top)
    program = GemmSchedule(cfg, ops, src, blocks, top, 1).build()
    return finish_layer(em, program, k * n, [f"gemv: {kt} chunks, blocks of {top} output rows"])


class _ActSource:
    """One batch of A (M, K) row-major and B (K, N) row-major activations; C (M, N) row-major."""

    def __init__(self, em: Emitter, a: int, b: int, c: int, dims: tuple[int, int, int], zps: tuple[int, int],
                 tile_m: int):
        self.dim = em.config.dim
        self.a, self.b, self.c, (self.m, self.k, self.n) = a, b, c, dims
        self.a_zp, self.b_zp = zps
        self.tile_m = tile_m

    def block_rows(self, block: int) -> int:
        return min(self.tile_m, self.m - block * self.tile_m)

    def load_a(self, block: int, kc: int, dst_row: int) -> list[Instr]:
        lanes = min(self.dim, self.k - kc * self.dim)
        return [Instr(Opcode.LOAD, dst=Mem.SP, dst_row=dst_row, dram_offset=self.a + block * self.tile_m * self.k
                      + kc * self.dim, x_size=self.block_rows(block), x_stride=self.k, row_elems=lanes % self.dim,
                      pad_value=self.a_zp & 0xFF)]

    def load_w(self, kc: int, n0: int, nts: int, dst_row: int) -> list[Instr]:
        """Tile (kc, nt): B rows kc*dim.. (padding rows past K), lanes nt*dim.. (padding lanes past N)."""
        dim, rows = self.dim, min(self.dim, self.k - kc * self.dim)
        instrs = []
        for j in range(nts):
            lanes = min(dim, self.n - (n0 + j) * dim)
            instrs.append(Instr(Opcode.LOAD, dst=Mem.SP, dst_row=dst_row + j * dim,
                                dram_offset=self.b + kc * dim * self.n + (n0 + j) * dim, x_size=rows,
                                x_stride=self.n, x_pad_after=dim - rows, row_elems=lanes % dim,
                                pad_value=self.b_zp & 0xFF))
        return instrs

    def store(self, block: int, n0: int, nts: int, src: Mem, src_row: int) -> list[Instr]:
        dim, rows = self.dim, self.block_rows(block)
        instrs = []
        for j in range(nts):
            lanes = min(dim, self.n - (n0 + j) * dim)
            instrs.append(Instr(Opcode.STORE, src=src, src_row=src_row + j * rows, row_elems=lanes % dim,
                                dram_offset=self.c + block * self.tile_m * self.n + (n0 + j) * dim,
                                x_size=rows, x_stride=self.n))
        return instrs


def matmul_act(em: Emitter, a: ActTensor, b: ActTensor, y: ActTensor,
               clamp: tuple[int, int] | None = None) -> LayerCost:
    """y = clamp(requant((a - a.zp) @ (b - b.zp))) for activations a (..., M, K), b (..., K, N), same batch dims.

    The multiplier is a.scale * b.scale / y.scale for every column (ONNX QLinearMatMul / MatMulInteger+scale).
    """
    if len(a.shape) < 2 or len(b.shape) != len(a.shape) or a.shape[:-2] != b.shape[:-2] \
            or a.shape[-1] != b.shape[-2] or y.shape != a.shape[:-1] + b.shape[-1:]:
        raise LoweringError(f"matmul shapes {a.shape} x {b.shape} -> {y.shape} do not chain (no broadcasting)")
    if len(a.shape) == 4:
        raise Unsupported("MatMul of 4-D activations: they are stored NHWC, so rows of the last axis are strided")
    cfg, dim = em.config, em.config.dim
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batches = int(np.prod(a.shape[:-2], dtype=np.int64))
    kt, nt = -(-k // dim), -(-n // dim)
    mult, shift = multipliers(np.full(n, a.scale * b.scale / y.scale))
    lo, hi = clamp_bounds(y, clamp)
    ops = GemmOperands(kt=kt, nt=nt, a_zp=a.zero_point, a_signed=a.signed, w_zp=b.zero_point, w_signed=b.signed,
                       w=None, bias=None, params=em.const(param_rows(dim, mult, shift, nt)),
                       requant=Requant(y.signed, y.zero_point, lo, hi))

    def estimate(tm: int, tn: int) -> float:
        rows = [tm] * (m // tm) + ([m % tm] if m % tm else [])
        return estimate_cycles(cfg, rows, kt, nt, tn, gather_row_cycles(cfg, dim), True)

    top = min(m, 512)
    tile_m, tile_nt = choose_tiles(cfg, [top] + [1 << i for i in range(top.bit_length()) if 1 << i <= top], nt,
                                   True, estimate)
    program: list[Instr] = []
    for i in range(batches):
        if program:
            program.append(Instr(Opcode.SYNC))
        src = _ActSource(em, a.offset + i * m * k, b.offset + i * k * n, y.offset + i * m * n, (m, k, n),
                         (a.zero_point, b.zero_point), tile_m)
        program += GemmSchedule(cfg, ops, src, -(-m // tile_m), tile_m, tile_nt).build()
    return finish_layer(em, program, batches * m * k * n, [f"{batches} batches, tiles {tile_m} x {tile_nt}"])
