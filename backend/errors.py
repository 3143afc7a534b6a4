"""Exceptions of the backend, named exactly as upstream qubesd names them on the wire."""

from __future__ import annotations


class QubesException(Exception):
    """Base of every error the daemon reports to a client.

    The class name is what travels on the wire (admin-api.md §1.4), so subclasses
    keep the upstream names; the message is written for the user.
    """

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(message, *args)
        self.message = message

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class QubesVMNotFoundError(QubesException, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No such domain: {name!r}")
        self.name = name


class QubesVMInvalidUUIDError(QubesException):
    pass


class QubesVMAlreadyExistsError(QubesException):
    pass


class QubesVMError(QubesException):
    pass


class QubesVMInUseError(QubesVMError):
    pass


class QubesVMNotStartedError(QubesVMError):
    pass


class QubesVMNotRunningError(QubesVMNotStartedError):
    pass


class QubesVMNotPausedError(QubesVMNotStartedError):
    pass


class QubesVMNotSuspendedError(QubesVMError):
    pass


class QubesVMNotHaltedError(QubesVMError):
    pass


class QubesVMShutdownTimeoutError(QubesVMError):
    pass


class QubesVMCancelledPauseError(QubesVMError):
    pass


class QubesNoTemplateError(QubesVMError):
    pass


class QubesMemoryError(QubesVMError, MemoryError):
    pass


class QubesValueError(QubesException, ValueError):
    pass


class QubesPropertyValueError(QubesValueError):
    def __init__(self, holder: str, prop: str, value: object, message: str) -> None:
        super().__init__(message)
        self.holder = holder
        self.prop = prop
        self.value = value


class QubesNoSuchPropertyError(QubesException, AttributeError):
    def __init__(self, holder: str, prop: str) -> None:
        super().__init__(f"Invalid property {prop!r} of {holder}")
        self.prop = prop


class QubesNotImplementedError(QubesException, NotImplementedError):
    pass


class QubesFeatureNotFoundError(QubesException, KeyError):
    def __init__(self, holder: str, feature: str) -> None:
        super().__init__(f"Feature not set for domain {holder}: {feature}")
        self.feature = feature


class QubesTagNotFoundError(QubesException, KeyError):
    def __init__(self, holder: str, tag: str) -> None:
        super().__init__(f"Tag not set for domain {holder}: {tag}")
        self.tag = tag


class QubesLabelNotFoundError(QubesException, KeyError):
    def __init__(self, label: object) -> None:
        super().__init__(f"Label does not exist: {label}")
        self.label = label


class QubesLabelInUseError(QubesException):
    pass


class QubesPoolInUseError(QubesException):
    pass


class StoragePoolException(QubesException):
    """Storage failures; upstream's name for the storage area's base error."""


class QubesVolumeCopyInUseError(QubesException):
    pass


class QubesBackupProfileNotFoundError(QubesException):
    pass


class BackupCancelledError(QubesException):
    pass


class BackupAlreadyRunningError(QubesException):
    pass


class DeviceNotAssigned(QubesException, KeyError):
    pass


class DeviceAlreadyAttached(QubesException, KeyError):
    pass


class DeviceAlreadyAssigned(QubesException, KeyError):
    pass


class DeviceNotFound(QubesException):
    pass


class UnrecognizedDevice(QubesException, ValueError):
    pass


class UnexpectedDeviceProperty(QubesException, ValueError):
    pass


class PermissionDenied(Exception):
    """Refused by policy or by an argument check; not a QubesException upstream."""


class ProtocolError(AssertionError):
    """Malformed request: unknown method, argument or payload where none belongs."""


class QubesInvalidTagError(ProtocolError):
    pass


class QubesInvalidLabelError(ProtocolError):
    pass


class QubesInvalidLabelValueError(ProtocolError):
    pass


class QubesUnrecognizedDeviceAssignmentMode(ProtocolError):
    pass


class QubesVolumeCopyTokenNotFoundError(ProtocolError):
    pass


class StoreError(Exception):
    """qubes.xml cannot be loaded; the daemon stops and leaves the file untouched."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
