"""libnux end to end on the Verilator device: the C examples give the same bytes as the Python driver, tasks from
several threads each get exactly one callback with the right outputs, bad arguments and hangs give the documented
error codes and leave the device usable, and the whole thing runs clean under AddressSanitizer + UBSan."""

from __future__ import annotations

import numpy as np
import pytest
from clib_rig import CONFIG
from nux.driver import Npu
from nux.isa import ErrorCode

pytestmark = pytest.mark.rtl  # the Verilator device


def python_output(enf_path, a_path) -> bytes:
    with Npu("sim", config=CONFIG) as npu:
        model = npu.load(enf_path)
        info = [t for t in model.enf.tensors if t.name == "A"][0]
        model.set_input("A", np.frombuffer(a_path.read_bytes(), dtype=np.int8).reshape(info.shape))
        model.run()
        return model.get_output("C").tobytes()


def test_examples_match_the_python_driver_bit_for_bit(programs, run_c, gemm_case, tmp_path):
    enf, a, case = gemm_case
    expected = python_output(enf, a)
    assert expected == case.reference().tobytes()  # the driver itself is right, so the comparison means something
    bins = programs()
    sync = run_c(bins["sync_model"], "-o", tmp_path / "sync", enf, a)
    assert sync.returncode == 0, sync.stderr
    assert (tmp_path / "sync0.bin").read_bytes() == expected
    tasks = run_c(bins["task_model"], "-o", tmp_path / "task", "-n", 12, "-b", 4, enf, a)
    assert tasks.returncode == 0, tasks.stderr
    assert "12 finished, 0 failed, 0 mismatched" in tasks.stdout
    assert (tmp_path / "task0.bin").read_bytes() == expected


def test_stress_ten_thousand_tasks_from_six_threads(programs, run_c, copy_enf_file):
    """Issue 11's stress case, in CI (about a minute on sim): 10,000 tasks, max_batch 8, six submitting threads
    mixing get_task and try_get_task; every request id gets exactly one finish or error, outputs checked."""
    result = run_c(programs()["checks"], "stress", copy_enf_file, 10000, 6, 8)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10000 tasks, 10000 with exactly one callback, 0 failed, 0 wrong outputs" in result.stdout


def test_callbacks_submit_the_next_task_without_deadlock(programs, run_c, copy_enf_file):
    result = run_c(programs()["checks"], "chain", copy_enf_file, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "max_batch 2: 50 chained, 0 refused" in result.stdout
    assert "max_batch 1: 1 chained, 1 refused" in result.stdout  # the only slot is the finishing task's own


def test_bad_arguments_give_documented_codes(programs, run_c, copy_enf_file):
    result = run_c(programs()["checks"], "api", copy_enf_file)
    assert result.returncode == 0 and "api ok" in result.stdout, result.stderr


def test_hung_device_times_out_resets_and_the_next_run_works(programs, run_c, gemm_case):
    enf, _, _ = gemm_case
    result = run_c(programs()["checks"], "timeout", enf)
    assert result.returncode == 0, result.stderr
    assert "did not finish the task within 0.001 s; it was reset" in result.stdout


def faulting_enf(tmp_path):
    """The copy ENF with a program that stores far outside its arena: ARENA_VIOLATION at instruction 1."""
    import dataclasses

    from npu_programs import copy_enf
    from nux.enf import Program, save_enf
    from nux.isa import Instr, assemble

    enf = copy_enf(CONFIG, (3, 8))
    code = assemble([Instr("sync"), Instr("store", dram_offset=1 << 20), Instr("end")])
    save_enf(dataclasses.replace(enf, programs=[Program(code, 0, "faulty")]), tmp_path / "bad.enf")
    return tmp_path / "bad.enf"


@pytest.mark.parametrize("sanitize", [False, True], ids=["plain", "asan"])
def test_npu_faults_fail_runs_and_tasks_then_the_device_works(programs, run_c, copy_enf_file, tmp_path, sanitize):
    result = run_c(programs(sanitize)["checks"], "fault", faulting_enf(tmp_path), copy_enf_file)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"sync: the NPU stopped with error code {int(ErrorCode.ARENA_VIOLATION)} at pc 1" in result.stdout
    assert "errors 4 finishes 0" in result.stdout
    codes = [line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("task ")]
    assert codes.count("nux_error_t_model_execution_failed") >= 2
    assert set(codes) <= {"nux_error_t_model_execution_failed", "nux_error_t_task_aborted"}


def test_sanitizers_sync_task_and_bad_input(programs, run_c, gemm_case, copy_enf_file, tmp_path):
    enf, a, case = gemm_case
    bins = programs(sanitize=True)
    for args in (["sync_model", "-o", tmp_path / "s", enf, a], ["task_model", "-n", 20, "-b", 8, enf, a],
                 ["checks", "api", copy_enf_file], ["checks", "stress", copy_enf_file, 300, 3, 8],
                 ["checks", "timeout", enf], ["checks", "chain", copy_enf_file]):
        result = run_c(bins[args[0]], *args[1:])
        assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}"
        assert "Sanitizer" not in result.stderr
    assert (tmp_path / "s0.bin").read_bytes() == case.reference().tobytes()


def test_missing_simulator_says_how_to_build_it(programs, run_c, copy_enf_file, tmp_path):
    result = run_c(programs()["sync_model"], copy_enf_file, env={"NUX_SIM_LIBRARY": "", "NUX_SIM_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert "nux_error_t_simulator_not_built" in result.stderr and "nux sim build --dim 4" in result.stderr
