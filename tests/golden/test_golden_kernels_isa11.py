"""The ISA 1.1 op-level kernels (softmax, l2_normalize, reduce_l2, reduce_sum, reduce_max): close to the float
operator (within one output step), and for softmax and L2 normalisation exactly what the REDUCE / LUTW / REQUANT
row_scale program of docs/isa.md computes on the golden machine."""

from __future__ import annotations

import numpy as np
import pytest
from golden_rig import Rig
from nux.golden import kernels as K
from nux.golden.kernels import KernelError
from nux.isa import Instr, NpuConfig

END = Instr("end")
CONFIG = NpuConfig(dim=8, sp_rows=256, acc_rows=128)


def _q(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.mark.parametrize("dtype, out_scale, out_zp", [("int8", 1 / 256, -128), ("uint8", 1 / 256, 0),
                                                      ("uint8", 1 / 255, 0), ("int8", 0.004, -120)])
@pytest.mark.parametrize("depth, beta, in_scale", [(1, 1.0, 0.1), (10, 1.0, 0.05), (1000, 0.5, 0.2),
                                                   (37, 2.0, 0.02)])
def test_softmax_within_one_step_of_float(dtype, out_scale, out_zp, depth, beta, in_scale):
    rng = np.random.default_rng(depth)
    x = _q(rng, (5, depth), dtype)
    got = K.softmax(x, in_scale=in_scale, out_scale=out_scale, out_zp=out_zp, beta=beta)
    xf = beta * in_scale * x.astype(np.float64)
    p = np.exp(xf - xf.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    info = np.iinfo(dtype)
    want = np.clip(p / out_scale + out_zp, info.min, info.max)
    assert got.dtype == x.dtype and np.abs(got - want).max() <= 1.0


def test_softmax_params():
    p = K.softmax_params(1000, 0.1, 1.0, 1 / 256)
    assert p.k == 21 and 1000 * 2**p.k < 2**31 and p.table[0] == 1 << 21
    assert (p.post_shift, p.out_m, p.out_s) == (8, 1 << 30, 1)  # a power-of-two scale: the identity stage
    p = K.softmax_params(3, 0.1, 1.0, 1 / 255)
    assert p.k == K.SOFTMAX_K_MAX and p.post_shift == K.SOFTMAX_POST_SHIFT
    assert p.table.dtype == np.int32 and np.all(np.diff(p.table.astype(np.int64)) <= 0)
    for bad in ((0, 0.1, 1.0, 0.1), (4, 0.0, 1.0, 0.1), (4, 0.1, -1.0, 0.1), (4, 0.1, 1.0, 0.0)):
        with pytest.raises(KernelError, match="softmax"):
            K.softmax_params(*bad)


def test_softmax_axis():
    x = _q(np.random.default_rng(1), (3, 4, 5), "int8")
    args = dict(in_scale=0.1, out_scale=1 / 256, out_zp=-128)
    assert np.array_equal(K.softmax(x, axis=1, **args), np.moveaxis(K.softmax(np.moveaxis(x, 1, -1), **args), -1, 1))


def _run_softmax(rig: Rig, x: np.ndarray, params: K.SoftmaxParams) -> np.ndarray:
    """One softmax per row of x on the machine: rows of dim lanes, group = ceil(depth / dim) SP rows."""
    dim = rig.machine.config.dim
    n, depth = x.shape
    per = -(-depth // dim)
    padded = np.zeros((n, per * dim), x.dtype)
    padded[:, :depth] = x
    rig.machine.sp[0 : n * per] = padded.view(np.uint8).reshape(-1, dim)
    rig.machine.lutw[:] = params.table
    rig.machine.acc[0], rig.machine.acc[1] = params.out_m, params.out_s
    signed = int(x.dtype == np.int8)
    last = depth - (per - 1) * dim
    rig.run([
        Instr("reduce", rop="max", a_signed=signed, group_rows=per, a_rstride=1, n_groups=n, a_gstride=per,
              last_lanes=last % dim, dst_sp=1, out_row=200),
        Instr("lutw", diff=1, a_signed=signed, b_signed=signed, a_base=0, a_xstride=1, a_ystride=per, x_size=per,
              y_size=n, b_base=200, b_ystride=1, out_base=10),
        Instr("reduce", rop="sum", src="acc", group_rows=per, a_rstride=1, n_groups=n, a_gstride=per, a_base=10,
              last_lanes=last % dim, post="recip", post_shift=params.post_shift, out_row=2),
        Instr("requant", out_signed=signed, clamp_lo=0x80 if signed else 0, clamp_hi=0x7F if signed else 0xFF,
              out_zp=-128 & 0xFF if signed else 0, param_row=0, acc_base=10, n_rows=n * per, sp_base=100,
              row_scale=1, rowp_base=2, group_rows=per),
        END])
    out = rig.machine.sp[100 : 100 + n * per].reshape(n, per * dim)[:, :depth]
    return out.view(np.int8) if signed else out


@pytest.mark.parametrize("dtype, depth", [("int8", 8), ("int8", 21), ("uint8", 3), ("uint8", 100)])
def test_softmax_kernel_is_the_machine_program(dtype, depth):
    x = _q(np.random.default_rng(depth), (4, depth), dtype)
    zp = -128 if dtype == "int8" else 0
    params = K.softmax_params(depth, 0.07, 1.0, 1 / 256)
    got = _run_softmax(Rig(CONFIG), x, params)
    assert np.array_equal(got, K.softmax(x, in_scale=0.07, out_scale=1 / 256, out_zp=zp))


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_l2_normalize_kernel_is_the_machine_program(dtype):
    """d = x - zp into ACC (GEMM, identity tile scaled by 2^pre), REDUCE SUMSQ post=RSQRT, REQUANT row_scale."""
    dim, signed = CONFIG.dim, dtype == "int8"
    x = _q(np.random.default_rng(5), (6, dim), dtype)
    zp = -3 if signed else 131
    pre = 0 if signed else 7
    rig = Rig(CONFIG)
    rig.machine.sp[0:6] = x.view(np.uint8)
    rig.machine.sp[8:16] = np.eye(dim, dtype=np.uint8) << pre
    rig.machine.acc[0], rig.machine.acc[1] = 1 << 30, 1
    rig.run([
        Instr("gemm", preload=1, w_row=8, a_signed=int(signed), a_zp=zp & 0xFF, a_base=0, a_xstride=1, x_size=6,
              acc_base=10),
        Instr("reduce", rop="sumsq", a_signed=int(signed), a_zp=zp & 0xFF, n_groups=6, a_gstride=1, post="rsqrt",
              post_shift=7 - pre, out_row=20),
        Instr("requant", out_signed=int(signed), clamp_lo=0x80 if signed else 0, clamp_hi=0x7F if signed else 0xFF,
              out_zp=0 if signed else 128, param_row=0, acc_base=10, n_rows=6, sp_base=30, row_scale=1,
              rowp_base=20, group_rows=1),
        END])
    got = rig.machine.sp[30:36]
    assert np.array_equal(got.view(np.int8) if signed else got, K.l2_normalize(x, x_zp=zp))


@pytest.mark.parametrize("dtype, out_scale, out_zp", [("int8", 1 / 128, 0), ("uint8", 1 / 128, 128),
                                                      ("int8", 0.01, 5), ("uint8", 1 / 200, 120)])
def test_l2_normalize_within_one_step_of_float(dtype, out_scale, out_zp):
    x = _q(np.random.default_rng(2), (50, 33), dtype)
    zp = 3 if dtype == "int8" else 128
    got = K.l2_normalize(x, x_zp=zp, axis=0, out_scale=out_scale, out_zp=out_zp)
    d = x.astype(np.float64) - zp
    info = np.iinfo(dtype)
    want = np.clip(d / np.linalg.norm(d, axis=0) / out_scale + out_zp, info.min, info.max)
    assert np.abs(got - want).max() <= 1.0


@pytest.mark.parametrize("shape, axes, keepdims", [((4, 7), -1, True), ((3, 5, 6), (0, 2), False),
                                                   ((2, 3), None, True), ((1, 40000), 1, True)])
def test_reductions_within_one_step_of_float(shape, axes, keepdims):
    rng = np.random.default_rng(sum(shape))
    x = _q(rng, shape, "int8")
    args = dict(x_zp=-2, axes=axes, keepdims=keepdims)
    d = x.astype(np.float64) + 2
    ax = tuple(range(len(shape))) if axes is None else axes
    l2 = np.sqrt((d * d).sum(axis=ax, keepdims=keepdims)) * 0.05
    got = K.reduce_l2(x, in_scale=0.05, out_scale=l2.max() / 120, out_zp=0, **args)
    assert np.abs(got - np.clip(l2 / (l2.max() / 120), -128, 127)).max() <= 1.0
    sums = d.sum(axis=ax, keepdims=keepdims) * 0.05
    got = K.reduce_sum(x, in_scale=0.05, out_scale=np.abs(sums).max() / 100, out_zp=3, **args)
    assert np.abs(got - np.clip(sums / (np.abs(sums).max() / 100) + 3, -128, 127)).max() <= 1.0
    mean = d.mean(axis=ax, keepdims=keepdims) * 0.05
    got = K.reduce_sum(x, in_scale=0.05, out_scale=0.01, out_zp=0, mean=True, **args)
    assert np.abs(got - np.clip(mean / 0.01, -128, 127)).max() <= 1.0
    got = K.reduce_max(x, in_scale=0.05, out_scale=0.05, out_zp=-2, **args)
    assert np.array_equal(got, x.max(axis=ax, keepdims=keepdims))


def test_reduce_l2_of_a_huge_sum_of_squares():
    """S near 2^31 (the RSQRT multiplier unnormalised): sqrt(S) * 2^10 must not overflow in MBQM."""
    x = np.full((1, 130000), -128, np.int8)  # S = 130000 * 128^2 = 2.1e9
    got = K.reduce_l2(x, x_zp=0, in_scale=1.0, out_scale=400.0, out_zp=0)
    assert abs(int(got[0, 0]) - 128 * np.sqrt(130000) / 400) <= 1


@pytest.mark.parametrize("call", [
    lambda: K.softmax(np.zeros(3, np.int16), in_scale=1, out_scale=1, out_zp=0),
    lambda: K.softmax(np.zeros(3, np.int8), in_scale=1, out_scale=1, out_zp=0, axis=1),
    lambda: K.reduce_sum(np.zeros((2, 3), np.int8), x_zp=0, in_scale=1, out_scale=1, out_zp=0, axes=(0, 2)),
    lambda: K.reduce_l2(np.zeros((2, 3), np.int8), x_zp=0, in_scale=1, out_scale=1, out_zp=0, axes=()),
    lambda: K.l2_normalize(np.zeros((2, 3), np.float32), x_zp=0),
])
def test_bad_arguments(call):
    with pytest.raises(KernelError):
        call()
