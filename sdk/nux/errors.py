"""The project's error types. Every error a user can cause derives from `NuxError`, so the CLI can print one
clear line instead of a traceback, and callers can catch one base class."""


class NuxError(Exception):
    """Base class of every error nux raises on bad input or a failing device."""
