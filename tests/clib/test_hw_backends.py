"""libnux's xdma and pci backends against plain files standing in for /dev/xdmaN_* and the sysfs BARs (as the
Python backend tests do): identity comes from the register file, the arena lands at its device address, the input
at its tensor offset, the TASK_* words and the doorbell at their registers; nothing executes, so the run times out
and the device is reset (CTRL.RESET written)."""

from __future__ import annotations

import numpy as np
import pytest
from clib_rig import CONFIG
from npu_programs import copy_enf
from nux.enf import save_enf
from nux.isa import INSTR_BYTES, MMIO_SIZE, REG, Ctrl, Irq, constant_registers

CARD = 1 << 20


def register_file(path) -> None:
    regs = np.zeros(MMIO_SIZE // 4, dtype="<u4")
    for reg, value in constant_registers(CONFIG).items():
        regs[reg.offset // 4] = value
    regs[REG["CMDQ_FREE"] // 4] = CONFIG.cmdq_depth
    path.write_bytes(regs.tobytes())


@pytest.mark.parametrize("backend", ["xdma", "pci"])
def test_register_file_stand_in(programs, run_c, tmp_path, backend):
    enf = copy_enf(CONFIG, (2, 8))
    save_enf(enf, tmp_path / "copy.enf")
    user, card = tmp_path / "user", tmp_path / "card"
    register_file(user)
    card.write_bytes(bytes(CARD))
    device = (f"xdma:0,user={user},h2c={card},c2h={card},dram_size={CARD}" if backend == "xdma"
              else f"pci,bar0={user},bar4={card}")
    result = run_c(programs()["checks"], "hw", device, tmp_path / "copy.enf", sim=False)
    assert result.returncode == 0 and "hw ok" in result.stdout, result.stderr
    memory, regs = card.read_bytes(), np.frombuffer(user.read_bytes(), dtype="<u4")
    code = enf.programs[0].code
    assert memory[: len(code)] == code  # the arena is the first block of device memory
    x = enf.tensors[0]
    pattern = bytes((i * 7 + 3 * 13) & 0xFF for i in range(x.size))
    assert memory[x.offset : x.offset + x.size] == pattern
    reg = {name: int(regs[REG[name] // 4]) for name in REG}
    assert reg["TASK_PROG_LEN"] == len(code) // INSTR_BYTES and reg["TASK_ARENA_SIZE"] == enf.arena_size
    assert reg["TASK_PROG_BASE_LO"] == 0 and reg["TASK_TAG"] == 1 and reg["DOORBELL"] == 1
    assert reg["CTRL"] == int(Ctrl.RESET)  # the reset after the timeout
    assert reg["IRQ_ENABLE"] == int(Irq.DONE | Irq.ERROR)
