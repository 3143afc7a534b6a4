"""Admin API methods: devices (``admin.deviceclass.List``, ``admin.vm.device.*``).

Per class ``<cls>`` (``pci``, ``block``, ``usb``, ``mic``): ``Available[+port]`` on a
backend qube; ``Assigned`` / ``Attached`` ``[+backend+port]`` on a frontend;
``Assign`` / ``Attach`` ``+backend+port+device_id`` with the serialised assignment
as payload; ``Unassign`` / ``Detach`` with the same argument and no payload;
``Set.assignment`` with the new mode as payload. ``admin.vm.device.denied.List``,
``Add`` and ``Remove`` edit the qube's ``devices_denied`` property
(admin-api.md §1.7, §2.5; core-model.md §7).

:func:`register` also sets up ``daemon.devices`` (a :class:`DeviceManager`) and
``daemon.device_reactions`` (auto-attach and clean-up on qube start and stop).
"""

from __future__ import annotations

from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.devices import interfaces as ifc
from backend.devices.manager import DeviceManager
from backend.devices.model import AssignmentMode, VirtualDevice, parse_assignment
from backend.devices.reactions import DeviceReactions
from backend.devices.simulated import SimulatedSource, demo_devices
from backend.devices.sources import DeviceSource, NullSource
from backend.devices.wire import ANY, parse_qarg
from backend.errors import ProtocolError, QubesUnrecognizedDeviceAssignmentMode, QubesValueError

_SETTABLE_MODES = (AssignmentMode.REQUIRED, AssignmentMode.ASK, AssignmentMode.AUTO)


def device_source(daemon: Any) -> DeviceSource:
    """Simulated devices on libvirt's test driver (no hardware there); else none yet."""
    if str(getattr(daemon, "libvirt_uri", "")).startswith("test:"):
        return SimulatedSource(demo_devices())
    return NullSource()


