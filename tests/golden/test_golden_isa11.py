"""ISA 1.1 on the golden machine (dim 4): GATHER, STORE lane_stride, LOAD dst=lutw, GEMM wzp_en/bias_en, REQUANT
row_scale, REDUCE and LUTW. Expected values are computed by hand or by a plain-Python loop written from the
spec's pseudo-code (docs/isa.md), never by the machine's vectorised code."""

from __future__ import annotations

import numpy as np
import pytest
from golden_rig import Rig
from nux.golden.rowops import recip_multiplier, rsqrt_multiplier
from nux.isa import Instr, Mem, NpuConfig, ReduceOp, ReducePost

END = Instr("end")
IDENTITY = (1 << 30, 1)  # MBQM(x, 2^30, 1) == x
DIM = 4


def test_gather_sp_reads_lanes_lane_stride_apart(rig):
    rig.put(0x1000, np.arange(256, dtype=np.uint8))
    rig.run([Instr("gather", dst_row=3, dram_offset=0x1001, row_elems=3, pad_value=0xEE, lane_stride=16,
                   x_size=2, x_stride=1, y_size=2, y_stride=64), END])
    assert rig.sp(3, 4) == [[0x01, 0x11, 0x21, 0xEE], [0x02, 0x12, 0x22, 0xEE],
                            [0x41, 0x51, 0x61, 0xEE], [0x42, 0x52, 0x62, 0xEE]]
    assert rig.machine.counters["DMA_RD_BYTES"] == 4 * 3


def test_gather_acc_sign_extends_pad_and_zero_lane_stride_is_contiguous(rig):
    rig.put(0x100, np.arange(-8, 8, dtype="<i4"))
    rig.run([Instr("gather", dst=Mem.ACC, dram_offset=0x100, row_elems=2, pad_value=0x80, lane_stride=16,
                   x_size=2, x_stride=4), Instr("gather", dst=Mem.ACC, dst_row=2, dram_offset=0x100), END])
    assert rig.acc(0, 3) == [[-8, -4, -128, -128], [-7, -3, -128, -128], [-8, -7, -6, -5]]
    assert rig.machine.counters["DMA_RD_BYTES"] == 2 * 2 * 4 + 4 * 4


def test_store_lane_stride_transposes(rig):
    rig.machine.sp[0:3] = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    rig.run([Instr("store", dram_offset=0x200, x_size=3, x_stride=1, lane_stride=3), END])
    assert rig.get(0x200, 13).tolist() == [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12, 0]
    assert rig.machine.counters["DMA_WR_BYTES"] == 12


def test_store_lane_stride_later_lane_and_row_win(rig):
    rig.machine.acc[0:2] = [[1, 2, 3, 4], [5, 6, 7, 8]]
    rig.run([Instr("store", src=Mem.ACC, dram_offset=0x300, row_elems=3, x_size=2, x_stride=4, lane_stride=4), END])
    # row 0 lanes at 0x300, 0x304, 0x308; row 1 lanes at 0x304, 0x308, 0x30C (row 1 is later, so it wins)
    assert rig.get(0x300, 5, "<i4").tolist() == [1, 5, 6, 7, 0]


def test_load_lutw_rows(rig):
    rig.put(0x400, np.array([100000, -1, 7, 1 << 30], dtype="<i4"))
    rig.run([Instr("load", dst=Mem.LUTW, dst_row=63, dram_offset=0x400), END])
    assert rig.machine.lutw[252:].tolist() == [100000, -1, 7, 1 << 30]


def test_gemm_per_column_weight_zero_points(rig):
    rng = np.random.default_rng(1)
    w = rng.integers(0, 256, (DIM, DIM), dtype=np.uint8)
    wzp = np.array([0, 128, 255, 3], dtype=np.uint8)
    a = rng.integers(-128, 128, (3, DIM), dtype=np.int8)
    rig.machine.sp[8:12] = w
    rig.machine.sp[12] = wzp
    rig.machine.sp[0:3] = a.view(np.uint8)
    rig.run([Instr("gemm", preload=1, w_row=8, wzp_en=1, wzp_row=12, a_signed=1, a_zp=0xFE, x_size=3, a_xstride=1,
                   acc_base=4), END])
    expected = (a.astype(np.int64) + 2) @ (w.astype(np.int64) - wzp.astype(np.int64))
    assert rig.acc(4, 3) == expected.tolist()


