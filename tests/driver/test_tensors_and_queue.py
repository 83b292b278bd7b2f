"""Host-side pieces without a device model: tensor encoding for every dtype and layout, and completion tracking
across the 32-bit wrap of COMPLETED."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nux.driver import Npu, TaskDescriptor, TensorError, tensors
from nux.enf import DType, Layout, TensorInfo, TensorRole, tensor_nbytes
from nux.isa import REG, TEST_CONFIGS, constant_registers

DIM = 8


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(list(DType)),
    layout=st.sampled_from(list(Layout)),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    seed=st.integers(0, 2**32 - 1),
)
def test_encode_decode_round_trip(dtype, layout, shape, seed):
    if layout == Layout.NHWC:
        shape = (shape + (1, 1, 1, 1))[:4]
    info = TensorInfo("t", TensorRole.INPUT, dtype, shape, 0, tensor_nbytes(dtype, layout, shape, DIM), layout=layout)
    rng = np.random.default_rng(seed)
    if dtype == DType.FLOAT32:
        x = rng.standard_normal(shape).astype(np.float32)
    else:
        lim = np.iinfo(dtype.numpy)
        x = rng.integers(lim.min, lim.max, size=shape, endpoint=True, dtype=dtype.numpy)
    data = tensors.encode(info, x, DIM)
    assert len(data) == info.size
    if layout == Layout.PLAIN:
        assert data == x.astype(x.dtype.newbyteorder("<")).tobytes()  # little-endian in DRAM
    back = tensors.decode(info, data, DIM)
    assert back.dtype == x.dtype and back.flags.writeable
    np.testing.assert_array_equal(back, x)


def test_decode_refuses_wrong_byte_counts():
    info = TensorInfo("t", TensorRole.OUTPUT, DType.INT32, (2, 3), 0, 24)
    with pytest.raises(TensorError, match="23 bytes given, the tensor needs 24"):
        tensors.decode(info, bytes(23), DIM)


class CountingDevice:
    """A register-level fake whose tasks complete the moment the doorbell rings, with COMPLETED starting just
    below 2^32 so that it wraps."""

    dram_size = 1 << 16

    def __init__(self, completed: int):
        cfg = TEST_CONFIGS[1]
        self.regs = {r.offset: value for r, value in constant_registers(cfg).items()}
        self.regs.update({REG["CMDQ_FREE"]: cfg.cmdq_depth, REG["COMPLETED"]: completed})

    def read32(self, addr: int) -> int:
        return self.regs.get(addr, 0)

    def write32(self, addr: int, value: int) -> None:
        if addr == REG["DOORBELL"]:
            self.regs[REG["COMPLETED"]] = (self.regs[REG["COMPLETED"]] + 1) & 0xFFFFFFFF
            self.regs[REG["LAST_TAG"]] = self.regs.get(REG["TASK_TAG"], 0)
        elif addr != REG["CTRL"]:
            self.regs[addr] = value

    def write(self, dev_addr: int, data: bytes) -> None:
        pass

    def read(self, dev_addr: int, n: int) -> bytes:
        return bytes(n)

    def wait_irq(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        pass


def test_completion_tracking_across_the_32_bit_wrap():
    dev = CountingDevice(completed=0xFFFFFFFE)
    npu = Npu(dev, reset=False)  # attach as found: sequence numbers count from the COMPLETED value read now
    desc = TaskDescriptor(0, 1, 0, 4096, "t")
    tasks = [npu.submit_task(desc) for _ in range(3)]  # COMPLETED: ...FE -> FF -> 0 -> 1
    npu.wait(tasks, timeout=1.0)
    assert all(t.done for t in tasks) and dev.regs[REG["COMPLETED"]] == 1
    assert len({t.tag for t in tasks}) == 3 and dev.regs[REG["LAST_TAG"]] == tasks[-1].tag