def _text(payload: bytes) -> str:
    try:
        return payload.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("the payload must be ASCII text") from None


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table, and the device manager to the daemon."""
    manager = DeviceManager(daemon.app, device_source(daemon))
    daemon.devices = manager
    daemon.device_reactions = DeviceReactions(manager)
    classes = manager.classes

    def target(call: Call) -> VirtualDevice:
        """The device the argument names; its backend must be a qube."""
        backend, port_id, device_id = parse_qarg(call.arg)
        name = daemon.app.domains[backend].name
        return VirtualDevice(str(call.endpoint), name, port_id, device_id)

    def selected(call: Call, items: list[Any]) -> list[Any]:
        if not call.arg:
            return items
        backend, port_id, device_id = parse_qarg(call.arg)
        return [a for a in items if a.backend == backend and a.port_id == port_id
                and device_id in (ANY, a.device_id)]

    async def commit() -> None:
        await daemon.system.commit()

    @table.method("admin.deviceclass.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def deviceclass_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in classes())

    @table.method("admin.vm.device.{devclass}.Available", arg=Need.OPTIONAL,
                  payload=Need.NONE, dest=Dest.ANY, endpoints=classes)
    def available(call: Call) -> str:
        devices = manager.exposed(call.dest, str(call.endpoint))
        if call.arg:
            devices = [d for d in devices if d.port_id == call.arg]
        lines = {f"{d.port_id}:{d.device_id}": d.line() for d in devices}
        return "".join(f"{lines[key]}\n" for key in sorted(lines))

    def listing(items: list[Any]) -> str:
        lines = {f"{a.backend}+{a.port_id}:{a.device_id}": a.line() for a in items}
        return "".join(f"{lines[key]}\n" for key in sorted(lines))

    @table.method("admin.vm.device.{devclass}.Assigned", arg=Need.OPTIONAL,
                  payload=Need.NONE, dest=Dest.ANY, endpoints=classes)
    def assigned(call: Call) -> str:
        return listing(selected(call, manager.assigned(call.dest, str(call.endpoint))))

    @table.method("admin.vm.device.{devclass}.Attached", arg=Need.OPTIONAL,
                  payload=Need.NONE, dest=Dest.ANY, endpoints=classes)
    def attached(call: Call) -> str:
        return listing(selected(call, manager.attached(call.dest, str(call.endpoint))))

    @table.method("admin.vm.device.{devclass}.Assign", arg=Need.REQUIRED,
                  payload=Need.REQUIRED, dest=Dest.ANY, endpoints=classes)
    async def assign(call: Call) -> None:
        device = target(call)
        assignment = parse_assignment(_text(call.payload), device, call.dest.name, strict=True)
        manager.assign(call.dest, assignment)
        daemon.system.touch(call.dest)
        await commit()

    @table.method("admin.vm.device.{devclass}.Unassign", arg=Need.REQUIRED,
                  payload=Need.NONE, dest=Dest.ANY, endpoints=classes)
    async def unassign(call: Call) -> None:
        manager.unassign(call.dest, target(call))
        daemon.system.touch(call.dest)
        await commit()

    @table.method("admin.vm.device.{devclass}.Attach", arg=Need.REQUIRED,
                  payload=Need.OPTIONAL, dest=Dest.ANY, endpoints=classes)
    def attach(call: Call) -> None:
        device = target(call)
        assignment = parse_assignment(_text(call.payload), device, call.dest.name, strict=True)
        manager.attach(call.dest, assignment)

    @table.method("admin.vm.device.{devclass}.Detach", arg=Need.REQUIRED,
                  payload=Need.NONE, dest=Dest.ANY, endpoints=classes)
    def detach(call: Call) -> None:
        manager.detach(call.dest, target(call))

    @table.method("admin.vm.device.{devclass}.Set.assignment", arg=Need.REQUIRED,
                  payload=Need.REQUIRED, dest=Dest.ANY, endpoints=classes)
    async def set_assignment(call: Call) -> None:
        text = call.payload.decode("ascii", "replace")
        if text not in _SETTABLE_MODES:
            allowed = ", ".join(mode.value for mode in _SETTABLE_MODES)
            raise QubesUnrecognizedDeviceAssignmentMode(
                f"unknown assignment mode {text!r}; expected one of {allowed}")
        manager.set_mode(call.dest, target(call), AssignmentMode(text))
        daemon.system.touch(call.dest)
        await commit()

    register_denied(table, daemon)


def _interfaces(payload: bytes) -> list[str]:
    codes = list(ifc.split_patterns(_text(payload)))
    if len(set(codes)) != len(codes):
        raise QubesValueError("duplicated device interfaces in the payload")
    return codes


def register_denied(table: MethodTable, daemon: Any) -> None:
    """``admin.vm.device.denied.*``: the qube's ``devices_denied``, code by code."""

    def current(vm: Any) -> list[str]:
        return list(ifc.split_patterns(vm.get("devices_denied") or ""))

    async def store(vm: Any, codes: list[str]) -> None:
        if sorted(set(codes)) != sorted(current(vm)):  # the property keeps them sorted
            vm.set("devices_denied", "".join(codes))
            await daemon.system.commit()

    @table.method("admin.vm.device.denied.List", arg=Need.NONE, payload=Need.NONE,
                  dest=Dest.ANY)
    def denied_list(call: Call) -> str:
        # upstream joins the codes with newlines and ends without one
        return "\n".join(current(call.dest))

    @table.method("admin.vm.device.denied.Add", arg=Need.NONE, payload=Need.OPTIONAL,
                  dest=Dest.ANY)
    async def denied_add(call: Call) -> None:
        codes = current(call.dest)
        codes += [code for code in _interfaces(call.payload) if code not in codes]
        await store(call.dest, codes)

    @table.method("admin.vm.device.denied.Remove", arg=Need.NONE, payload=Need.OPTIONAL,
                  dest=Dest.ANY)
    async def denied_remove(call: Call) -> None:
        if call.payload == b"all":
            await store(call.dest, [])
            return
        removed = set(_interfaces(call.payload))
        await store(call.dest, [code for code in current(call.dest) if code not in removed])
