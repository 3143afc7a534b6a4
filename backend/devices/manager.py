"""The daemon's device manager: listings, assignments, attachments and their events.

Persistent assignments live in the model (``vm.devices``, saved in qubes.xml by the
caller's commit); attachments live in memory (:mod:`.attachments`). Every change is
checked in full before anything changes, then announced with upstream's events on
the frontend qube: ``device-pre-assign``/``device-assign``, ``device-unassign``,
``device-assignment-changed``, ``device-pre-attach``/``device-attach``,
``device-pre-detach``/``device-detach`` (``:<class>`` appended). What happens when
qubes start and stop, and when a backend's device list changes, is in
:mod:`.reactions`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from backend.errors import (
    DeviceAlreadyAssigned,
    DeviceAlreadyAttached,
    DeviceNotAssigned,
    DeviceNotFound,
    PermissionDenied,
    QubesValueError,
    QubesVMNotHaltedError,
    QubesVMNotRunningError,
    UnrecognizedDevice,
)
from backend.model.vm import AdminVM
from backend.model.vm import DeviceAssignment as StoredAssignment

from . import interfaces as ifc
from .attachments import Attachments, key_of
from .classes import DEVICE_CLASSES, DeviceClass, check_mode, device_class
from .model import Assignment, AssignmentMode, DeviceInfo, VirtualDevice
from .sources import DeviceSource
from .wire import ANY

log = logging.getLogger("backend.devices")


def stored(assignment: Assignment) -> StoredAssignment:
    return StoredAssignment(assignment.backend, assignment.port_id, assignment.device_id,
                            assignment.mode.value, dict(assignment.options))


def from_stored(frontend: str, devclass: str, record: StoredAssignment) -> Assignment:
    device = VirtualDevice(devclass, record.backend_domain, record.port_id, record.device_id)
    return Assignment(device, frontend, AssignmentMode.parse(record.mode), dict(record.options))


class DeviceManager:
    """One per daemon; every method runs on the event loop and answers from memory."""

    def __init__(self, app: Any, source: DeviceSource) -> None:
        self.app = app
        self.source = source
        self.attachments = Attachments()

    @staticmethod
    def classes() -> list[str]:
        return sorted(DEVICE_CLASSES)

    # --- listings ---------------------------------------------------------------------
    def exposed(self, backend: Any, devclass: str) -> list[DeviceInfo]:
        """The devices ``backend`` offers, each with the frontend it is attached to."""
        result = []
        for device in self.source.exposed(backend, devclass):
            holder = self.attachments.holder(devclass, device.backend, device.port_id)
            if holder is not None:
                device = _with_attachment(device, holder.name)
            result.append(device)
        return result

    def device_at(self, backend: Any, devclass: str, port_id: str) -> DeviceInfo | None:
        for device in self.source.exposed(backend, devclass):
            if device.port_id == port_id:
                return device
        return None

    def assigned(self, frontend: Any, devclass: str) -> list[Assignment]:
        return [from_stored(frontend.name, devclass, record)
                for record in frontend.devices.get(devclass, ())]

    def attached(self, frontend: Any, devclass: str) -> list[Assignment]:
        """Attachments, with the mode of the assignment that covers them if any."""
        result = []
        for attachment in self.attachments.of(frontend, devclass):
            covering = self.covering(frontend, attachment.device)
            if covering is not None:
                attachment = Assignment(attachment.device, attachment.frontend, covering.mode,
                                        attachment.options)
            result.append(attachment)
        return result

    def covering(self, frontend: Any, device: VirtualDevice) -> Assignment | None:
        """The most specific assignment of ``frontend`` that matches ``device``."""
        info = DeviceInfo(device.devclass, device.backend, device.port_id, device.device_id)
        matching = [a for a in self.assigned(frontend, device.devclass) if a.device.matches(info)]
        return max(matching, key=lambda a: a.device.specificity, default=None)

    # --- persistent assignments -----------------------------------------------------------
    def assign(self, frontend: Any, assignment: Assignment) -> None:
        """Add a persistent assignment (not attaching anything now)."""
        cls = device_class(assignment.devclass)
        if not assignment.mode.automatic:
            raise QubesValueError("only auto-attach, ask-to-attach and required devices can be "
                                  "assigned; attach the device instead for a one-off use")
        check_mode(cls, assignment.mode)
        self._check_backend(cls, frontend, assignment.backend)
        if self._find_assigned(frontend, assignment.device) is not None:
            raise DeviceAlreadyAssigned(
                f"{cls.name} device {assignment.device} is already assigned to {frontend.name}")
        if cls.passthrough:
            self._check_passthrough(cls, frontend, assignment.mode)
            if frontend.is_running():
                raise QubesVMNotHaltedError(
                    f"{frontend.name}: {cls.name} devices can be assigned only while the qube "
                    "is halted")
        device = None
        if assignment.port_id != ANY:
            device = self.device_at(self.app.domains[assignment.backend], cls.name,
                                    assignment.port_id)
        options = cls.check_options(assignment.options, device)
        assignment = Assignment(assignment.device, frontend.name, assignment.mode, options)
        frontend.fire(f"device-pre-assign:{cls.name}", device=assignment.device, options=options)
        frontend.devices[cls.name] = [*frontend.devices.get(cls.name, ()), stored(assignment)]
        frontend.fire(f"device-assign:{cls.name}", device=assignment.device, options=options)

    def unassign(self, frontend: Any, device: VirtualDevice) -> None:
        found = self._find_assigned(frontend, device)
        if found is None:
            raise DeviceNotAssigned(
                f"{device.devclass} device {device} is not assigned to {frontend.name}")
        remaining = [r for r in frontend.devices.get(device.devclass, ()) if r is not found]
        if remaining:
            frontend.devices[device.devclass] = remaining
        else:
            frontend.devices.pop(device.devclass, None)
        frontend.fire(f"device-unassign:{device.devclass}", device=device)

    def set_mode(self, frontend: Any, device: VirtualDevice, mode: AssignmentMode) -> None:
        cls = device_class(device.devclass)
        if not mode.automatic:
            raise QubesValueError("an assignment cannot be changed to manual; unassign it")
        check_mode(cls, mode)
        found = self._find_assigned(frontend, device)
        if found is None:
            raise DeviceNotAssigned(
                f"{cls.name} device {device} is not assigned to {frontend.name}")
        if found.mode == mode.value:
            return
        if cls.passthrough:
            self._check_passthrough(cls, frontend, mode)
        changed = StoredAssignment(found.backend_domain, found.port_id, found.device_id,
                                   mode.value, dict(found.options))
        frontend.fire(f"device-pre-assign:{cls.name}", device=device, options=dict(found.options))
        frontend.devices[cls.name] = [changed if r is found else r
                                      for r in frontend.devices[cls.name]]
        frontend.fire(f"device-assignment-changed:{cls.name}", device=device)

    def _find_assigned(self, frontend: Any, device: VirtualDevice) -> StoredAssignment | None:
        records: list[StoredAssignment] = frontend.devices.get(device.devclass, [])
        for record in records:
            if (record.backend_domain, record.port_id, record.device_id) == (
                    device.backend, device.port_id, device.device_id):
                return record
        return None

    # --- attachments ----------------------------------------------------------------------
    def attach(self, frontend: Any, assignment: Assignment) -> DeviceInfo:
        """Attach one present device to a running qube now."""
        cls = device_class(assignment.devclass)
        check_mode(cls, assignment.mode)
        if frontend.is_halted():
            raise QubesVMNotRunningError(
                f"{frontend.name} is not running, cannot attach a device; assign it instead")
        backend = self.app.domains[assignment.backend]
        self._check_backend(cls, frontend, backend.name)
        device = self._resolve(backend, assignment.device)
        holder = self.attachments.holder(cls.name, device.backend, device.port_id)
        if holder is not None:
            where = "there" if holder is frontend else f"to {holder.name}"
            raise DeviceAlreadyAttached(f"{cls.name} device {device} is already attached {where}")
        if cls.passthrough:
            self._check_passthrough(cls, frontend, assignment.mode)
        self._check_denied(frontend, device)
        options = cls.check_options(assignment.options, device)
        self.connect(frontend, device, assignment.mode, options)
        return device

    def connect(self, frontend: Any, device: DeviceInfo, mode: AssignmentMode,
                options: dict[str, str]) -> None:
        """Record an attachment that passed every check, with its events."""
        frontend.fire(f"device-pre-attach:{device.devclass}", device=device, options=options)
        self.attachments.add(frontend, Assignment(device.virtual, frontend.name, mode, options))
        frontend.fire(f"device-attach:{device.devclass}", device=device, options=options)

    def detach(self, frontend: Any, device: VirtualDevice) -> None:
        attachment = self.attachments.find(frontend, device.devclass, device.backend,
                                           device.port_id, device.device_id)
        if attachment is None:
            raise DeviceNotAssigned(
                f"{device.devclass} device {device} is not attached to {frontend.name}")
        covering = self.covering(frontend, attachment.device)
        if (covering is not None and covering.mode is AssignmentMode.REQUIRED
                and not frontend.is_halted()):
            raise QubesVMNotHaltedError(
                f"{frontend.name}: cannot detach a required device from a qube that is not "
                "halted; unassign the device first")
        self.disconnect(frontend, attachment)

    def disconnect(self, frontend: Any, attachment: Assignment) -> None:
        """Drop an attachment, with its events."""
        port = attachment.device.port
        frontend.fire(f"device-pre-detach:{attachment.devclass}", port=port)
        self.attachments.remove(frontend, key_of(attachment))
        frontend.fire(f"device-detach:{attachment.devclass}", port=port)

    # --- checks ---------------------------------------------------------------------------
    def _resolve(self, backend: Any, wanted: VirtualDevice) -> DeviceInfo:
        """The one present device ``wanted`` names (port, device id, or both)."""
        if wanted.port_id != ANY:
            device = self.device_at(backend, wanted.devclass, wanted.port_id)
            if device is None:
                why = "exposes nothing there" if backend.is_running() else "is not running"
                raise DeviceNotFound(
                    f"no {wanted.devclass} device in port {wanted.port} ({backend.name} {why})")
            if wanted.device_id not in (ANY, device.device_id):
                raise UnrecognizedDevice(
                    f"the device in port {wanted.port} is {device.device_id!r}, "
                    f"not {wanted.device_id!r}")
            return device
        if wanted.device_id == ANY:
            raise DeviceNotFound("name the port or the identity of the device to attach")
        found = [d for d in self.source.exposed(backend, wanted.devclass)
                 if d.device_id == wanted.device_id]
        if len(found) != 1:
            problem = "no such device" if not found else "several devices match; name the port"
            raise DeviceNotFound(f"{wanted}: {problem}")
        return found[0]

    @staticmethod
    def _check_backend(cls: DeviceClass, frontend: Any, backend: str) -> None:
        if backend == frontend.name:
            raise QubesValueError(f"{frontend.name} cannot be given its own {cls.name} devices")
        if cls.dom0_backend_only and backend != "dom0":
            raise QubesValueError(f"{cls.name} devices come from dom0 only, not from {backend}")

    @staticmethod
    def _check_passthrough(cls: DeviceClass, frontend: Any, mode: AssignmentMode) -> None:
        if isinstance(frontend, AdminVM):
            raise QubesValueError(f"{cls.name} devices cannot be given to dom0")
        explicit_pvh = not frontend.is_default("virt_mode") and frontend.get("virt_mode") == "pvh"
        # a required PCI device turns the default virt_mode into hvm; other modes do not
        implicit_pvh = mode is not AssignmentMode.REQUIRED and frontend.get("virt_mode") == "pvh"
        if explicit_pvh or implicit_pvh:
            raise QubesValueError(
                f"{frontend.name} runs in pvh mode, which cannot use {cls.name} devices; "
                "set virt_mode to hvm first")

    @staticmethod
    def _check_denied(frontend: Any, device: DeviceInfo) -> None:
        pattern = ifc.denied_by(frontend.get("devices_denied") or "",
                                device.interfaces or (ifc.UNKNOWN,))
        if pattern is not None:
            raise PermissionDenied(
                f"{device.devclass} device {device} is denied to {frontend.name} "
                f"(devices_denied has {pattern})")

    def is_denied(self, frontend: Any, device: DeviceInfo) -> bool:
        try:
            self._check_denied(frontend, device)
        except PermissionDenied:
            return True
        return False


def _with_attachment(device: DeviceInfo, frontend: str) -> DeviceInfo:
    return replace(device, attachment=frontend)
