"""The Npu over every backend: identify, run, errors that leave the device usable, async queueing, models, I/O."""

from __future__ import annotations

import numpy as np
import pytest
from npu_programs import DEFAULT_CONFIG, copy_enf, copy_program, random_array
from nux.driver import (
    NpuError,
    NpuExecutionError,
    OutOfDeviceMemory,
    TaskAborted,
    TaskDescriptor,
    TensorError,
    UnsupportedError,
)
from nux.enf import DType, Layout, write_enf
from nux.isa import ISA_VERSION, REG, ConfigError, ErrorCode, Instr, NpuConfig, Status, assemble


def test_identifies_the_device(npu):
    assert npu.version[0] == ISA_VERSION[0] and npu.version[1] <= ISA_VERSION[1]  # the RTL (sim) reports 1.0
    assert isinstance(npu.config, NpuConfig)
    status = npu.status()
    assert not status["busy"] and not status["error"] and status["completed"] == 0
    assert status["cmdq_free"] == npu.config.cmdq_depth


def test_run_program_copies_and_counts(npu):
    d = npu.config.dim
    rows = 5
    data = np.random.default_rng(1).integers(0, 256, rows * d, dtype=np.uint8).tobytes()
    npu.clear_perf()
    arena = npu.run_program(copy_program(npu.config, 1024, 2048, rows), 4096, {1024: data})
    assert arena[2048 : 2048 + rows * d] == data
    assert arena[2048 + rows * d :].count(0) == 4096 - 2048 - rows * d  # nothing else was written
    perf = npu.perf()
    assert (perf["DMA_RD_BYTES"], perf["DMA_WR_BYTES"], perf["INSTRET"]) == (rows * d, rows * d, 4)
    assert npu.status()["completed"] == 1


