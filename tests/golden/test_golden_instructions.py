"""One test per instruction class, expected values computed by hand (dim 4)."""

from __future__ import annotations

import numpy as np
from nux.isa import Instr, PoolOp, Queue, VectorOp

END = Instr("end")
IDENTITY = (1 << 30, 1)  # MBQM(x, 2^30, 1) == x
PAD = 0xEE


def set_params(rig, row: int, *pairs: tuple[int, int]) -> None:
    """ACC parameter rows: for each (multiplier, shift) pair, two rows with the same value on every lane."""
    for k, (m, s) in enumerate(pairs):
        rig.machine.acc[row + 2 * k] = m
        rig.machine.acc[row + 2 * k + 1] = s


def test_load_sp_3d_with_padding_and_strides(rig):
    rig.put(0x1000, np.arange(256, dtype=np.uint8))
    rig.run([
        Instr("load", dst_row=2, dram_offset=0x1010, row_elems=3, pad_value=PAD, x_size=2, x_stride=4,
              z_size=2, z_stride=0x20, x_pad_before=1, y_pad_after=1),
        END,
    ])
    pad_row = [PAD] * 4
    z0 = [pad_row, [0x10, 0x11, 0x12, PAD], [0x14, 0x15, 0x16, PAD]] + [pad_row] * 3
    z1 = [pad_row, [0x30, 0x31, 0x32, PAD], [0x34, 0x35, 0x36, PAD]] + [pad_row] * 3
    assert rig.sp(2, 12) == z0 + z1
    assert rig.sp(0, 2) == [[0] * 4] * 2 and rig.sp(14, 1) == [[0] * 4]  # nothing outside the 12 rows
    assert rig.machine.counters["DMA_RD_BYTES"] == 4 * 3  # padding rows are not read


def test_load_sp_2d_overlapping_rows(rig):
    rig.put(0x1000, np.arange(256, dtype=np.uint8))
    rig.run([Instr("load", dram_offset=0x1000, x_size=2, x_stride=1, y_size=2, y_stride=0x40), END])
    assert rig.sp(0, 4) == [[0, 1, 2, 3], [1, 2, 3, 4], [0x40, 0x41, 0x42, 0x43], [0x41, 0x42, 0x43, 0x44]]


def test_load_acc_sign_extends_padding(rig):
    rig.put(0x100, np.array([100000, -7], dtype="<i4"))
    rig.run([Instr("load", dst=1, dst_row=3, dram_offset=0x100, row_elems=2, pad_value=0xFF, x_pad_after=1), END])
    assert rig.acc(3, 2) == [[100000, -7, -1, -1], [-1, -1, -1, -1]]
    assert rig.machine.counters["DMA_RD_BYTES"] == 8


def test_load_lut_rows(rig):
    rig.put(0x200, np.array([9, 8, 7, 6], dtype=np.uint8))
    rig.run([Instr("load", dst=2, dst_row=1, dram_offset=0x200), END])
    assert rig.machine.lut[:8].tolist() == [0, 0, 0, 0, 9, 8, 7, 6]


def test_store_sp_strided_2d(rig):
    rig.machine.sp[5:9] = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    rig.run([Instr("store", src_row=5, row_elems=2, dram_offset=0x300, x_size=2, x_stride=3, y_size=2,
                   y_stride=8), END])
    assert rig.get(0x300, 16).tolist() == [1, 2, 0, 5, 6, 0, 0, 0, 9, 10, 0, 13, 14, 0, 0, 0]
    assert rig.machine.counters["DMA_WR_BYTES"] == 8


def test_store_acc_little_endian_and_overlap_last_row_wins(rig):
    rig.machine.acc[0:2] = [[-2, 70000, 3, 4], [11, 12, 13, 14]]
    rig.run([
        Instr("store", src=1, row_elems=2, dram_offset=0x400),
        Instr("store", src=1, dram_offset=0x500, x_size=2, x_stride=4),  # rows overlap by 12 bytes
        END,
    ])
    assert rig.get(0x400, 3, "<i4").tolist() == [-2, 70000, 0]
    assert rig.get(0x400, 4).tolist() == [0xFE, 0xFF, 0xFF, 0xFF]
    assert rig.get(0x500, 6, "<i4").tolist() == [-2, 11, 12, 13, 14, 0]
    assert rig.machine.counters["DMA_WR_BYTES"] == 8 + 32


