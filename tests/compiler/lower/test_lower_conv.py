"""conv2d lowering: random shapes and attributes equal nux.golden.kernels.conv2d exactly, race-free."""

from __future__ import annotations

import numpy as np
import pytest
from lower_rig import emitter, run
from nux.compiler.lower import Unsupported
from nux.compiler.lower.conv import conv2d
from nux.golden import kernels
from nux.golden.requant import quantize_multiplier


def case(rng, *, n=1, c=3, h=7, w=6, o=5, k=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1), dil=(1, 1), groups=1,
         x_dtype="int8", w_dtype="int8", w_zp=0, clamp=None, dim=8, sp_rows=512, acc_rows=256, bias=True, w_range=None,
         isa_minor=1):
    em = emitter(dim, sp_rows, acc_rows, isa_minor)
    x_lo, x_hi = (-128, 128) if x_dtype == "int8" else (0, 256)
    x_zp = int(rng.integers(x_lo, x_hi))
    xv = rng.integers(x_lo, x_hi, size=(n, c, h, w)).astype(x_dtype)
    w_lo, w_hi = w_range or ((-128, 128) if w_dtype == "int8" else (0, 256))
    wv = rng.integers(w_lo, w_hi, size=(o, c // groups, *k)).astype(w_dtype)
    w_scale = rng.uniform(0.002, 0.02, size=o)
    bv = rng.integers(-5000, 5000, size=o) if bias else None
    kh, kw = k
    ho = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y_dtype = x_dtype
    y_zp = int(rng.integers(-20, 20)) + (128 if y_dtype == "uint8" else 0)
    x = em.activation((n, c, h, w), x_dtype, 0.05, x_zp)
    y = em.activation((n, o, ho, wo), y_dtype, 0.1, y_zp)
    cost = conv2d(em, x, y, wv, w_scale, w_zp, bv, stride, pads, dil, groups, clamp)
    (got,) = run(em, {x: xv}, [y])
    ms = [quantize_multiplier(0.05 * sc / 0.1) for sc in w_scale]
    lo, hi = y.qrange if clamp is None else (max(clamp[0], y.qrange[0]), min(clamp[1], y.qrange[1]))
    expected = kernels.conv2d(xv, wv, bv, [p[0] for p in ms], [p[1] for p in ms], x_zp=x_zp, w_zp=w_zp,
                              out_zp=y_zp, out_signed=y_dtype == "int8", lo=lo, hi=hi, stride=stride,
                              padding=pads, dilation=dil, groups=groups)
    np.testing.assert_array_equal(got, expected)
    assert expected.size < 20 or len(np.unique(expected)) > 3  # a non-degenerate result
    return cost


def test_conv_3x3_pad_int8():
    cost = case(np.random.default_rng(1), c=16, o=12)
    assert cost.macs == 1 * 12 * 7 * 6 * 16 * 9 and cost.predicted_cycles > 0


@pytest.mark.parametrize("seed", range(6))
def test_conv_random_attributes(seed):
    rng = np.random.default_rng(100 + seed)
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
    case(rng, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 20)), h=int(rng.integers(4, 9)),
         w=int(rng.integers(4, 9)), o=int(rng.integers(1, 20)), k=(kh, kw),
         stride=tuple(int(v) for v in rng.integers(1, 3, size=2)), pads=pads,
         dil=tuple(int(v) for v in rng.integers(1, 3, size=2)), x_dtype=["int8", "uint8"][seed % 2],
         clamp=(0, 100) if seed % 3 == 0 else None, bias=seed % 4 != 1)


def test_conv_small_c_packed_rows_with_padding():
    cost = case(np.random.default_rng(2), c=3, h=9, w=9, o=10, k=(5, 5), stride=(2, 2), pads=(2, 2, 2, 2))
    assert any("packed" in note for note in cost.notes)


def test_conv_small_c_packed_rows_without_padding():
    """Packed kernel-row chunks read x itself (no padded copy) and must never be taken for per-tap chunks."""
    cost = case(np.random.default_rng(2), c=2, h=30, w=30, o=10, k=(3, 3), pads=(0, 0, 0, 0), sp_rows=1024)
    assert cost.notes[0] == "packed kernel rows" and "bands" not in cost.notes[1]


def test_conv_uint8_weights_with_zero_point():
    case(np.random.default_rng(3), c=9, o=6, x_dtype="uint8", w_dtype="uint8", w_zp=131)


def test_conv_per_channel_zero_points_folded_or_unsupported():
    rng = np.random.default_rng(4)
    case(rng, c=4, o=3, w_dtype="uint8", w_zp=np.array([120, 130, 125]), w_range=(2, 248))
    with pytest.raises(Unsupported, match="zero points"):  # ISA 1.0; 1.1 runs it with GEMM wzp_en
        case(rng, c=4, o=3, w_dtype="uint8", w_zp=np.array([0, 255, 128]), w_range=(100, 200), isa_minor=0)


