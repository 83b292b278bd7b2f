"""Opening device nodes (XDMA character devices, sysfs BAR files) with errors that say what to check."""

from __future__ import annotations

import errno
import os

from nux.device import DeviceError


def open_node(path: str, flags: int, what: str, hint: str) -> int:
    """os.open(path, flags) that turns a missing or forbidden node into a DeviceError naming it.

    `what` says what the node is ("XDMA user BAR"), `hint` what to try when it is missing.
    """
    try:
        return os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise DeviceError(f"{what} {path} not found; {hint}") from None
    except PermissionError:
        raise DeviceError(
            f"{what} {path}: permission denied; run as root or give your user access (udev rule / chmod)"
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise DeviceError(f"{what} {path}: no such device ({exc.strerror}); {hint}") from None
        raise DeviceError(f"{what} {path}: {exc.strerror}") from None


def close_fds(fds: list[int]) -> None:
    """Close every descriptor, ignoring ones already closed, and empty the list (close() is idempotent)."""
    while fds:
        fd = fds.pop()
        try:
            os.close(fd)
        except OSError:
            pass
