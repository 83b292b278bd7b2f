"""The project's error types. Every error a user can cause derives from `NuxError`, so the CLI can print one
clear line instead of a traceback, and callers can catch one base class."""


class NuxError(Exception):
    """Base class of every error nux raises on bad input or a failing device."""


class IsaVersionError(NuxError):
    """A program needs a newer ISA minor version than the device implements (docs/isa.md, "Versions")."""

    def __init__(self, needed: tuple[int, int], device: tuple[int, int]):
        self.needed, self.device = needed, device
        super().__init__(f"program needs ISA {needed[0]}.{needed[1]}; the device implements ISA {device[0]}."
                         f"{device[1]} (rebuild the NPU or compile with isa_minor={device[1]})")
