"""Static timing estimate of a Yosys `synth_xilinx -family xcup` netlist: the worst register-to-register paths.

Why an estimate and not a timing report: no Vivado here. The model (docs/fpga.md, "Delay model") gives every
cell a delay from Xilinx UltraScale+ figures and every routed net a flat routing delay; it ranks paths and finds
the ones that are clearly too long for 250 MHz, which is what pipelining work needs. It is not a sign-off.

A path starts at a register output (flip-flop, SRL, block RAM / UltraRAM data out, a DSP48E2's internal
register) or a top-level input, runs through LUTs, MUXF, CARRY8, LUTRAM reads and unregistered DSP stages, and
ends at a register input or a top-level output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# ---- delay model (ns), docs/fpga.md explains each figure
T_NET = 0.35  # one routed net (average; dedicated carry/MUXF/cascade links are free)
T_LUT = 0.10  # LUT6 logic delay
T_MUXF = 0.10
T_CARRY8 = 0.10
T_FF_CKO, T_FF_SETUP = 0.10, 0.05
T_SRL_CKO = 1.00
T_BRAM_CKO, T_BRAM_CKO_REG, T_BRAM_SETUP = 1.00, 0.40, 0.45
T_URAM_CKO, T_URAM_CKO_REG, T_URAM_SETUP = 1.60, 0.50, 0.50
T_DSP_CKO, T_DSP_SETUP = 0.35, 0.30  # any DSP48E2 internal register: clock-to-out, setup at its input
T_DSP_MUL = 1.70  # A/B/D (or the input registers) -> M: pre-adder and 27x18 multiplier
T_DSP_ALU = 0.90  # M (or C, PCIN) -> P: the 48-bit ALU
T_DSP_OUT = 0.20  # P (unregistered) -> P pin

FF_TYPES = {"FDRE", "FDSE", "FDCE", "FDPE"}
CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK"}
FREE_PINS = {"CI", "CI_TOP", "I0", "I1"}  # carry-in and MUXF data inputs: dedicated links (I0/I1 only on MUXF)
_RAM_ADDR = re.compile(r"^(ADDR[A-H]|A\d*|DPRA\d*)$")


@dataclass
class Path_:
    """One worst path: its delay, LUT levels, and where it starts and ends."""

    delay: float
    levels: int
    start: str
    end: str


@dataclass
class TimingReport:
    worst: list[Path_]  # the worst path per (start bus, end bus), worst first
    max_levels: int  # the most LUT levels on any path
    dsp_unregistered: dict[str, int]  # DSP48E2 count with no input / M / P register
    bram_unregistered: int  # block RAMs / UltraRAMs whose data out has no output register


def _bus(name: str) -> str:
    return re.sub(r"\[\d+\]$", "", name)


class _Netlist:
    """Bit-level view of the flat top module: who drives each bit, and a readable name per bit."""

    def __init__(self, module: dict):
        self.cells = module["cells"]
        self.driver: dict[int, tuple[str, str]] = {}
        self.inputs: set[int] = set()
        for port in module["ports"].values():
            if port["direction"] == "input":
                self.inputs.update(b for b in port["bits"] if isinstance(b, int))
        self.outputs = {name: port["bits"] for name, port in module["ports"].items()
                        if port["direction"] == "output"}
        for cname, cell in self.cells.items():
            for pin, bits in cell["connections"].items():
                if cell.get("port_directions", {}).get(pin) == "output":
                    for b in bits:
                        if isinstance(b, int):
                            self.driver[b] = (cname, pin)
        self.names: dict[int, str] = {}
        for nname, net in sorted(module["netnames"].items(), key=lambda kv: (kv[1].get("hide_name", 0), kv[0])):
            for i, b in enumerate(net["bits"]):
                if isinstance(b, int) and b not in self.names:
                    self.names[b] = nname if len(net["bits"]) == 1 else f"{nname}[{i}]"

    def name(self, bit: int) -> str:
        return self.names.get(bit, f"bit{bit}")


def _param(cell: dict, key: str) -> int:
    """A cell parameter as an int: Yosys writes them as ints, binary strings, decimal strings or TRUE/FALSE."""
    raw = cell.get("parameters", {}).get(key, 0)
    if isinstance(raw, int):
        return raw
    if raw and set(raw) <= {"0", "1"}:
        return int(raw, 2)
    return int(raw) if raw.isdigit() else int(raw.upper() == "TRUE")


def _dsp_regs(cell: dict) -> tuple[bool, bool, bool]:
    """(input registered, M registered, P registered) of a DSP48E2 (any of A/B input registers counts)."""
    return (_param(cell, "AREG") > 0 and _param(cell, "BREG") > 0, _param(cell, "MREG") > 0,
            _param(cell, "PREG") > 0)


class _Analysis:
    """Arrival times (latest, ns) and LUT levels at every cell output, computed on demand without recursion."""

    def __init__(self, net: _Netlist):
        self.net = net
        self.arrival: dict[tuple[str, str], tuple[float, int, int | None]] = {}  # (cell, out pin) -> (t, lv, from)
        self.endpoints: list[tuple[float, int, int | None, str]] = []

    def bit_arrival(self, bit: int, pin: str) -> tuple[float, int, int | None]:
        """Arrival of `bit` at an input pin named `pin` (routing included), LUT levels, origin bit."""
        if bit not in self.net.driver:
            return (0.0 if bit in self.net.inputs else float("-inf")), 0, bit
        cname, opin = self.net.driver[bit]
        t, lv, origin = self._out(cname, opin)
        route = 0.0 if pin in FREE_PINS or self.net.cells[cname]["type"] == "CARRY8" and pin == "CI" else T_NET
        return t + route, lv, origin if origin is not None else bit

    def _comb_inputs(self, cell: dict, opin: str) -> tuple[list[tuple[int, str]], float, int] | None:
        """(input bits with their pins, cell delay, LUT level added) for a combinational output, else None."""
        ctype, conns = cell["type"], cell["connections"]
        dirs = cell.get("port_directions", {})
        ins = [(b, p) for p, bits in conns.items() if dirs.get(p) == "input" and p not in CLOCK_PINS
               for b in bits if isinstance(b, int)]
        if ctype.startswith("LUT"):
            return ins, T_LUT, 1
        if ctype.startswith("MUXF"):
            return ins, T_MUXF, 0
        if ctype in ("CARRY8", "CARRY4"):  # Yosys 0.70 maps xcup adders to CARRY4 (docs/fpga.md: 0.10 each)
            return ins, T_CARRY8, 0
        if ctype in ("INV", "BUFG", "BUF"):
            return ins, 0.0, 0
        if ctype == "DSP48E2" and not any(_dsp_regs(cell)):  # a combinational multiply-add
            data = [(b, p) for b, p in ins if p in ("A", "B", "C", "D", "ACIN", "BCIN", "PCIN", "CARRYIN")]
            return data, T_DSP_MUL + T_DSP_ALU + T_DSP_OUT, 0
        if ctype.startswith("RAM"):  # LUTRAM: asynchronous read from the address pins
            return [(b, p) for b, p in ins if _RAM_ADDR.match(p)], T_LUT, 1
        if ctype.startswith("SRL"):
            return [(b, p) for b, p in ins if p.startswith("A")], T_LUT, 1
        return None

    def _out(self, cname: str, opin: str) -> tuple[float, int, int | None]:
        key = (cname, opin)
        if key in self.arrival:
            return self.arrival[key]
        stack = [key]
        while stack:
            top = stack[-1]
            if top in self.arrival:
                stack.pop()
                continue
            cell = self.net.cells[top[0]]
            comb = self._comb_inputs(cell, top[1])
            if comb is None:
                self.arrival[top] = (self._start(cell, top[1]), 0, None)
                stack.pop()
                continue
            ins, delay, level = comb
            pending = [self.net.driver[b] for b, _ in ins
                       if b in self.net.driver and self.net.driver[b] not in self.arrival]
            if pending:
                stack.extend(pending)
                if len(stack) > 10_000_000:
                    raise RuntimeError("combinational loop in the netlist")
                continue
            best = (0.0, 0, None)
            for b, p in ins:
                t, lv, origin = self.bit_arrival(b, p)
                if t > best[0] or (t == best[0] and lv > best[1]):
                    best = (t, lv, origin)
            self.arrival[top] = (best[0] + delay, best[1] + level, best[2])
            stack.pop()
        return self.arrival[key]

    def _start(self, cell: dict, opin: str) -> float:
        """Clock-to-out of a sequential cell's output (DSP48E2: through its unregistered stages)."""
        ctype = cell["type"]
        if ctype in FF_TYPES:
            return T_FF_CKO
        if ctype.startswith("SRL"):
            return T_SRL_CKO
        if ctype.startswith("RAMB"):
            reg = _param(cell, "DOA_REG") or _param(cell, "DOB_REG")
            return T_BRAM_CKO_REG if reg else T_BRAM_CKO
        if ctype == "URAM288":
            reg = _param(cell, "OREG_A") or _param(cell, "OREG_B")
            return T_URAM_CKO_REG if reg else T_URAM_CKO
        if ctype == "DSP48E2":
            return self._dsp_out(cell)
        return 0.0  # constants (VCC/GND) and anything unknown

    def _dsp_out(self, cell: dict) -> float:
        in_reg, m_reg, p_reg = _dsp_regs(cell)
        if p_reg:
            return T_DSP_CKO
        m = T_DSP_CKO if m_reg else self._dsp_m(cell, in_reg)
        side = self._dsp_pins(cell, ("C", "PCIN", "CARRYIN"))
        return max(m, side) + T_DSP_ALU + T_DSP_OUT

    def _dsp_m(self, cell: dict, in_reg: bool) -> float:
        """Arrival at the M stage: from the input registers or from the A/B/D pins."""
        start = T_DSP_CKO if in_reg else self._dsp_pins(cell, ("A", "B", "D", "ACIN", "BCIN"))
        return start + T_DSP_MUL

    def _dsp_pins(self, cell: dict, pins: tuple[str, ...]) -> float:
        conns = cell["connections"]
        times = [self.bit_arrival(b, p)[0] for p in pins for b in conns.get(p, []) if isinstance(b, int)]
        return max(times, default=0.0)


