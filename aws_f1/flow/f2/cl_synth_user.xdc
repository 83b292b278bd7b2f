# nux CL (F2), synthesis constraints. Nothing to add: the NPU's scratchpad and accumulator are inferred
# block/UltraRAM memories and the glue has no false paths. UNVERIFIED until Vivado has run.
