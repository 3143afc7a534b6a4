"""The device classes (``pci``, ``block``, ``usb``, ``mic``) and what each allows.

core-model.md §7.1: PCI devices come from dom0 only and take ``permissive`` and
``no-strict-reset`` (any value); block devices take ``frontend-dev`` (``xvd…`` or
``sd…``), ``read-only`` (``yes``/``no``, forced to yes for read-only devices) and
``devtype`` (``disk``/``cdrom``); USB devices and the microphone take no options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backend.errors import QubesValueError

from .model import AssignmentMode, DeviceInfo

OptionCheck = Callable[[Mapping[str, str], "DeviceInfo | None"], dict[str, str]]

_FRONTEND_DEV = re.compile(r"(xvd|sd)[a-z]{1,3}[0-9]{0,3}")
_ALL_MODES = frozenset(AssignmentMode)


def _no_options(devclass: str) -> OptionCheck:
    def check(options: Mapping[str, str], device: DeviceInfo | None) -> dict[str, str]:
        if options:
            name = sorted(options)[0]
            raise QubesValueError(f"{devclass} devices take no options (got {name!r})")
        return {}

    return check


def _pci_options(options: Mapping[str, str], device: DeviceInfo | None) -> dict[str, str]:
    for name in options:
        if name not in ("permissive", "no-strict-reset"):
            raise QubesValueError(
                f"unknown pci option {name!r}; pci devices take permissive and no-strict-reset"
            )
    return dict(options)


def _block_options(options: Mapping[str, str], device: DeviceInfo | None) -> dict[str, str]:
    result = dict(options)
    for name, value in options.items():
        if name == "frontend-dev":
            if not _FRONTEND_DEV.fullmatch(value):
                raise QubesValueError(
                    f"frontend-dev {value!r} must be a disk name starting with xvd or sd"
                )
        elif name == "read-only":
            if value not in ("yes", "no"):
                raise QubesValueError(f"read-only must be yes or no, not {value!r}")
        elif name == "devtype":
            if value not in ("disk", "cdrom"):
                raise QubesValueError(f"devtype must be disk or cdrom, not {value!r}")
        else:
            raise QubesValueError(
                f"unknown block option {name!r}; block devices take frontend-dev, "
                "read-only and devtype"
            )
    if device is not None and device.data.get("mode") == "r":
        result["read-only"] = "yes"  # a read-only device cannot be given writable
    return result


@dataclass(frozen=True)
class DeviceClass:
    name: str
    #: the letter its interface codes start with
    letter: str
    check_options: OptionCheck
    modes: frozenset[AssignmentMode] = _ALL_MODES
    #: only dom0 exposes devices of this class
    dom0_backend_only: bool = False
    #: the device goes into the domain definition: assign only while halted,
    #: never to dom0 nor to a pvh qube
    passthrough: bool = False


DEVICE_CLASSES: dict[str, DeviceClass] = {
    cls.name: cls
    for cls in (
        DeviceClass("block", "b", _block_options),
        DeviceClass("mic", "m", _no_options("mic"), dom0_backend_only=True),
        DeviceClass(
            "pci",
            "p",
            _pci_options,
            modes=frozenset({AssignmentMode.MANUAL, AssignmentMode.AUTO, AssignmentMode.REQUIRED}),
            dom0_backend_only=True,
            passthrough=True,
        ),
        DeviceClass("usb", "u", _no_options("usb")),
    )
}


def device_class(name: str) -> DeviceClass:
    try:
        return DEVICE_CLASSES[name]
    except KeyError:
        raise QubesValueError(f"unknown device class {name!r}") from None


def check_mode(devclass: DeviceClass, mode: AssignmentMode) -> None:
    if mode not in devclass.modes:
        allowed = ", ".join(sorted(m.value for m in devclass.modes))
        raise QubesValueError(
            f"{devclass.name} devices cannot be given in {mode.value!r} mode; allowed: {allowed}"
        )