def _endpoints(an: _Analysis):
    """Yield (required arrival incl. setup, levels, origin bit, endpoint name) for every timing endpoint."""
    net = an.net
    for cname, cell in net.cells.items():
        ctype, conns = cell["type"], cell["connections"]
        dirs = cell.get("port_directions", {})
        if ctype in FF_TYPES or ctype.startswith(("RAMB", "URAM")) or ctype.startswith("SRL") or \
                ctype.startswith("RAM") and not ctype.startswith("RAMB"):
            setup = T_FF_SETUP if ctype in FF_TYPES else T_URAM_SETUP if ctype == "URAM288" else T_BRAM_SETUP
            out = next((bits for p, bits in conns.items() if dirs.get(p) == "output"), [])
            label = net.name(out[0]) if out and isinstance(out[0], int) else cname
            for pin, bits in conns.items():
                if dirs.get(pin) != "input" or pin in CLOCK_PINS:
                    continue
                for b in bits:
                    if isinstance(b, int):
                        t, lv, origin = an.bit_arrival(b, pin)
                        yield t + setup, lv, origin, f"{label} ({ctype}.{pin})"
        elif ctype == "DSP48E2":
            yield from _dsp_endpoints(an, cname, cell)
    for name, bits in net.outputs.items():
        for b in bits:
            if isinstance(b, int):
                t, lv, origin = an.bit_arrival(b, "")
                yield t, lv, origin, f"output {name}"


