"""What devices do when qubes start and stop and when a backend's list changes.

core-model.md §7.3: a frontend that starts gets its ``required`` and ``auto-attach``
assignments attached (most specific first); a backend that starts or reports a new
device announces ``device-added`` and the device goes to the one running frontend
that has it assigned; a frontend that stops loses its attachments
(``device-detach``); a backend that stops, or a device that goes away, is
``device-removed`` and detached from whoever had it.

``ask-to-attach``, and a device several running qubes want, need the user: upstream
asks through the ``device-agent.GUI`` service of the GUI qube. That agent does not
exist here yet, so such devices are left unattached (and logged).

Reactions run right after the event that caused them (``call_soon``), so that every
listener sees ``domain-start`` before the ``device-attach`` it leads to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from backend.errors import QubesException

from .classes import device_class
from .manager import DeviceManager
from .model import Assignment, AssignmentMode, DeviceInfo

log = logging.getLogger("backend.devices")

_AUTOMATIC = (AssignmentMode.AUTO, AssignmentMode.REQUIRED)


class DeviceReactions:
    """Subscribes to the app's events and the device source for one manager."""

    def __init__(self, manager: DeviceManager) -> None:
        self.manager = manager
        self.app = manager.app
        #: what each backend was last known to expose, per class (to tell what changed)
        self._seen: dict[tuple[Any, str], dict[str, DeviceInfo]] = {}
        for vm in self.app.domains:
            for devclass in manager.classes():
                self._remember(vm, devclass, self._current(vm, devclass))
        self._unsubscribe = [
            self.app.events.subscribe(self._on_event),
            manager.source.watch(self._on_source_change),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # --- wiring ---------------------------------------------------------------------------
    @staticmethod
    def _soon(func: Callable[..., None], *args: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): react at once
            func(*args)
            return
        loop.call_soon(func, *args)

    def _on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        if event == "domain-start" and subject is not None:
            self._soon(self.started, subject)
        elif event == "domain-shutdown" and subject is not None:
            self._soon(self.stopped, subject)
        elif event == "domain-delete" and "vm" in kwargs:
            self._soon(self.deleted, kwargs["vm"])

    def _on_source_change(self, backend: str, devclass: str) -> None:
        def refresh() -> None:
            vm = _lookup(self.app, backend)
            if vm is not None:
                self.refresh(vm, devclass)

        self._soon(refresh)

    # --- reactions ------------------------------------------------------------------------
    def started(self, vm: Any) -> None:
        """``vm`` runs: as a backend its devices appear; as a frontend it gets its own."""
        if vm.is_halted():
            return  # stopped again before we got here
        for devclass in self.manager.classes():
            self.refresh(vm, devclass)
        for devclass in self.manager.classes():
            self._attach_assigned(vm, devclass)

    def stopped(self, vm: Any) -> None:
        for attachment in self.manager.attachments.all_of(vm):
            self.manager.disconnect(vm, attachment)
        for devclass in self.manager.classes():
            self.refresh(vm, devclass)

    def deleted(self, vm: Any) -> None:
        for attachment in self.manager.attachments.all_of(vm):
            self.manager.attachments.remove(vm, (attachment.devclass, attachment.backend,
                                                 attachment.port_id))
        for key in [key for key in self._seen if key[0] is vm]:
            del self._seen[key]

    def refresh(self, backend: Any, devclass: str) -> None:
        """Compare what ``backend`` exposes with what it did; announce and act on changes."""
        before = self._seen.get((backend, devclass), {})
        current = self._current(backend, devclass)
        if current == before:
            return
        self._remember(backend, devclass, current)
        backend.fire(f"device-list-change:{devclass}")
        gone = [d for port, d in before.items() if _replaced(current.get(port), d)]
        new = [d for port, d in current.items() if _replaced(before.get(port), d)]
        for device in gone:
            for frontend, attachment in list(self.manager.attachments.from_backend(
                    backend.name, devclass)):
                if attachment.port_id == device.port_id:
                    self.manager.disconnect(frontend, attachment)
            backend.fire(f"device-removed:{devclass}", port=device.port)
        for device in new:
            backend.fire(f"device-added:{devclass}", device=device)
        for device in new:
            self._give_to_frontend(device)

    # --- automatic attachment ---------------------------------------------------------------
    def _attach_assigned(self, frontend: Any, devclass: str) -> None:
        assignments = sorted(self.manager.assigned(frontend, devclass),
                             key=lambda a: a.device.specificity, reverse=True)
        for assignment in assignments:
            if assignment.mode not in _AUTOMATIC:
                continue
            backend = _lookup(self.app, assignment.backend)
            if backend is None:
                continue
            for device in self.manager.source.exposed(backend, devclass):
                if assignment.device.matches(device):
                    self._try_attach(frontend, device, assignment)

    def _give_to_frontend(self, device: DeviceInfo) -> None:
        wanting = []
        for vm in self.app.domains:
            if vm.name == device.backend or vm.is_halted():
                continue
            covering = self.manager.covering(vm, device.virtual)
            if covering is not None and covering.mode is not AssignmentMode.MANUAL:
                wanting.append((vm, covering))
        if len(wanting) > 1 or any(a.mode is AssignmentMode.ASK for _, a in wanting):
            log.info("%s: left unattached, the user must choose (%s)", device,
                     ", ".join(vm.name for vm, _ in wanting))
            return
        for vm, assignment in wanting:
            self._try_attach(vm, device, assignment)

    def _try_attach(self, frontend: Any, device: DeviceInfo, assignment: Assignment) -> None:
        manager = self.manager
        if manager.attachments.holder(device.devclass, device.backend, device.port_id):
            return
        if manager.is_denied(frontend, device):
            log.info("%s: not attached to %s, denied by devices_denied", device, frontend.name)
            return
        try:
            options = device_class(device.devclass).check_options(assignment.options, device)
        except QubesException as exc:
            log.warning("%s: not attached to %s: %s", device, frontend.name, exc)
            return
        manager.connect(frontend, device, assignment.mode, options)

    # --- bookkeeping --------------------------------------------------------------------------
    def _current(self, backend: Any, devclass: str) -> dict[str, DeviceInfo]:
        return {d.port_id: d for d in self.manager.source.exposed(backend, devclass)}

    def _remember(self, backend: Any, devclass: str, devices: dict[str, DeviceInfo]) -> None:
        if devices:
            self._seen[(backend, devclass)] = devices
        else:
            self._seen.pop((backend, devclass), None)


def _replaced(other: DeviceInfo | None, device: DeviceInfo) -> bool:
    """Whether ``device`` is not (the same device) in ``other``'s port."""
    return other is None or other.device_id != device.device_id


def _lookup(app: Any, name: str) -> Any:
    try:
        return app.domains[name]
    except KeyError:
        return None
