"""Where devices come from: one pluggable source per daemon.

A source answers, without blocking, which devices a backend qube exposes in one
device class right now, and tells its watchers when that list changes. The device
manager (``backend.devices.manager``) keeps attachments and fires the events.

Sources to come for real hardware (the same interface):

* PCI in dom0: pyudev over ``/sys/bus/pci/devices`` (vendor, device, class,
  the bridge path for the port id), refreshed on udev ``add``/``remove``;
* usb and block in a backend qube: its QubesDB ``/qubes-usb-devices/`` and
  ``/qubes-block-devices/`` trees, re-read on ``domain-qdb-change``;
* the microphone: dom0's audio qube.

This module has the interface and the source that exposes nothing;
``backend.devices.simulated`` has the demo's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .model import DeviceInfo

#: watcher(backend name, device class): that backend's list in that class changed
Watcher = Callable[[str, str], None]


class DeviceSource(Protocol):
    def exposed(self, backend: Any, devclass: str) -> list[DeviceInfo]:
        """The devices ``backend`` (a qube) exposes now, ``attachment`` left empty.

        Called on the event loop for every listing: it must answer from memory.
        """
        ...

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher`` on every change of a list; returns "stop watching"."""
        ...


class Watchers:
    """The watcher list a source keeps (a helper for implementations)."""

    def __init__(self) -> None:
        self._watchers: list[Watcher] = []

    def add(self, watcher: Watcher) -> Callable[[], None]:
        self._watchers.append(watcher)

        def remove() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return remove

    def notify(self, backend: str, devclass: str) -> None:
        for watcher in list(self._watchers):
            watcher(backend, devclass)


class NullSource:
    """No devices at all: for hosts where no real source is wired up yet."""

    def __init__(self) -> None:
        self._watchers = Watchers()

    def exposed(self, backend: Any, devclass: str) -> list[DeviceInfo]:
        return []

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        return self._watchers.add(watcher)