def _dsp_endpoints(an: _Analysis, cname: str, cell: dict):
    in_reg, m_reg, p_reg = _dsp_regs(cell)
    if in_reg:
        t = an._dsp_pins(cell, ("A", "B", "D"))
        yield t + T_DSP_SETUP, 0, None, f"{cname} (DSP48E2 A/B registers)"
    if m_reg:
        yield an._dsp_m(cell, in_reg) + T_DSP_SETUP, 0, None, f"{cname} (DSP48E2 M register)"
    if p_reg:
        m = T_DSP_CKO if m_reg else an._dsp_m(cell, in_reg)
        t = max(m, an._dsp_pins(cell, ("C", "PCIN", "CARRYIN"))) + T_DSP_ALU
        yield t + T_DSP_SETUP, 0, None, f"{cname} (DSP48E2 P register)"


def analyze(netlist: Path, top: str = "nux_npu", keep: int = 20) -> TimingReport:
    """The `keep` worst paths (one per start/end bus pair), the deepest LUT path, the unregistered DSP/BRAM counts."""
    module = json.loads(Path(netlist).read_text())["modules"][top]
    net = _Netlist(module)
    an = _Analysis(net)
    worst: dict[tuple[str, str, str], Path_] = {}
    max_levels = 0
    for t, lv, origin, end in _endpoints(an):
        max_levels = max(max_levels, lv)
        start = net.name(origin) if origin is not None else "(inside the DSP48E2)"
        label, _, kind = end.partition(" (")
        # one line per (start bus, end bus): a 64-bit bus or a LUTRAM bank is one path, not 64
        key = (_bus(start), "$" if label.startswith("$") else _bus(label), kind.split(".")[0])
        if key not in worst or t > worst[key].delay:
            worst[key] = Path_(round(t, 3), lv, start, end)
    dsps = [c for c in net.cells.values() if c["type"] == "DSP48E2"]
    regs = [_dsp_regs(c) for c in dsps]
    rams = [c for c in net.cells.values() if c["type"].startswith("RAMB") or c["type"] == "URAM288"]
    unreg_ram = sum(1 for c in rams if not any(_param(c, k) for k in ("DOA_REG", "DOB_REG", "OREG_A", "OREG_B")))
    return TimingReport(
        worst=sorted(worst.values(), key=lambda p: -p.delay)[:keep],
        max_levels=max_levels,
        dsp_unregistered={"input": sum(not r[0] for r in regs), "M": sum(not r[1] for r in regs),
                          "P": sum(not r[2] for r in regs)},
        bram_unregistered=unreg_ram,
    )
