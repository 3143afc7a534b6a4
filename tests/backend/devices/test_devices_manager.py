"""The device manager: rules for assigning and attaching, and the events it fires."""

from __future__ import annotations

import pytest

from backend.devices.model import Assignment, AssignmentMode, VirtualDevice
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

from .conftest import Devices

RECEIVER = "046d:c52b::u030101u030102u030000"
WIFI = VirtualDevice("pci", "dom0", "00_14.3", "0x8086:0x51f0::p028000")


def usb(port: str = "2-1", device_id: str = "*") -> VirtualDevice:
    return VirtualDevice("usb", "sys-usb", port, device_id)


def manual(device: VirtualDevice, **options: str) -> Assignment:
    return Assignment(device, None, AssignmentMode.MANUAL, options)


def test_backend_devices_show_only_while_it_runs(devices: Devices) -> None:
    sys_usb = devices.vm("sys-usb")
    assert devices.manager.exposed(sys_usb, "usb") == []
    devices.start("sys-usb")
    assert [d.port_id for d in devices.manager.exposed(sys_usb, "usb")] == ["2-1", "2-2", "3-1"]
    added = [(s, e, v["device"]) for s, e, v in devices.recorder.device_events()
             if e == "device-added:usb"]
    assert added[0] == ("sys-usb", "device-added:usb", f"sys-usb:2-1:{RECEIVER}")


