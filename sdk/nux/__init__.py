"""nux: an open int8 NPU and its software stack.

The package reads bottom-up: `nux.isa` (config, encodings, register map) and `nux.golden` (the reference model)
on the ground floor; `nux.rtl`, `nux.sim`, `nux.driver` and `nux.compiler` above; `nux.session` and the CLI on top.
"""

__version__ = "0.1.0"
