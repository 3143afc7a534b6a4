"""The virt area's errors: every ``libvirtError`` becomes one of these at the boundary."""

from __future__ import annotations

import libvirt

from backend.errors import QubesVMError


class VirtError(QubesVMError):
    """A libvirt call failed; libvirt's own code and message are kept."""

    def __init__(
        self, message: str, *, code: int | None = None, libvirt_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.libvirt_message = libvirt_message


class VirtConnectionError(VirtError):
    """libvirt cannot be reached (not running, refused, or lost and not back yet)."""


class VirtDomainNotFoundError(VirtError):
    """libvirt has no such domain."""


class VirtInvalidOperationError(VirtError):
    """The domain is in the wrong state for this (e.g. already running, not paused)."""


class VirtUnsupportedError(VirtError):
    """The hypervisor driver cannot do this."""


class VirtXMLError(VirtError):
    """libvirt refused the domain XML."""


_BY_CODE: dict[int, type[VirtError]] = {
    libvirt.VIR_ERR_NO_DOMAIN: VirtDomainNotFoundError,
    libvirt.VIR_ERR_OPERATION_INVALID: VirtInvalidOperationError,
    libvirt.VIR_ERR_NO_SUPPORT: VirtUnsupportedError,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: VirtUnsupportedError,
    libvirt.VIR_ERR_XML_ERROR: VirtXMLError,
    libvirt.VIR_ERR_XML_DETAIL: VirtXMLError,
    libvirt.VIR_ERR_INVALID_CONN: VirtConnectionError,
    libvirt.VIR_ERR_NO_CONNECT: VirtConnectionError,
    libvirt.VIR_ERR_RPC: VirtConnectionError,
    libvirt.VIR_ERR_AUTH_FAILED: VirtConnectionError,
}


def from_libvirt(err: libvirt.libvirtError, action: str) -> VirtError:
    """Our exception for ``err``; ``action`` says what failed, for the user."""
    code = err.get_error_code()
    detail = err.get_error_message() or str(err)
    cls = _BY_CODE.get(code, VirtError)
    return cls(f"{action}: {detail}", code=code, libvirt_message=detail)
