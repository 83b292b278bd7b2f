"""A hand-written tiled int8 GEMM ENF: C = ReLU(requant(A @ W + bias)) with per-channel multipliers and shifts.

Written by hand from docs/isa.md (independently of the golden model's own program builders) so the acceptance
test checks the ISA text, the golden model and the driver against the op-level NumPy reference at once.

Arena layout: code at 0, then constants (weight tiles, bias rows, multiplier/shift rows), then A, then C.
  - A (M x K int8, row-major): one scratchpad row is `dim` consecutive K-values of one row of A.
  - W tiles: for output tile nt and input tile kt, `dim` rows (k) of `dim` bytes (n), contiguous, so one LOAD
    brings a whole weight tile; GEMM row k of a tile multiplies input lane k (docs/isa.md, GEMM).
  - bias: one int32 row per output tile, LOADed into every ACC row of the tile with x_stride = 0 (so GEMMs
    accumulate on top of the bias).
  - multipliers/shifts: two int32 rows per output tile, LOADed as the REQUANT parameter rows.
Schedule per tile of TM rows of A: load the A rows for every kt; then per output tile: load its weight tiles,
parameter rows and bias, SYNC, one GEMM per kt (preload + accumulate), REQUANT with clamp_lo = out_zp (ReLU),
SYNC, STORE. TM is the largest that fits SP and ACC, so A is larger than the scratchpad when M is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nux.enf import DType, Enf, Program, TensorInfo, TensorRole
from nux.golden.kernels import gemm
from nux.golden.requant import quantize_multiplier
from nux.isa import Instr, Mem, NpuConfig, assemble


@dataclass(frozen=True)
class GemmCase:
    a: np.ndarray  # (M, K) int8
    w: np.ndarray  # (K, N) int8
    bias: np.ndarray  # (N,) int32
    m: np.ndarray  # (N,) int32 multipliers
    s: np.ndarray  # (N,) int32 shifts
    a_zp: int
    w_zp: int
    out_zp: int

    def reference(self) -> np.ndarray:
        """The op-level NumPy reference (nux.golden.kernels.gemm), with ReLU as clamp_lo = out_zp."""
        return gemm(self.a, self.w, self.bias, self.m, self.s, a_zp=self.a_zp, b_zp=self.w_zp,
                    out_zp=self.out_zp, out_signed=True, lo=self.out_zp, hi=127)


def random_case(rng: np.random.Generator, m: int, k: int, n: int) -> GemmCase:
    scales = rng.uniform(2e-4, 4e-3, size=n)
    mult, shift = zip(*(quantize_multiplier(float(x)) for x in scales), strict=True)
    return GemmCase(
        a=rng.integers(-128, 128, size=(m, k), dtype=np.int8),
        w=rng.integers(-128, 128, size=(k, n), dtype=np.int8),
        bias=rng.integers(-20000, 20000, size=n, dtype=np.int32),
        m=np.array(mult, dtype=np.int32),
        s=np.array(shift, dtype=np.int32),
        a_zp=int(rng.integers(-10, 10)),
        w_zp=int(rng.integers(-3, 4)),
        out_zp=int(rng.integers(-20, 20)),
    )


def _align(n: int, to: int = 64) -> int:
    return -(-n // to) * to


def tile_rows(config: NpuConfig, kt: int) -> int:
    """Rows of A per tile: A rows for every kt + the weight tiles + the output rows fit SP; ACC holds the tile
    plus two parameter rows."""
    d = config.dim
    return min((config.sp_rows - kt * d) // (kt + 1), config.acc_rows - 2)


def tiled_gemm_enf(config: NpuConfig, case: GemmCase) -> Enf:
    d = config.dim
    (M, K), N = case.a.shape, case.w.shape[1]
    if K % d or N % d:
        raise ValueError(f"K={K} and N={N} must be multiples of dim={d}")
    KT, NT = K // d, N // d
    TM = tile_rows(config, KT)
    if TM < 1:
        raise ValueError(f"K={K} does not fit the scratchpad of {config}")
    a_sp, w_sp, out_sp = 0, KT * TM, KT * TM + KT * d  # scratchpad regions
    param_row = TM  # ACC rows 0..TM-1 accumulate, TM and TM+1 hold multipliers and shifts

    w_tiles = case.w.reshape(KT, d, NT, d).transpose(2, 0, 1, 3)  # [nt][kt][k][n]
    params = np.stack([case.m.reshape(NT, d), case.s.reshape(NT, d)], axis=1)  # [nt][m|s][n]
    consts = w_tiles.astype(np.int8).tobytes() + case.bias.astype("<i4").tobytes() + params.astype("<i4").tobytes()
    w_off, bias_off, ms_off = 0, w_tiles.size, w_tiles.size + 4 * N

    program: list[Instr] = []
    code_size_bound = 32 * (-(-M // TM) * (KT + NT * (2 * KT + 6)) + 1)
    const_offset = _align(code_size_bound)
    a_off = _align(const_offset + len(consts))
    c_off = _align(a_off + M * K)
    for m0 in range(0, M, TM):
        rows = min(TM, M - m0)
        program += [Instr("load", dst_row=a_sp + kt * TM, x_size=rows, x_stride=K,
                          dram_offset=a_off + m0 * K + kt * d) for kt in range(KT)]
        for nt in range(NT):
            program += [Instr("load", dst_row=w_sp + kt * d, x_size=d, x_stride=d,
                              dram_offset=const_offset + w_off + (nt * KT + kt) * d * d) for kt in range(KT)]
            program += [
                Instr("load", dst=Mem.ACC, dst_row=param_row, x_size=2, x_stride=4 * d,
                      dram_offset=const_offset + ms_off + nt * 8 * d),
                Instr("load", dst=Mem.ACC, dst_row=0, x_size=rows, x_stride=0,
                      dram_offset=const_offset + bias_off + nt * 4 * d),
                Instr("sync"),
            ]
            program += [Instr("gemm", preload=1, accumulate=1, a_signed=1, w_signed=1, a_zp=case.a_zp & 0xFF,
                              w_zp=case.w_zp & 0xFF, w_row=w_sp + kt * d, a_base=a_sp + kt * TM, acc_base=0,
                              x_size=rows, a_xstride=1) for kt in range(KT)]
            program += [
                Instr("requant", out_signed=1, out_zp=case.out_zp & 0xFF, clamp_lo=case.out_zp & 0xFF,
                      clamp_hi=127, param_row=param_row, acc_base=0, sp_base=out_sp, n_rows=rows),
                Instr("sync"),
                Instr("store", src_row=out_sp, x_size=rows, x_stride=N, dram_offset=c_off + m0 * N + nt * d),
            ]
    program.append(Instr("end"))
    code = assemble(program)
    assert len(code) <= code_size_bound
    return Enf(
        config=config,
        programs=[Program(code, 0, "tiled_gemm")],
        tensors=[
            TensorInfo("A", TensorRole.INPUT, DType.INT8, (M, K), a_off, M * K, zero_point=case.a_zp),
            TensorInfo("C", TensorRole.OUTPUT, DType.INT8, (M, N), c_off, M * N, zero_point=case.out_zp),
        ],
        arena_size=_align(c_off + M * N, 4096),
        consts=consts,
        const_offset=const_offset,
        meta={"name": "tiled_gemm", "M": M, "K": K, "N": N, "tile_rows": TM},
    )
