"""The quantizer's error type.

Every problem a user can cause (a bad model, a name that is not in the graph, calibration data of the wrong
shape) raises `QuantizationError` with a message naming the problem, so the CLI prints one line and callers
can catch `nux.errors.NuxError` for the whole SDK.
"""

from __future__ import annotations

from nux.errors import NuxError


class QuantizationError(NuxError, ValueError):
    """Bad input to `nux.quantizer`: the message names the model element or data array at fault."""
