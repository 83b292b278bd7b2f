"""Front ends: each turns one model format into a `nux.compiler.ir.Graph` (see ir.py for the contract)."""