def test_gemm_bias_is_read_once_before_the_writes(rig):
    rig.machine.sp[0:4] = np.eye(DIM, dtype=np.uint8)
    rig.machine.sp[4:6] = [[1, 2, 3, 4], [5, 6, 7, 8]]
    rig.machine.acc[5] = [(1 << 31) - 1, -10, 100, 0]
    rig.run([Instr("gemm", preload=1, a_base=4, x_size=2, a_xstride=1, acc_base=5, bias_en=1, bias_row=5), END])
    assert rig.acc(5, 2) == [[-(1 << 31), -8, 103, 4], [-(1 << 31) + 4, -4, 107, 8]]  # bias row 5 overwritten


def test_requant_row_scale_groups(rig):
    rig.machine.acc[0:5] = [[1000, -1000, 7, 0]] * 5
    rig.machine.acc[10] = [1 << 30, 0, 99, 99]  # group 0: x * 0.5
    rig.machine.acc[11] = [1 << 30, -2, 0, 0]  # group 1: x / 8
    rig.machine.acc[12] = [*IDENTITY, 0, 0]
    rig.machine.acc[20], rig.machine.acc[21] = 1 << 30, 1  # per-lane identity
    rig.run([Instr("requant", out_signed=1, clamp_lo=0x80, clamp_hi=0x7F, out_zp=1, param_row=20, n_rows=5,
                   sp_base=30, row_scale=1, rowp_base=10, group_rows=2), END])
    # rows 0, 1: x/2 + 1 (3.5 rounds away from zero); rows 2, 3: x/8 + 1; row 4: x + 1; clamped to int8
    assert rig.sp(30, 5, signed=True) == [[127, -128, 5, 1]] * 2 + [[126, -124, 2, 1]] * 2 + [[127, -128, 8, 1]]


def test_requant_row_scale_exact_values(rig):
    rig.machine.acc[0:2] = [[100, -100, 3, -3], [64, -64, 4, -4]]
    rig.machine.acc[10] = [1 << 30, -1, 0, 0]  # x / 4
    rig.machine.acc[20], rig.machine.acc[21] = 1 << 30, 1
    rig.run([Instr("requant", out_signed=1, clamp_lo=0x80, clamp_hi=0x7F, param_row=20, n_rows=2,
                   row_scale=1, rowp_base=10, group_rows=2), END])
    assert rig.sp(0, 2, signed=True) == [[25, -25, 1, -1], [16, -16, 1, -1]]  # 0.75 -> 1, -0.75 -> -1


# ---------------------------------------------------------------------------------------------- REDUCE


def spec_reduce(sp: np.ndarray, acc: np.ndarray, ins: Instr) -> dict[int, list[int]]:
    """REDUCE's pseudo-code of docs/isa.md, one group and one lane at a time: {output row: its lanes}."""
    v = ins.values
    out = {}
    wrap = lambda x: (x + (1 << 31)) % (1 << 32) - (1 << 31)  # noqa: E731
    for g in range(v["n_groups"]):
        t = []
        for j in range(v["group_rows"]):
            row = v["a_base"] + g * v["a_gstride"] + j * v["a_rstride"]
            lanes = (v["last_lanes"] or DIM) if j == v["group_rows"] - 1 else DIM
            for n in range(lanes):
                if v["src"] == Mem.SP:
                    raw = int(sp[row][n])
                    val = raw - 256 if v["a_signed"] and raw > 127 else raw
                    zp = v["a_zp"] - 256 if v["a_signed"] and v["a_zp"] > 127 else v["a_zp"]
                    t.append(val - zp)
                else:
                    t.append(int(acc[row][n]))
        r = {ReduceOp.MAX: max(t), ReduceOp.SUM: wrap(sum(t)), ReduceOp.SUMSQ: wrap(sum(x * x for x in t))}[v["rop"]]
        if v["post"] == ReducePost.NONE:
            out[v["out_row"] + g] = [r % 256] * DIM if v["dst_sp"] else [r] * DIM
        else:
            fn = recip_multiplier if v["post"] == ReducePost.RECIP else rsqrt_multiplier
            m, s = fn(r, v["post_shift"])
            out[v["out_row"] + g] = [m, s] + [0] * (DIM - 2)
    return out


