"""Pieces every lowering shares: requant parameters, clamp bounds, tiled weight images, closing a layer."""

from __future__ import annotations

import numpy as np

from nux.compiler.lower.perf import predict_cycles
from nux.compiler.lower.target import ActTensor, Emitter, LayerCost, LoweringError, Unsupported
from nux.golden.requant import RequantError, quantize_multiplier
from nux.isa import Instr, Mem, Opcode


def multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (m, s) from real multipliers, with the golden model's quantize_multiplier."""
    try:
        pairs = [quantize_multiplier(float(r)) for r in np.ravel(real)]
    except RequantError as exc:
        raise Unsupported(f"output multiplier out of the hardware's range: {exc}") from None
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


def param_rows(dim: int, m: np.ndarray, s: np.ndarray, nt: int) -> bytes:
    """Per column tile: a row of int32 multipliers then a row of shifts (the REQUANT parameter rows)."""
    rows = np.zeros((nt, 2, dim), dtype="<i4")
    flat = np.zeros((2, nt * dim), dtype="<i4")
    flat[0, : m.size], flat[1, : s.size] = m, s
    rows[:, 0], rows[:, 1] = flat[0].reshape(nt, dim), flat[1].reshape(nt, dim)
    return rows.tobytes()


def int32_row(values: np.ndarray, length: int) -> bytes:
    out = np.zeros(length, dtype="<i4")
    vals = np.asarray(values, dtype=np.int64)
    if vals.size and (vals.min() < -(1 << 31) or vals.max() >= 1 << 31):
        raise LoweringError("bias does not fit int32")
    out[: vals.size] = vals
    return out.tobytes()


def clamp_bounds(y: ActTensor, clamp: tuple[int, int] | None) -> tuple[int, int]:
    """The output clamp: the fused activation's bounds intersected with the output type's range."""
    lo, hi = y.qrange
    if clamp is not None:
        lo, hi = max(lo, int(clamp[0])), min(hi, int(clamp[1]))
    return lo, hi


def weight_tiles(b: np.ndarray, dim: int, fill: int) -> bytes:
    """B (K, N) as dim x dim tiles in (kt, nt) order, padded with `fill` (the weight zero point: contributes 0)."""
    k, n = b.shape
    kt, nt = -(-k // dim), -(-n // dim)
    padded = np.full((kt * dim, nt * dim), fill, dtype=b.dtype)
    padded[:k, :n] = b
    return np.ascontiguousarray(padded.reshape(kt, dim, nt, dim).transpose(0, 2, 1, 3)).tobytes()


def weights_8bit(w: np.ndarray, w_zero_point: np.ndarray | int, axis: int = 0) -> tuple[np.ndarray, int]:
    """Weights with one zero point for the whole tensor, as the GEMM's per-tile w_zp needs.

    Per-channel zero points that differ are folded into the weights when w - zp fits int8 (exact: the
    GEMM then runs with w_zp = 0); otherwise the case is Unsupported.
    """
    w = np.asarray(w)
    if w.dtype not in (np.int8, np.uint8):
        raise LoweringError(f"weights must be int8 or uint8, got {w.dtype}")
    zp = np.asarray(w_zero_point, dtype=np.int64).ravel()
    if zp.size <= 1 or (zp == zp[0]).all():
        return w, int(zp[0]) if zp.size else 0
    shape = [1] * w.ndim
    shape[axis] = -1
    shifted = w.astype(np.int64) - zp.reshape(shape)
    if shifted.min() < -128 or shifted.max() > 127:
        raise Unsupported("per-channel weight zero points that differ, and w - zp does not fit int8")
    return shifted.astype(np.int8), 0


def finish_layer(em: Emitter, program: list[Instr], macs: int, notes: list[str] | None = None) -> LayerCost:
    """Close the layer with SYNC (queues quiescent, tokens balanced), emit it and price it."""
    program = program + [Instr(Opcode.SYNC)]
    em.emit(program)
    cfg = em.config
    load = store = rows = 0
    for ins in program:
        v = ins.values
        if ins.opcode in (Opcode.LOAD, Opcode.GATHER, Opcode.STORE):
            mem = v.get("dst", v.get("src"))
            row = (v["row_elems"] or cfg.dim) * (4 if mem in (Mem.ACC, Mem.LUTW) else 1)
            nbytes = row * v["x_size"] * v["y_size"] * v["z_size"]
            if ins.opcode is not Opcode.STORE:
                load += nbytes
            else:
                store += nbytes
        elif ins.opcode is Opcode.GEMM:
            rows += v["x_size"] * v["y_size"]
    return LayerCost(macs=macs, predicted_cycles=predict_cycles(cfg, program), array_rows=rows, load_bytes=load,
                     store_bytes=store, instructions=len(program), notes=list(notes or []))


def bias_chunk(bias: np.ndarray, dim: int, nt: int) -> tuple[bytes, bytes] | None:
    """The bias as one more GEMM K chunk, or None when a value is out of its range.

    A is one uint8 row (255, ..., 255, 1) streamed for every output row; column n's int8 weights are digits
    w[0..dim-2] in [-128, 127] and a remainder r in [-127, 127] with bias[n] = 255 * sum(w) + r, so the chunk
    adds exactly bias[n] to every row (|bias| up to about 32,000 * (dim - 1)). Returns (A row, tiles).
    """
    b = np.zeros(nt * dim, dtype=np.int64)
    b[: np.size(bias)] = np.ravel(bias)
    r = (b + 127) % 255 - 127
    total = (b - r) // 255
    if dim < 2 or total.min() < -128 * (dim - 1) or total.max() > 127 * (dim - 1):
        return None
    digits = np.zeros((dim, nt * dim), dtype=np.int64)
    left = total.copy()
    for k in range(dim - 1):
        digits[k] = np.clip(left, -128, 127)
        left -= digits[k]
    digits[dim - 1] = r
    a_row = bytes([255] * (dim - 1) + [1])
    return a_row, weight_tiles(digits.astype(np.int8), dim, 0)