def test_arena_violation_reports_code_pc_and_tag_then_device_works(npu):
    d = npu.config.dim
    arena_size = 4096
    bad_store = Instr("store", dram_offset=arena_size - d + 1, x_size=1)  # its last byte is past the arena
    base = npu.alloc(arena_size)
    program = assemble(copy_program(npu.config, 1024, 2048, 2, extra=[Instr("sync"), bad_store]))
    data = bytes(range(2 * d))
    image = bytearray(arena_size)
    image[: len(program)] = program
    image[1024 : 1024 + 2 * d] = data
    npu.device.write(base, bytes(image))
    task = npu.submit_task(TaskDescriptor(base, len(program) // 32, base, arena_size, "faulty", program))
    with pytest.raises(NpuExecutionError) as info:
        npu.wait(task)
    error = info.value
    assert (error.code, error.pc, error.tag) == (ErrorCode.ARENA_VIOLATION, 4, task.tag)
    assert "ARENA_VIOLATION at instruction 4" in str(error) and "faulty: `store" in str(error)
    # Everything before the fault happened, nothing after; the device was reset and is idle.
    assert npu.device.read(base + 2048, 2 * d) == data
    status = npu.status()
    assert not status["error"] and not status["busy"]
    npu.free(base)
    arena = npu.run_program(copy_program(npu.config, 1024, 2048, 1), 4096, {1024: bytes(range(d))})
    assert arena[2048 : 2048 + d] == bytes(range(d))


def test_bad_task_descriptor(npu):
    base = npu.alloc(4096)
    code = assemble([Instr("end")])
    npu.device.write(base, code)
    task = npu.submit_task(TaskDescriptor(base + 8, 1, base, 4096, "misaligned", code))
    with pytest.raises(NpuExecutionError) as info:
        npu.wait(task)
    assert (info.value.code, info.value.pc) == (ErrorCode.BAD_TASK, 0)
    npu.free(base)


def test_illegal_instruction_in_code_image(npu):
    code = assemble([Instr("sync")]) + bytes(32)  # opcode 0 is illegal
    with pytest.raises(NpuExecutionError, match="ILLEGAL_OPCODE at instruction 1") as info:
        npu.run_program(code, 4096)
    assert info.value.code == ErrorCode.ILLEGAL_OPCODE


def test_error_mid_queue_aborts_later_tasks_only(npu):
    d = npu.config.dim
    good = npu.load(copy_enf(npu.config, (2, d)))
    bad = assemble([Instr("store", dram_offset=1 << 20, x_size=1), Instr("end")])
    x = np.arange(2 * d, dtype=np.int8).reshape(2, d)
    good.set_input("x", x)
    first = good.submit()
    base = npu.alloc(4096)
    npu.device.write(base, bad)
    failing = npu.submit_task(TaskDescriptor(base, 2, base, 4096, "bad", bad))
    later = good.submit()
    with pytest.raises(NpuExecutionError):
        npu.wait(failing)
    first.wait()  # completed before the fault
    np.testing.assert_array_equal(good.get_output("y"), x)
    with pytest.raises(TaskAborted, match="did not run to completion"):
        later.wait()
    good.run()  # the device is usable again
    np.testing.assert_array_equal(good.get_output(0), x)
    npu.free(base)


def test_async_submit_up_to_and_past_queue_depth(npu):
    d = npu.config.dim
    depth = npu.config.cmdq_depth
    rng = np.random.default_rng(7)
    models = [npu.load(copy_enf(npu.config, (3, d), name=f"m{i}")) for i in range(2 * depth + 1)]
    inputs = [random_array(rng, (3, d), DType.INT8) for _ in models]
    for model, x in zip(models, inputs, strict=True):
        model.set_input(0, x)
    completed_before = npu.status()["completed"]
    runs = [m.submit() for m in models]  # past the depth, submit waits for a free slot instead of overflowing
    for run in reversed(runs):
        run.wait()
    assert all(run.done for run in runs)
    for model, x in zip(models, inputs, strict=True):
        np.testing.assert_array_equal(model.get_output("y"), x)
    status = npu.status()
    assert status["completed"] - completed_before == len(models)
    assert not npu.device.read32(REG["STATUS"]) & Status.CMDQ_OVERFLOW


def test_models_coexist_in_separate_arenas_and_unload(npu):
    d = npu.config.dim
    a = npu.load(copy_enf(npu.config, (4, d), DType.UINT8, name="a"))
    b = npu.load(copy_enf(npu.config, (d,), DType.INT32, name="b"))
    assert a.arena_base + a.arena_size <= b.arena_base or b.arena_base + b.arena_size <= a.arena_base
    xa = np.arange(4 * d, dtype=np.uint8).reshape(4, d) * 3
    xb = np.arange(d, dtype=np.int32) * -100_003
    a.set_input("x", xa)
    b.set_input("x", xb)
    a.run()
    b.run()
    np.testing.assert_array_equal(a.get_output("y"), xa)
    np.testing.assert_array_equal(b.get_output("y"), xb)
    used = npu.memory.used_bytes
    a.unload()
    assert npu.memory.used_bytes == used - a.arena_size
    with pytest.raises(NpuError, match="has been unloaded"):
        a.run()
    b.run()  # the other model is untouched


@pytest.mark.parametrize("layout, shape", [(Layout.NHWC, (1, 3, 2, 5)), (Layout.ROWS, (3, 5))])
def test_layouts_round_trip_and_are_stored_as_specified(npu, layout, shape):
    d = npu.config.dim
    model = npu.load(copy_enf(npu.config, shape, DType.INT8, layout))
    x = random_array(np.random.default_rng(3), shape, DType.INT8)
    model.set_input("x", x)
    info = model.enf.tensors[0]
    raw = np.frombuffer(npu.device.read(model.arena_base + info.offset, info.size), dtype=np.int8)
    if layout == Layout.NHWC:
        np.testing.assert_array_equal(raw, x.transpose(0, 2, 3, 1).ravel())
    else:  # ROWS: the last axis padded to dim lanes with the zero point
        rows = raw.reshape(shape[0], -(-shape[1] // d) * d)
        np.testing.assert_array_equal(rows[:, : shape[1]], x)
        assert (rows[:, shape[1] :] == info.zero_point).all()
    model.run()
    np.testing.assert_array_equal(model.get_output("y"), x)


def test_set_input_checks(npu):
    d = npu.config.dim
    model = npu.load(copy_enf(npu.config, (2, d), DType.INT8))
    with pytest.raises(TensorError, match=r"input 'x': expected dtype int8, got float32"):
        model.set_input("x", np.zeros((2, d), np.float32))
    with pytest.raises(TensorError, match=rf"expected shape \(2, {d}\), got \({d}, 2\)"):
        model.set_input("x", np.zeros((d, 2), np.int8))
    with pytest.raises(TensorError, match=r"has no input 'y'; its inputs are \['x'\]"):
        model.set_input("y", np.zeros((2, d), np.int8))
    with pytest.raises(TensorError, match="no index 1"):
        model.set_input(1, np.zeros((2, d), np.int8))
    with pytest.raises(TensorError, match="expected a numpy array, got list"):
        model.set_input(0, [[0] * d] * 2)
    with pytest.raises(TensorError, match="has no output 'x'"):
        model.get_output("x")


def test_config_mismatch_is_refused(npu):
    dim = 4 if npu.config.dim != 4 else 8
    other = NpuConfig(dim=dim, sp_rows=npu.config.sp_rows, acc_rows=npu.config.acc_rows)
    with pytest.raises(ConfigError, match=rf"does not fit this NPU.*dim {dim} != device dim {npu.config.dim}"):
        npu.load(copy_enf(other, (2, dim)))
    deeper = NpuConfig(dim=npu.config.dim, sp_rows=npu.config.sp_rows * 2, acc_rows=npu.config.acc_rows)
    with pytest.raises(ConfigError, match="sp_rows"):
        npu.load(copy_enf(deeper, (2, npu.config.dim)))
    assert npu.memory.used_bytes == 0  # nothing was allocated


def test_load_from_bytes_and_path(npu, tmp_path):
    enf = copy_enf(npu.config, (1, npu.config.dim))
    path = tmp_path / "copy.enf"
    path.write_bytes(write_enf(enf))
    for source in (write_enf(enf), path, str(path)):
        model = npu.load(source)
        x = np.full((1, npu.config.dim), -5, np.int8)
        model.set_input(0, x)
        model.run()
        np.testing.assert_array_equal(model.get_output(0), x)
        model.unload()


def test_host_steps_are_refused_before_anything_runs(npu):
    model = npu.load(copy_enf(npu.config, (1, npu.config.dim), host_step=True))
    before = npu.status()["completed"]
    with pytest.raises(UnsupportedError, match="host-fallback steps.*nux.session"):
        model.run()
    assert npu.status()["completed"] == before and not npu.queue.pending


def test_out_of_device_memory(npu):
    enf = copy_enf(npu.config, (2, npu.config.dim))  # an arena a little over 4096 bytes
    hog = npu.alloc(npu.memory.size - 4096)
    with pytest.raises(OutOfDeviceMemory, match=f"cannot allocate {enf.arena_size} bytes"):
        npu.load(enf)
    npu.free(hog)
    npu.load(enf)


def test_npu_refuses_options_with_a_device_object(npu):
    from nux.driver import Npu

    with pytest.raises(NpuError, match="only apply when Npu opens a device string"):
        Npu(npu.device, config=DEFAULT_CONFIG)