def _random_reduce(rng: np.random.Generator) -> Instr:
    src = int(rng.integers(0, 2))
    rop = int(rng.integers(0, 2 if src else 3))
    post = int(rng.integers(0, 3)) if rop and rng.random() < 0.5 else 0
    group_rows, n_groups = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    signed = int(rng.integers(0, 2)) if not src else 0
    return Instr("reduce", rop=rop, src=src, dst_sp=int(post == 0 and rng.random() < 0.3), a_signed=signed,
                 post=post, a_zp=int(rng.integers(0, 256)) if not src else 0, last_lanes=int(rng.integers(0, 5)),
                 a_base=int(rng.integers(0, 8)), out_row=int(rng.integers(0, 10)), group_rows=group_rows,
                 n_groups=n_groups, a_rstride=int(rng.integers(0, 4)), a_gstride=int(rng.integers(0, 5)),
                 post_shift=int(rng.integers(-20, 21)) if post else 0)


def test_reduce_matches_the_pseudo_code_on_random_instructions():
    """Random fields (in-place and overlapping output rows included), SP and ACC sources with extreme values."""
    rng = np.random.default_rng(7)
    for case in range(300):
        rig = Rig()
        rig.machine.sp[:] = rng.integers(0, 256, rig.machine.sp.shape, dtype=np.uint8)
        extremes = np.array([-(1 << 31), (1 << 31) - 1, 0, 1, -1, 1 << 29])
        acc = rng.integers(-(1 << 31), 1 << 31, rig.machine.acc.shape, dtype=np.int64)
        acc = np.where(rng.random(acc.shape) < 0.2, rng.choice(extremes, acc.shape), acc)
        rig.machine.acc[:] = np.where(rng.random(acc.shape) < 0.5, acc, acc >> 20)
        ins = _random_reduce(rng)
        before_sp, before_acc = rig.machine.sp.copy(), rig.machine.acc.copy()
        expected_sp, expected_acc = before_sp.copy(), before_acc.copy().astype(np.int64)
        # the spec runs group by group: feed later groups the rows earlier groups wrote
        for g in range(ins.n_groups):
            one = ins.replace(n_groups=1, a_base=ins.a_base + g * ins.a_gstride, out_row=ins.out_row + g)
            for row, lanes in spec_reduce(expected_sp, expected_acc, one).items():
                target = expected_sp if ins.dst_sp else expected_acc
                target[row] = lanes
        rig.run([ins, END])
        assert rig.machine.sp.tolist() == expected_sp.tolist(), f"case {case}: {ins}"
        assert rig.machine.acc.astype(np.int64).tolist() == expected_acc.tolist(), f"case {case}: {ins}"


def test_reduce_hand_cases(rig):
    rig.machine.sp[0:2] = [[1, 200, 3, 4], [5, 6, 7, 250]]  # as int8: 200 = -56, 250 = -6
    rig.run([Instr("reduce", rop="max", a_signed=1, group_rows=2, a_rstride=1, last_lanes=3, dst_sp=1, out_row=10),
             Instr("reduce", rop="sum", group_rows=2, a_rstride=1, out_row=0, a_zp=1),  # uint8: (sum 476) - 8 * 1
             Instr("reduce", rop="sumsq", a_signed=1, n_groups=2, a_gstride=1, out_row=1),
             Instr("reduce", rop="sum", src="acc", out_row=3),  # the row written by the second REDUCE
             END])
    assert rig.sp(10, 1) == [[7, 7, 7, 7]]
    assert rig.acc(0, 3) == [[468] * 4, [1 + 56 * 56 + 9 + 16] * 4, [25 + 36 + 49 + 36] * 4]
    assert rig.acc(3, 1) == [[4 * 468] * 4]