def test_attach_marks_the_device_and_fires_events(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.start("work")
    devices.recorder.clear()
    devices.manager.attach(work, manual(usb()))
    assert [(s, e) for s, e, _ in devices.recorder.device_events()] == [
        ("work", "device-pre-attach:usb"), ("work", "device-attach:usb")]
    assert devices.recorder.events[-1][2] == {"device": f"sys-usb:2-1:{RECEIVER}", "options": "{}"}
    [shown] = [d for d in devices.manager.exposed(devices.vm("sys-usb"), "usb")
               if d.port_id == "2-1"]
    assert shown.attachment == "work"
    [attached] = devices.manager.attached(work, "usb")
    assert attached.mode is AssignmentMode.MANUAL and attached.device_id == RECEIVER


def test_attach_refusals_change_nothing(devices: Devices) -> None:
    devices.start("sys-usb")
    work, vault = devices.start("work"), devices.vm("vault")
    with pytest.raises(QubesVMNotRunningError):
        devices.manager.attach(vault, manual(usb()))
    with pytest.raises(DeviceNotFound, match="no usb device in port sys-usb:9-9"):
        devices.manager.attach(work, manual(usb("9-9")))
    with pytest.raises(UnrecognizedDevice):
        devices.manager.attach(work, manual(usb("2-1", "dead:beef::u000000")))
    with pytest.raises(QubesValueError, match="no options"):
        devices.manager.attach(work, manual(usb(), ro="yes"))
    work.set("devices_denied", "u03****")
    with pytest.raises(PermissionDenied, match="u03"):
        devices.manager.attach(work, manual(usb()))
    assert devices.manager.attached(work, "usb") == []


def test_a_device_is_attached_to_one_qube_at_a_time(devices: Devices) -> None:
    devices.start("sys-usb")
    work, personal = devices.start("work"), devices.start("personal")
    devices.manager.attach(work, manual(usb()))
    with pytest.raises(DeviceAlreadyAttached, match="attached to work"):
        devices.manager.attach(personal, manual(usb()))
    with pytest.raises(DeviceAlreadyAttached, match="attached there"):
        devices.manager.attach(work, manual(usb()))


def test_device_id_alone_finds_the_device(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.start("work")
    device = devices.manager.attach(work, manual(usb("*", RECEIVER)))
    assert device.port_id == "2-1"


def test_detach_fires_with_the_port(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.start("work")
    devices.manager.attach(work, manual(usb()))
    devices.recorder.clear()
    devices.manager.detach(work, usb())
    assert devices.recorder.device_events() == [
        ("work", "device-pre-detach:usb", {"port": "sys-usb:2-1"}),
        ("work", "device-detach:usb", {"port": "sys-usb:2-1"})]
    with pytest.raises(DeviceNotAssigned):
        devices.manager.detach(work, usb())


def test_required_device_stays_while_the_qube_runs(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.vm("work")
    devices.manager.assign(work, Assignment(usb("2-1", RECEIVER), None, AssignmentMode.REQUIRED))
    devices.start("work")
    assert [a.mode for a in devices.manager.attached(work, "usb")] == [AssignmentMode.REQUIRED]
    with pytest.raises(QubesVMNotHaltedError, match="required"):
        devices.manager.detach(work, usb())
    devices.manager.unassign(work, usb("2-1", RECEIVER))
    devices.manager.detach(work, usb())
    assert devices.manager.attached(work, "usb") == []


def test_start_attaches_auto_assignments_but_not_ask(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.vm("work")
    devices.manager.assign(work, Assignment(usb("2-1"), None, AssignmentMode.AUTO))
    devices.manager.assign(work, Assignment(usb("2-2"), None, AssignmentMode.ASK))
    devices.start("work")
    assert [a.port_id for a in devices.manager.attached(work, "usb")] == ["2-1"]


def test_stopping_frontend_or_backend_detaches(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.start("work")
    devices.manager.attach(work, manual(usb()))
    devices.stop("work")
    assert devices.manager.attached(work, "usb") == []
    devices.start("work")
    devices.manager.attach(work, manual(usb()))
    devices.recorder.clear()
    devices.stop("sys-usb")
    events = [(s, e) for s, e, _ in devices.recorder.device_events()]
    assert ("work", "device-detach:usb") in events
    assert ("sys-usb", "device-removed:usb") in events
    assert devices.manager.attached(work, "usb") == []


def test_plugged_device_goes_to_the_one_qube_that_wants_it(devices: Devices) -> None:
    devices.start("sys-usb")
    work = devices.start("work")
    stick = next(d for d in devices.manager.exposed(devices.vm("sys-usb"), "usb")
                 if d.port_id == "3-1")
    devices.manager.assign(work, Assignment(usb("*", stick.device_id), None, AssignmentMode.AUTO))
    devices.source.unplug("sys-usb", "usb", "3-1")
    assert devices.manager.attached(work, "usb") == []
    devices.source.plug(stick)
    assert [a.port_id for a in devices.manager.attached(work, "usb")] == ["3-1"]
    # two qubes want it: nobody gets it without asking the user
    personal = devices.start("personal")
    devices.manager.assign(personal, Assignment(usb("3-1"), None, AssignmentMode.AUTO))
    devices.source.unplug("sys-usb", "usb", "3-1")
    devices.source.plug(stick)
    assert devices.manager.attached(work, "usb") == devices.manager.attached(personal, "usb") == []


def test_assign_rules(devices: Devices) -> None:
    work = devices.vm("work")
    auto = Assignment(usb(), None, AssignmentMode.AUTO)
    devices.manager.assign(work, auto)
    with pytest.raises(DeviceAlreadyAssigned):
        devices.manager.assign(work, auto)
    with pytest.raises(QubesValueError, match="only auto-attach"):
        devices.manager.assign(work, manual(usb("2-2")))
    with pytest.raises(QubesValueError, match="own"):
        devices.manager.assign(devices.vm("sys-usb"), Assignment(usb("2-2"), None,
                                                                  AssignmentMode.AUTO))
    assert [r.port_id for r in work.devices["usb"]] == ["2-1"]


def test_pci_rules(devices: Devices) -> None:
    work = devices.vm("work")
    required = Assignment(WIFI, None, AssignmentMode.REQUIRED)
    with pytest.raises(QubesValueError, match="from dom0 only"):
        devices.manager.assign(work, Assignment(VirtualDevice("pci", "sys-usb", "00_01.0"), None,
                                                AssignmentMode.REQUIRED))
    with pytest.raises(QubesValueError, match="dom0"):
        devices.manager.assign(devices.vm("dom0"), required)
    work.set("virt_mode", "pvh")
    with pytest.raises(QubesValueError, match="pvh"):
        devices.manager.assign(work, required)
    work.reset("virt_mode")
    with pytest.raises(QubesValueError, match="pvh"):  # not required: default stays pvh
        devices.manager.assign(work, Assignment(WIFI, None, AssignmentMode.AUTO))
    devices.start("work")
    with pytest.raises(QubesVMNotHaltedError, match="halted"):
        devices.manager.assign(work, required)
    devices.stop("work")
    devices.manager.assign(work, required)
    assert work.get("virt_mode") == "hvm"


def test_set_mode_fires_only_on_change(devices: Devices) -> None:
    work = devices.vm("work")
    devices.manager.assign(work, Assignment(usb(), None, AssignmentMode.AUTO))
    devices.recorder.clear()
    devices.manager.set_mode(work, usb(), AssignmentMode.AUTO)
    assert devices.recorder.device_events() == []
    devices.manager.set_mode(work, usb(), AssignmentMode.ASK)
    assert devices.recorder.device_events()[-1] == (
        "work", "device-assignment-changed:usb", {"device": "sys-usb:2-1:*"})
    assert work.devices["usb"][0].mode == "ask-to-attach"
    with pytest.raises(DeviceNotAssigned):
        devices.manager.set_mode(work, usb("2-2"), AssignmentMode.AUTO)
