"""A small model with the demo's simulated devices, a device manager and its reactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.devices.manager import DeviceManager
from backend.devices.reactions import DeviceReactions
from backend.devices.simulated import SimulatedSource, demo_devices
from backend.model.app import Qubes
from backend.model.vm import PowerState


class Recorder:
    """Every event as (subject name, event, {key: str(value)})."""

    def __init__(self) -> None:
        self.events: list[tuple[str | None, str, dict[str, str]]] = []

    def __call__(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        values = {key: str(value) for key, value in kwargs.items()}
        self.events.append((None if subject is None else str(subject), event, values))

    def device_events(self) -> list[tuple[str | None, str, dict[str, str]]]:
        return [e for e in self.events if e[1].startswith("device-")]

    def clear(self) -> None:
        self.events.clear()


class Devices:
    """The manager and what a test needs around it."""

    def __init__(self) -> None:
        app = Qubes()
        app.create_adminvm()
        app.add_new_vm("TemplateVM", "fedora", "black")
        app.globals.set("default_template", "fedora")
        for name in ("sys-usb", "work", "personal", "vault"):
            app.add_new_vm("AppVM", name, "red", properties={"netvm": None})
        self.app = app
        self.source = SimulatedSource(demo_devices())
        self.manager = DeviceManager(app, self.source)
        self.reactions = DeviceReactions(self.manager)
        self.recorder = Recorder()
        app.events.subscribe(self.recorder)

    def vm(self, name: str) -> Any:
        return self.app.domains[name]

    def start(self, name: str) -> Any:
        vm = self.vm(name)
        vm.power_state = PowerState.RUNNING
        vm.fire("domain-start", start_guid="test")
        return vm

    def stop(self, name: str) -> Any:
        vm = self.vm(name)
        vm.power_state = PowerState.HALTED
        vm.fire("domain-shutdown")
        return vm


@pytest.fixture
def devices() -> Iterator[Devices]:
    world = Devices()
    yield world
    world.reactions.close()
