"""Turning the virt layer's errors into the upstream exception classes clients know.

``backend.virt`` raises ``VirtError`` subclasses (``VirtXMLError``…); those names mean
nothing to the official client, so every lifecycle operation answers with an upstream
class instead, keeping libvirt's message for the user.
"""

from __future__ import annotations

from backend.errors import QubesException, QubesVMError
from backend.virt.errors import VirtConnectionError, VirtError


def upstream_error(exc: VirtError, what: str) -> QubesException:
    """``exc`` as an upstream class; ``what`` says what was being done."""
    if isinstance(exc, VirtConnectionError):
        return QubesVMError(f"{what}: the hypervisor cannot be reached ({exc})")
    return QubesVMError(f"{what}: {exc}")


def start_failed(exc: VirtError) -> QubesException:
    """What ``admin.vm.Start`` answers when libvirt refuses (upstream: plain QubesException)."""
    return QubesException(f"Start failed: {exc}")


def with_message(exc: QubesException, message: str) -> QubesException:
    """An exception of the same upstream class as ``exc`` carrying ``message``.

    Used to say *why* a qube did not start when its netvm failed; classes whose
    constructors take structured arguments fall back to QubesVMError.
    """
    cls = type(exc)
    if cls.__init__ is QubesException.__init__:
        return cls(message)
    return QubesVMError(message)
