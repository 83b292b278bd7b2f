"""nux.aws: the AWS F1/F2 custom logic (CL) around the NPU, and the files its HDK build needs.

Amaranth glue (`NuxClCore`: BAR0 decoder and CL ID registers, 512-bit upsizer, 2-to-1 DDR interconnect, register
slice, IRQ pulser), hand-written SystemVerilog tops per shell in hdl/, and `write_build_dir` which assembles a
CL directory for the HDK flow. The address map lives in nux.isa.aws, shared with the driver. Runbook: docs/aws.md.
"""
