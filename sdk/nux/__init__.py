"""nux: an open int8 NPU and its software stack.

The package reads bottom-up: `nux.isa` (config, encodings, register map) and `nux.golden` (the reference model)
on the ground floor; `nux.rtl`, `nux.sim`, `nux.driver` and `nux.compiler` above; `nux.session` and the CLI on top.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`import nux; nux.session.create(...)`, as the guide writes it: SDK subpackages load on first use (PEP 562),
    so `import nux` itself stays cheap and imports nothing above the ground floor."""
    if name in ("quantizer", "compiler", "session", "model", "executor", "reference", "driver", "enf"):
        import importlib

        return importlib.import_module(f"nux.{name}")
    raise AttributeError(f"module 'nux' has no attribute {name!r}")