def _gemm_operands(rig):
    """A rows 0..3: uint8 [128 + r, 128, 129, 127] (a_zp 128 -> [r, 0, 1, -1]);
    W rows 8..11: int8 raw, w_zp = -1 so W = raw + 1 = [[1,2,0,3],[1,1,1,1],[2,2,2,2],[0,0,0,0]]."""
    rig.machine.sp[0:4] = [[128 + r, 128, 129, 127] for r in range(4)]
    raw = np.array([[0, 1, -1, 2], [0, 0, 0, 0], [1, 1, 1, 1], [-1, -1, -1, -1]], dtype=np.int8)
    rig.machine.sp[8:12] = raw.view(np.uint8)


def test_gemm_zero_points_2d_addressing_accumulate_and_reuse(rig):
    _gemm_operands(rig)
    common = dict(a_zp=128, a_signed=0, w_signed=1, w_zp=0xFF, w_row=8, acc_base=4, x_size=2, y_size=2,
                  a_xstride=2, a_ystride=1)
    # a(r) . W = [r + 2, 2r + 2, 2, 3r + 2]; stream row i = y*2 + x reads SP row y + 2x: rows 0, 2, 1, 3.
    once = [[2, 2, 2, 2], [4, 6, 2, 8], [3, 4, 2, 5], [5, 8, 2, 11]]
    rig.run([Instr("gemm", preload=1, **common), END])
    assert rig.acc(4, 4) == once
    rig.run([
        Instr("gemm", preload=1, **common),
        Instr("gemm", accumulate=1, **common),  # preload=0: the same tile stays loaded
        Instr("gemm", acc_base=4, a_base=0, a_zp=128),  # overwrite row 4 only; uint8 W/A defaults unused here
        END,
    ])
    assert rig.acc(4, 4) == [[2, 2, 2, 2]] + [[2 * v for v in row] for row in once[1:]]
    assert rig.machine.counters["ARRAY_BUSY"] == 4 + 4 + 4 + 1
    assert rig.machine.counters["MACS"] == 13 * 16


def test_gemm_int8_operands_and_wrap32(rig):
    rig.machine.sp[0] = np.array([-128, 127, 0, 0], dtype=np.int8).view(np.uint8)
    rig.machine.sp[4:8] = np.array([[-128] * 4, [127] * 4, [0] * 4, [0] * 4], dtype=np.int8).view(np.uint8)
    rig.machine.acc[0] = [2**31 - 1, 0, -(2**31), 5]
    rig.run([Instr("gemm", preload=1, accumulate=1, a_signed=1, w_signed=1, w_row=4), END])
    dot = 128 * 128 + 127 * 127  # 32513
    assert rig.acc(0, 1) == [[-(2**31) + dot - 1, dot, -(2**31) + dot, 5 + dot]]


def test_requant_per_lane(rig):
    rig.machine.acc[0:2] = [[100, 100, 101, -3], [0, 1000, -1000, 0]]
    rig.machine.acc[10] = [1 << 30] * 4  # x 0.5
    rig.machine.acc[11] = [0, 1, -1, 0]  # then x1, x2, x0.5
    # Row 0: 50, 100, 101 -> 51 -> 26 (TFLite's double rounding), -1.5 -> -1.
    rig.run([Instr("requant", out_signed=1, out_zp=10, clamp_lo=10, clamp_hi=100, param_row=10, sp_base=3,
                   n_rows=2), END])
    assert rig.sp(3, 2, signed=True) == [[60, 100, 36, 10], [10, 100, 10, 10]]
    rig.run([Instr("requant", out_zp=200, clamp_lo=0, clamp_hi=255, param_row=10, sp_base=3), END])
    assert rig.sp(3, 1) == [[250, 255, 226, 199]]


def test_vector_max_min_relu_with_broadcast(rig):
    rig.machine.sp[0:2] = np.array([[1, -5, 7, 0], [-1, 3, -128, 127]], dtype=np.int8).view(np.uint8)
    rig.machine.sp[2] = 0
    set_params(rig, 4, IDENTITY)
    args = dict(a_signed=1, b_signed=1, out_signed=1, clamp_lo=0x80, clamp_hi=0x7F, param_row=4, b_base=2,
                x_size=2, a_xstride=1)
    rig.run([Instr("vector", vop=VectorOp.MAX, out_base=8, **args),
             Instr("vector", vop=VectorOp.MIN, out_base=10, **args), END])
    assert rig.sp(8, 2, signed=True) == [[1, 0, 7, 0], [0, 3, 0, 127]]
    assert rig.sp(10, 2, signed=True) == [[0, -5, 0, 0], [-1, 0, -128, 0]]