def test_reduce_post_writes_multiplier_and_shift(rig):
    rig.machine.acc[0] = [100, 200, 300, 400]
    rig.run([Instr("reduce", rop="sum", src="acc", post="recip", post_shift=8, out_row=1),
             Instr("reduce", rop="sum", src="acc", post="rsqrt", post_shift=-3, out_row=2), END])
    assert rig.acc(1, 2) == [[*recip_multiplier(1000, 8), 0, 0], [*rsqrt_multiplier(1000, -3), 0, 0]]


def test_reduce_sum_wraps(rig):
    rig.machine.acc[0] = [(1 << 31) - 1, 1, 0, 0]
    rig.run([Instr("reduce", rop="sum", src="acc", out_row=1), END])
    assert rig.acc(1, 1) == [[-(1 << 31)] * 4]


# ---------------------------------------------------------------------------------------------- LUTW


def test_lutw_indexes_by_raw_byte_and_by_clamped_difference(rig):
    rig.machine.lutw[:] = np.arange(256) * 1000 - 5
    rig.machine.sp[0] = [0, 127, 128, 255]
    rig.machine.sp[1] = np.array([-128, 127, 0, -1], dtype=np.int8).view(np.uint8)
    rig.machine.sp[2] = [127, 127, 127, 127]
    rig.run([Instr("lutw", a_base=0, out_base=4),
             Instr("lutw", diff=1, a_signed=1, b_signed=1, a_base=1, b_base=2, out_base=5),  # 127 - A
             Instr("lutw", diff=1, a_base=2, b_base=0, out_base=6),  # uint8: B - 127, clamped at 0 and 255
             END])
    table = lambda i: i * 1000 - 5  # noqa: E731
    assert rig.acc(4, 3) == [[table(0), table(127), table(128), table(255)],
                             [table(255), table(0), table(127), table(128)],
                             [table(0), table(0), table(1), table(128)]]


def test_lutw_iterates_x_and_y(rig):
    rig.machine.lutw[:] = np.arange(256)
    rig.machine.sp[0:8] = np.arange(32).reshape(8, 4)
    rig.machine.sp[10] = [40, 40, 40, 40]
    rig.run([Instr("lutw", diff=1, a_base=0, a_xstride=1, a_ystride=4, b_base=10, x_size=2, y_size=2,
                   out_base=20), END])
    assert rig.acc(20, 4) == [[40 - x for x in row] for row in ([0, 1, 2, 3], [4, 5, 6, 7], [16, 17, 18, 19],
                                                                [20, 21, 22, 23])]


@pytest.mark.parametrize("config", [NpuConfig(dim=8, sp_rows=64, acc_rows=32)])
def test_reduce_softmax_chain_on_dim8(config):
    """The softmax recipe of docs/isa.md: REDUCE MAX -> LUTW diff -> REDUCE SUM RECIP -> REQUANT row_scale."""
    rig = Rig(config)
    x = np.array([[10, -3, 7, 10, 0, 1, 2, 3], [-128, 127, 0, 0, 0, 0, 0, 0]], dtype=np.int8)
    rig.machine.sp[0:2] = x.view(np.uint8)
    table = np.rint((1 << 16) * np.exp(-0.1 * np.arange(256))).astype(np.int32)
    rig.machine.lutw[:] = table
    rig.machine.acc[30], rig.machine.acc[31] = 1 << 30, 1
    rig.run([Instr("reduce", rop="max", a_signed=1, n_groups=2, a_gstride=1, dst_sp=1, out_row=10),
             Instr("lutw", diff=1, a_signed=1, b_signed=1, a_base=0, a_xstride=1, b_base=10, b_xstride=1, x_size=2),
             Instr("reduce", rop="sum", src="acc", n_groups=2, a_gstride=1, post="recip", post_shift=8, out_row=2),
             Instr("requant", param_row=30, n_rows=2, sp_base=20, clamp_hi=0xFF, row_scale=1, rowp_base=2,
                   group_rows=1),
             END])
    e = table[x.max(axis=1, keepdims=True).astype(np.int64) - x]
    probabilities = e / e.sum(axis=1, keepdims=True)
    wanted = np.clip(256 * probabilities, 0, 255)  # uint8, scale 1/256
    assert np.abs(np.asarray(rig.sp(20, 2)) - wanted).max() <= 0.5 + 1e-3
