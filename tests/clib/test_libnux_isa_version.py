"""libnux refuses an ENF whose code needs a newer ISA minor than the device reports (issue 10), with the driver's
sentence, before writing anything to the device; a device of the needed minor takes the same file."""

from __future__ import annotations

import dataclasses

import numpy as np
from clib_rig import CONFIG
from npu_programs import copy_enf
from nux.enf import Program, save_enf
from nux.isa import REG, VERSION, Instr, assemble
from test_hw_backends import CARD, register_file

SENTENCE = "program needs ISA 1.1; the device implements ISA 1.0 (rebuild the NPU or compile with isa_minor=0)"


def _reduce_enf():
    enf = copy_enf(CONFIG, (2, 8))
    code = enf.programs[0].code[:-32] + assemble([Instr("reduce", out_row=50), Instr("end")])
    return dataclasses.replace(enf, programs=[Program(code, 0, "copy+reduce")])


def _device(tmp_path, minor: int) -> tuple[str, object]:
    user, card = tmp_path / "user", tmp_path / "card"
    register_file(user)
    regs = np.frombuffer(bytearray(user.read_bytes()), dtype="<u4")
    regs[REG["VERSION"] // 4] = VERSION.encode(MAJOR=1, MINOR=minor)
    user.write_bytes(regs.tobytes())
    card.write_bytes(bytes(CARD))
    return f"xdma:0,user={user},h2c={card},c2h={card},dram_size={CARD}", card


def test_libnux_refuses_11_code_on_a_10_device(programs, run_c, tmp_path):
    save_enf(_reduce_enf(), tmp_path / "reduce.enf")
    device, card = _device(tmp_path, 0)
    result = run_c(programs()["checks"], "isa", device, tmp_path / "reduce.enf", sim=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"isa: {SENTENCE}"
    assert card.read_bytes() == bytes(CARD)  # nothing was written to device memory


def test_libnux_takes_11_code_on_a_11_device(programs, run_c, tmp_path):
    save_enf(_reduce_enf(), tmp_path / "reduce.enf")
    device, card = _device(tmp_path, 1)
    result = run_c(programs()["checks"], "hw", device, tmp_path / "reduce.enf", sim=False)
    assert result.returncode == 0 and "hw ok" in result.stdout, result.stderr
    assert card.read_bytes()[:64] != bytes(64)  # the arena (code first) was written
