"""The compute-queue executor: `ComputeUnit(config)`, the contract in docs/rtl_interfaces.md.

It routes each issued instruction to one of two engines and shares the memory ports between them:

* `GemmEngine` (rtl/compute_gemm.py): GEMMs, pipelined and chained back to back;
* `VectorEngine` (rtl/compute_vector.py): REQUANT, VECTOR, POOL and the LUT storage.

Ordering inside the queue (docs/rtl_compute.md, "Hazards"): consecutive GEMMs overlap freely (they only read
SP, and the GEMM engine forwards its own ACC writes). Every other pair waits: a GEMM is accepted only while the
vector engine is idle, and a vector instruction only once the GEMM engine has written its last row and the
vector engine has finished the previous one. That makes `done` pulses come in issue order and every
read-after-write inside the queue safe, at the cost of a pipeline drain (tens of cycles) around non-GEMM
instructions, which are never the bottleneck.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from nux.isa import NpuConfig, Opcode
from nux.rtl.compute_gemm import GemmEngine
from nux.rtl.compute_vector import VectorEngine, lut_write_layout
from nux.rtl.isa_layout import INSTR_BITS
from nux.rtl.mem_ports import acc_read, acc_write, sp_read, sp_write

PC_BITS = 16


def issue_layout() -> data.StructLayout:
    return data.StructLayout({"instr": INSTR_BITS, "pc": PC_BITS})


class ComputeUnit(wiring.Component):
    """GEMM, REQUANT, VECTOR and POOL execution for one NpuConfig; see docs/rtl_interfaces.md for the ports."""

    def __init__(self, config: NpuConfig):
        self.config = config
        dim = config.dim
        super().__init__({
            "issue": In(stream.Signature(issue_layout())),
            "done": Out(1),
            "idle": Out(1),
            "sp_rd_a": sp_read(config),
            "sp_rd_b": sp_read(config),
            "sp_wr": sp_write(config),
            "acc_rd": acc_read(config),
            "acc_wr": acc_write(config),
            "lut_wr": In(lut_write_layout(dim)),
            "array_row": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        gemm = m.submodules.gemm = GemmEngine(self.config)
        vector = m.submodules.vector = VectorEngine(self.config)

        instr = self.issue.payload.instr
        is_gemm = instr[:4] == Opcode.GEMM
        gemm_ok = gemm.i_ready & vector.idle
        vector_ok = vector.i_ready & gemm.idle
        m.d.comb += [
            gemm.i_instr.eq(instr),
            vector.i_instr.eq(instr),
            gemm.i_valid.eq(self.issue.valid & is_gemm & gemm_ok),
            vector.i_valid.eq(self.issue.valid & ~is_gemm & vector_ok),
            self.issue.ready.eq(is_gemm & gemm_ok | ~is_gemm & vector_ok),
            self.done.eq(gemm.done | vector.done),
            self.idle.eq(gemm.idle & vector.idle),
            self.array_row.eq(gemm.array_row),
            vector.lut_wr.eq(self.lut_wr),
        ]

        # The engines never run at the same time (see the module docstring), so the shared read ports simply
        # follow whichever engine is busy.
        vector_active = ~vector.idle
        for name in ("sp_rd_a", "sp_rd_b", "acc_rd"):
            port, g, v = getattr(self, name), getattr(gemm, name), getattr(vector, name)
            m.d.comb += [
                port.en.eq(Mux(vector_active, v.en, g.en)),
                port.addr.eq(Mux(vector_active, v.addr, g.addr)),
                g.data.eq(port.data),
                v.data.eq(port.data),
            ]
        wiring.connect(m, wiring.flipped(self.sp_wr), vector.sp_wr)
        wiring.connect(m, wiring.flipped(self.acc_wr), gemm.acc_wr)
        return m