@pytest.mark.parametrize(("c", "o", "groups"), [(16, 16, 16), (12, 24, 4), (6, 6, 2), (32, 32, 32)])
def test_conv_groups_and_depthwise(c, o, groups):
    case(np.random.default_rng(c + o + groups), c=c, o=o, groups=groups, h=6, w=5)


def test_conv_tiles_many_blocks_on_small_memories():
    cost = case(np.random.default_rng(5), c=6, h=7, w=6, o=9, dim=4, sp_rows=64, acc_rows=32)
    assert len(cost.notes) == 1


def test_conv_dim16_and_large_pads():
    case(np.random.default_rng(6), c=24, h=5, w=5, o=17, dim=16, pads=(3, 0, 4, 2), k=(2, 3))


def test_bias_as_gemm_chunk_and_as_acc_loads():
    """ISA 1.0: a 1x1 conv with few chunks takes the bias as a GEMM chunk; a bias beyond that chunk's range is
    loaded (1.1 uses GEMM bias_en: tests/compiler/test_ops_isa11_movers.py)."""
    rng = np.random.default_rng(11)
    cost = case(rng, c=8, o=12, k=(1, 1), pads=(0, 0, 0, 0), h=9, w=9, isa_minor=0)
    assert "bias gemm" in cost.notes[-1]
    em = emitter(isa_minor=0)
    x, y = em.activation((1, 8, 3, 3)), em.activation((1, 4, 3, 3))
    big = conv2d(em, x, y, np.ones((4, 8, 1, 1), np.int8), 0.01, 0, np.array([1 << 24, 0, -5, 7]))
    assert "bias acc" in big.notes[-1]


def test_bias_chunk_digits_are_exact():
    from nux.compiler.lower.common import bias_chunk

    dim, bias = 8, np.array([0, 1, -1, 127, -128, 255, 32000 * 7, -32000 * 7, 12345, -99999])
    a_row, tiles = bias_chunk(bias, dim, 2)
    w = np.frombuffer(tiles, np.int8).reshape(1, 2, dim, dim).transpose(0, 2, 1, 3).reshape(dim, 2 * dim)
    np.testing.assert_array_equal(np.frombuffer(a_row, np.uint8).astype(np.int64) @ w[:, :10], bias)
    assert bias_chunk(np.array([1 << 24]), dim, 1) is None


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_conv_random_sweep(seed):
    """Bigger random shapes, groups and dims (CI: -m slow)."""
    rng = np.random.default_rng(1000 + seed)
    groups = int(rng.choice([1, 1, 2, 4]))
    c, o = groups * int(rng.integers(1, 24)), groups * int(rng.integers(1, 24))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    case(rng, n=int(rng.integers(1, 3)), c=c, h=int(rng.integers(kh + 2, 20)), w=int(rng.integers(kw + 2, 20)),
         o=o, k=(kh, kw), stride=tuple(int(v) for v in rng.integers(1, 4, size=2)),
         pads=tuple(int(p) for p in rng.integers(0, 4, size=4)), dil=tuple(int(v) for v in rng.integers(1, 3, size=2)),
         groups=groups, x_dtype=["int8", "uint8"][seed % 2], w_dtype=["int8", "uint8"][int(seed % 3 == 0)],
         w_zp=0 if seed % 3 else 128, dim=int(rng.choice([4, 8, 16])), sp_rows=1024, acc_rows=512,
         clamp=(0, 127) if seed % 4 == 0 else None)


@pytest.mark.parametrize(("stride", "dil", "pads", "groups", "h", "sp"), [((1, 1), (1, 1), (1, 1, 1, 1), 1, 24, 512),
                                                                         ((2, 1), (2, 2), (2, 0, 1, 3), 1, 20, 1024),
                                                                         ((1, 1), (1, 1), (0, 2, 2, 1), 16, 20, 512)])
def test_conv_input_bands_taps_as_views(stride, dil, pads, groups, h, sp):
    """Input bands loaded once per channel chunk, each tap a shifted strided GEMM view (several bands per image)."""
    cost = case(np.random.default_rng(1), n=2, c=16, h=h, w=h, o=16, k=(3, 3), stride=stride, pads=pads, dil=dil,
                groups=groups, sp_rows=sp, acc_rows=128)
    assert all("bands" in note for note in cost.notes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_conv_small_channel_sweep(seed):
    """Small-C inputs (packed kernel rows, padded copies, bands) with and without padding (CI: -m slow)."""
    rng = np.random.default_rng(2000 + seed)
    kh, kw = int(rng.integers(1, 8)), int(rng.integers(2, 8))
    pads = (0, 0, 0, 0) if seed % 2 else tuple(int(p) for p in rng.integers(0, 4, size=4))
    case(rng, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 8)), h=int(rng.integers(kh + 2, 32)),
         w=int(rng.integers(kw + 2, 32)), o=int(rng.integers(1, 20)), k=(kh, kw),
         stride=tuple(int(v) for v in rng.integers(1, 3, size=2)), pads=pads, x_dtype=["int8", "uint8"][seed % 2],
         dim=int(rng.choice([4, 8, 16])), sp_rows=1024, acc_rows=512)
