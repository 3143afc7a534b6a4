"""Devices, ports and assignments, and the lines the Admin API lists them in.

* :class:`Port` — where a device sits: backend qube, port id, device class.
* :class:`VirtualDevice` — a port and a device id, either of them ``*`` (any).
* :class:`DeviceInfo` — what a backend exposes: identity, descriptions, interfaces.
* :class:`Assignment` — a device given to a frontend qube, with a mode and options.

Lines: ``Available`` answers ``<port_id>:<device_id> <DeviceInfo props>``;
``Assigned`` and ``Attached`` answer ``<backend>+<port_id>:<device_id> <assignment
props>`` (admin-api.md §1.7, core-model.md §7). Events show a device as
``backend:port:device_id`` and a port as ``backend:port`` (``str()`` here).

Pure code: the client imports it without the daemon.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from backend.errors import (
    ProtocolError,
    QubesUnrecognizedDeviceAssignmentMode,
    UnexpectedDeviceProperty,
)

from . import interfaces as ifc
from .wire import (
    ANY,
    check_device_id,
    check_port_id,
    format_qarg,
    pack_properties,
    split_options,
    unpack_properties,
)

#: the identity of a device that does not tell one (upstream's placeholder)
UNKNOWN_DEVICE_ID = "0000:0000::?******"
_DESCRIPTIONS = ("vendor", "product", "manufacturer", "name", "serial")


class AssignmentMode(enum.StrEnum):
    """How a device is given to a qube; only the automatic modes are persisted."""

    MANUAL = "manual"  # a one-off attach
    ASK = "ask-to-attach"  # the user is asked when the device appears
    AUTO = "auto-attach"  # attached whenever device and qube are both there
    REQUIRED = "required"  # attached at start; the qube does not start without it

    @classmethod
    def parse(cls, text: str) -> AssignmentMode:
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(mode.value for mode in cls)
            raise QubesUnrecognizedDeviceAssignmentMode(
                f"unknown assignment mode {text!r}; expected one of {allowed}"
            ) from None

    @property
    def automatic(self) -> bool:
        return self is not AssignmentMode.MANUAL


@dataclass(frozen=True, slots=True)
class Port:
    backend: str
    port_id: str
    devclass: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.port_id}"


@dataclass(frozen=True, slots=True)
class VirtualDevice:
    """A device as assignments name it: either field may be ``*``."""

    devclass: str
    backend: str
    port_id: str = ANY
    device_id: str = ANY

    @property
    def port(self) -> Port:
        return Port(self.backend, self.port_id, self.devclass)

    @property
    def qarg(self) -> str:
        return format_qarg(self.backend, self.port_id, self.device_id)

    def __str__(self) -> str:
        return f"{self.backend}:{self.port_id}:{self.device_id}"

    def matches(self, device: DeviceInfo) -> bool:
        """Same class and backend, and port and id equal where not ``*``."""
        return (
            self.devclass == device.devclass
            and self.backend == device.backend
            and self.port_id in (ANY, device.port_id)
            and self.device_id in (ANY, device.device_id)
        )

    @property
    def specificity(self) -> int:
        """3 port+id, 2 port only, 1 id only, 0 neither: the most specific match wins."""
        return (2 if self.port_id != ANY else 0) + (1 if self.device_id != ANY else 0)

    def serialize_pairs(self) -> list[tuple[str, str | None]]:
        return [
            ("device_id", self.device_id),
            ("port_id", self.port_id),
            ("devclass", self.devclass),
            ("backend_domain", self.backend),
        ]


@dataclass(frozen=True)
class DeviceInfo:
    """One device a backend exposes (descriptions None when the device does not say)."""

    devclass: str
    backend: str
    port_id: str
    device_id: str = UNKNOWN_DEVICE_ID
    vendor: str | None = None
    product: str | None = None
    manufacturer: str | None = None
    name: str | None = None
    serial: str | None = None
    interfaces: tuple[str, ...] = ()
    parent_port_id: str | None = None
    parent_devclass: str | None = None
    attachment: str | None = None  # the frontend qube using it now
    data: Mapping[str, str] = field(default_factory=dict)  # class-specific, sent as _key

    @property
    def port(self) -> Port:
        return Port(self.backend, self.port_id, self.devclass)

    @property
    def virtual(self) -> VirtualDevice:
        return VirtualDevice(self.devclass, self.backend, self.port_id, self.device_id)

    @property
    def parent(self) -> Port | None:
        if self.parent_port_id is None:
            return None
        return Port(self.backend, self.parent_port_id, self.parent_devclass or self.devclass)

    def __str__(self) -> str:
        return f"{self.backend}:{self.port_id}:{self.device_id}"

    @property
    def description(self) -> str:
        """``Category: vendor product`` for lists and menus."""
        product = self.product or self.name or self.serial
        if product is None and self.parent is not None:
            return f"sub-device of {self.parent}"
        vendor = self.vendor or self.manufacturer or "unknown vendor"
        codes = self.interfaces or (ifc.UNKNOWN,)
        kind = ifc.category(codes[0]).name.replace("_", " ").title()
        return f"{kind}: {vendor} {product or f'unknown {self.devclass} device'}"

    def serialize(self) -> str:
        pairs = self.virtual.serialize_pairs()
        pairs += [(key, getattr(self, key)) for key in _DESCRIPTIONS]
        pairs += [
            ("attachment", self.attachment),
            ("interfaces", "".join(self.interfaces or (ifc.UNKNOWN,))),
            ("parent_port_id", self.parent_port_id),
            ("parent_devclass", self.parent_devclass if self.parent_port_id else None),
        ]
        pairs += [(f"_{key}", value) for key, value in self.data.items()]
        return pack_properties(pairs)

    def line(self) -> str:
        """The ``Available`` line (without newline)."""
        return f"{self.port_id}:{self.device_id} {self.serialize()}"


@dataclass(frozen=True)
class Assignment:
    """A device given to ``frontend`` (None while it is being parsed without one)."""

    device: VirtualDevice
    frontend: str | None = None
    mode: AssignmentMode = AssignmentMode.MANUAL
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def devclass(self) -> str:
        return self.device.devclass

    @property
    def backend(self) -> str:
        return self.device.backend

    @property
    def port_id(self) -> str:
        return self.device.port_id

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def __str__(self) -> str:
        return str(self.device)

    def serialize(self) -> str:
        pairs = self.device.serialize_pairs()
        pairs += [("mode", self.mode.value), ("frontend_domain", self.frontend)]
        pairs += [(f"_{key}", value) for key, value in self.options.items()]
        return pack_properties(pairs)

    def line(self) -> str:
        """The ``Assigned`` / ``Attached`` line (without newline)."""
        return f"{self.backend}+{self.port_id}:{self.device_id} {self.serialize()}"


# --- reading ------------------------------------------------------------------------------


def _check_basics(props: dict[str, str], expected: VirtualDevice) -> str:
    """Refuse a backend, port or class other than expected; return the device id."""
    for key, want in (
        ("backend_domain", expected.backend),
        ("port_id", expected.port_id),
        ("devclass", expected.devclass),
    ):
        got = props.pop(key, want)
        if got != want and want != ANY:
            raise UnexpectedDeviceProperty(f"got {key} {got!r} where {want!r} was expected")
    device_id = props.pop("device_id", expected.device_id)
    if expected.device_id not in (ANY, device_id):
        raise UnexpectedDeviceProperty(
            f"unrecognized device identity {device_id!r}, expected {expected.device_id!r}"
        )
    return check_device_id(device_id)


def parse_device(line: str, backend: str, devclass: str) -> DeviceInfo:
    """One ``Available`` line of ``backend``; unknown plain keys are ignored."""
    head, _, rest = line.partition(" ")
    port_id, _, device_id = head.partition(":")
    expected = VirtualDevice(devclass, backend, check_port_id(port_id), device_id or ANY)
    plain, data = split_options(unpack_properties(rest))
    device_id = _check_basics(plain, expected)
    if device_id == ANY:  # a device that does not tell its identity
        device_id = UNKNOWN_DEVICE_ID
    parent = plain.get("parent_port_id")
    return DeviceInfo(
        devclass,
        backend,
        port_id,
        device_id,
        **{key: plain.get(key) for key in _DESCRIPTIONS},
        interfaces=ifc.split_codes(plain.get("interfaces", "")),
        parent_port_id=parent,
        parent_devclass=plain.get("parent_devclass") if parent else None,
        attachment=plain.get("attachment") or None,
        data=data,
    )


def parse_assignment(
    text: str, expected: VirtualDevice, frontend: str | None = None, *, strict: bool = False
) -> Assignment:
    """Assignment properties (no line head) for ``expected``.

    A device id given in ``text`` fills in a ``*`` of ``expected``. With ``strict``
    (the server reading a payload) unknown keys are refused.
    """
    plain, options = split_options(unpack_properties(text))
    device_id = _check_basics(plain, expected)
    mode = AssignmentMode.parse(plain.pop("mode", AssignmentMode.MANUAL.value))
    given_frontend = plain.pop("frontend_domain", frontend)
    if frontend is not None and given_frontend != frontend:
        raise UnexpectedDeviceProperty(
            f"assignment is for {given_frontend!r}, not for {frontend!r}"
        )
    if strict and plain:
        raise ProtocolError(f"unexpected assignment property {sorted(plain)[0]!r}")
    device = VirtualDevice(expected.devclass, expected.backend, expected.port_id, device_id)
    return Assignment(device, given_frontend, mode, options)


def parse_assignment_line(line: str, devclass: str, frontend: str | None = None) -> Assignment:
    """One ``Assigned`` / ``Attached`` line: ``backend+port:device_id props``."""
    head, _, rest = line.partition(" ")
    backend, plus, port_and_id = head.partition("+")
    port_id, _, device_id = port_and_id.partition(":")
    if not backend or not plus:
        raise ProtocolError(f"expected <backend>+<port>:<device id>, got {head!r}")
    expected = VirtualDevice(devclass, backend, check_port_id(port_id), device_id or ANY)
    return parse_assignment(rest, expected, frontend)


def parse_available(body: str, backend: str, devclass: str) -> list[DeviceInfo]:
    return [parse_device(line, backend, devclass) for line in body.splitlines() if line]


def parse_assignments(body: str, devclass: str, frontend: str | None = None) -> list[Assignment]:
    return [parse_assignment_line(line, devclass, frontend) for line in body.splitlines() if line]