def test_vector_mul_with_zero_points(rig):
    rig.machine.sp[0] = np.array([1, -5, 7, 0], dtype=np.int8).view(np.uint8)
    rig.machine.sp[1] = [6, 6, 0, 11]  # uint8, b_zp 2 -> [4, 4, -2, 9]
    set_params(rig, 4, (1 << 30, 0))  # x 0.5
    rig.run([Instr("vector", vop=VectorOp.MUL, a_signed=1, b_zp=2, b_base=1, out_signed=1, clamp_lo=0x80, param_row=4,
                   out_base=8), END])
    assert rig.sp(8, 1, signed=True) == [[2, -10, -7, 0]]  # [4, -20, -14, 0] / 2


def test_vector_add_tflite_style_with_broadcast(rig):
    rig.machine.sp[0:2] = np.array([[1, -5, 7, 0], [2, 2, 2, 2]], dtype=np.int8).view(np.uint8)
    rig.machine.sp[3] = np.array([4, 4, -2, 9], dtype=np.int8).view(np.uint8)
    # a<<20 * 0.5 = a*2^19; b<<20 * 0.25 = b*2^18; output x 2^-19: a + b/2, rounded half away from zero.
    set_params(rig, 4, (1 << 30, -18), (1 << 30, 0), (1 << 30, -1))
    rig.run([Instr("vector", vop=VectorOp.ADD, add_shift=20, a_signed=1, b_signed=1, out_signed=1, clamp_lo=0x80,
                   param_row=4, b_base=3, x_size=2, a_xstride=1, out_base=8), END])
    assert rig.sp(8, 2, signed=True) == [[3, -3, 6, 5], [4, 4, 1, 7]]


def test_vector_lut_reads_raw_bytes(rig):
    rig.put(0x100, (255 - np.arange(256)).astype(np.uint8))
    rig.machine.sp[0] = [0, 1, 200, 255]
    rig.run([Instr("load", dst=2, dram_offset=0x100, x_size=64, x_stride=4),
             Instr("vector", vop=VectorOp.LUT, a_zp=5, out_base=1, y_size=2), END])
    assert rig.sp(1, 2) == [[255, 254, 55, 0], [255, 254, 55, 0]]


def _pool_image(rig):
    """3x3 image at rows y*3 + x: lane0 = index, lane1 = -index, lane2 = 10, lane3 = 0."""
    idx = np.arange(9)
    rig.machine.sp[0:9] = np.stack([idx, -idx, np.full(9, 10), np.zeros(9)], axis=1).astype(np.int8).view(np.uint8)


POOL_2X2 = dict(a_signed=1, out_signed=1, clamp_lo=0x80, param_row=4, out_base=16, x_size=2, y_size=2,
                a_xstride=1, a_ystride=3, win_x=2, win_y=2, win_xstride=1, win_ystride=3)


def test_pool_max_windows(rig):
    _pool_image(rig)
    set_params(rig, 4, IDENTITY)
    rig.run([Instr("pool", pop=PoolOp.MAX, **POOL_2X2), END])
    assert rig.sp(16, 4, signed=True) == [[4, 0, 10, 0], [5, -1, 10, 0], [7, -3, 10, 0], [8, -4, 10, 0]]


def test_pool_sum_as_average(rig):
    _pool_image(rig)
    set_params(rig, 4, (1 << 30, -1))  # x 0.25: average of 4 taps
    rig.run([Instr("pool", pop=PoolOp.SUM, **POOL_2X2), END])
    assert rig.sp(16, 4, signed=True) == [[2, -2, 10, 0], [3, -3, 10, 0], [5, -5, 10, 0], [6, -6, 10, 0]]


def test_nop_sync_end_and_nothing_after_end(rig):
    rig.machine.sp[0] = [1, 2, 3, 4]
    program = [
        Instr("nop", queue=Queue.COMPUTE, push_next=1),
        Instr("nop", queue=Queue.STORE, pop_prev=1, push_prev=1),
        Instr("sync"),
        Instr("nop", queue=Queue.COMPUTE, pop_next=1),
        END,
        Instr("store", dram_offset=0x800),
    ]
    rig.run(program)
    assert rig.get(0x800, 4).tolist() == [0, 0, 0, 0]
    assert rig.machine.counters["INSTRET"] == 5
