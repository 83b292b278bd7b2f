"""The ground floor: NpuConfig, instruction encodings, assembler, and the MMIO register map.

Everything here is data or pure functions; the golden model, RTL, driver and compiler all build on it.
"""

from nux.isa.config import TEST_CONFIGS, ConfigError, NpuConfig
from nux.isa.encoding import (
    ERROR_DOCS,
    FORMATS,
    INSTR_BYTES,
    ISA_VERSION,
    MAX_TOKENS,
    QUEUE_OF,
    ErrorCode,
    Field,
    Mem,
    Opcode,
    PoolOp,
    Queue,
    VectorOp,
    fields_of,
    reserved_masks,
)
from nux.isa.instruction import (
    AsmError,
    DecodeError,
    Instr,
    assemble,
    decode,
    disassemble,
    format_instr,
    format_program,
    parse_program,
)
from nux.isa.registers import (
    DETERMINISTIC_COUNTERS,
    MMIO_SIZE,
    NPU_ID,
    PERF,
    PERF_COUNTERS,
    REG,
    REGISTERS,
    Ctrl,
    Irq,
    Status,
)

__all__ = [
    "TEST_CONFIGS", "ConfigError", "NpuConfig", "ERROR_DOCS", "FORMATS", "INSTR_BYTES", "ISA_VERSION", "MAX_TOKENS",
    "QUEUE_OF", "ErrorCode", "Field", "Mem", "Opcode", "PoolOp", "Queue", "VectorOp", "fields_of", "reserved_masks",
    "AsmError", "DecodeError", "Instr", "assemble", "decode", "disassemble", "format_instr", "format_program",
    "parse_program", "DETERMINISTIC_COUNTERS", "MMIO_SIZE", "NPU_ID", "PERF", "PERF_COUNTERS", "REG", "REGISTERS",
    "Ctrl", "Irq", "Status",
]
