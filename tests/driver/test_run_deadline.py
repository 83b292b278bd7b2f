"""`run(timeout=T)` is one deadline for the whole run: queuing and every step share T, however many steps the ENF
has (before, each step waiting for a command-queue slot got a fresh T, so N slow steps could take N x T).

The golden device's `hang` hook cannot show this: a first step that never ends fails the first wait after T
either way. Steps that each end, but slowly, do: every task here takes STEP_SECONDS longer than it would."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from npu_programs import copy_enf
from nux.driver import Npu, NpuTimeout
from nux.enf import Step, StepKind
from nux.isa import NpuConfig

STEPS = 8
STEP_SECONDS = 0.1  # each task takes this long on the slowed-down golden device
#: a one-slot command queue, so submitting step k waits for step k-1 to leave the queue
CONFIG = NpuConfig(dim=4, sp_rows=256, acc_rows=128, cmdq_depth=1)


def slow_golden(npu: Npu) -> None:
    """Make every task on the golden device take STEP_SECONDS more (abandoned at once on CTRL.RESET)."""
    machine = npu.device.machine
    run_task = machine.run_task

    def slow_run_task(*args):
        cancel = args[-1]
        cancel.wait(STEP_SECONDS)
        return run_task(*args)

    machine.run_task = slow_run_task


def many_step_model(npu: Npu):
    enf = dataclasses.replace(copy_enf(npu.config, (1, 4)), steps=[Step(StepKind.NPU, 0)] * STEPS)
    model = npu.load(enf)
    x = np.arange(4, dtype=np.int8).reshape(1, 4)
    model.set_input(0, x)
    return model, x


def test_run_timeout_bounds_the_whole_run():
    timeout = 3 * STEP_SECONDS  # less than half of the STEPS x STEP_SECONDS the run needs
    with Npu("golden", config=CONFIG) as npu:
        slow_golden(npu)
        model, x = many_step_model(npu)
        start = time.monotonic()
        with pytest.raises(NpuTimeout, match=f"did not finish within {timeout:g} s"):
            model.run(timeout=timeout)
        elapsed = time.monotonic() - start
        assert timeout <= elapsed < STEPS * STEP_SECONDS, elapsed
        status = npu.status()
        assert not status["busy"] and status["queued"] == 0  # reset: usable again
        model.run(timeout=30)  # a deadline the run fits in: every step completes
        np.testing.assert_array_equal(model.get_output(0), x)


def test_submit_timeout_bounds_queuing_all_steps():
    timeout = 2 * STEP_SECONDS
    with Npu("golden", config=CONFIG) as npu:
        slow_golden(npu)
        model, _ = many_step_model(npu)
        start = time.monotonic()
        with pytest.raises(NpuTimeout, match="while waiting for a free command-queue slot"):
            model.submit(timeout=timeout)
        assert timeout <= time.monotonic() - start < STEPS * STEP_SECONDS
        assert npu.queue.pending == []


def test_default_timeout_is_the_npus_and_also_one_deadline():
    with Npu("golden", config=CONFIG, timeout=3 * STEP_SECONDS) as npu:
        slow_golden(npu)
        model, _ = many_step_model(npu)
        with pytest.raises(NpuTimeout, match="within 0.3 s"):
            model.run()
