"""admin.deviceclass.List and admin.vm.device.* over the socket, byte by byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.model.vm import PowerState

from .conftest import EventReader, RunningDaemon

RECEIVER = "046d:c52b::u030101u030102u030000"
RECEIVER_PROPS = (f"device_id='{RECEIVER}' port_id='2-1' devclass='usb' backend_domain='sys-usb'")
RECEIVER_ARG = "sys-usb+2-1+046d+c52b++u030101u030102u030000"
WIFI_LINE = (b"00_14.3:0x8086:0x51f0::p028000 device_id='0x8086:0x51f0::p028000' "
             b"port_id='00_14.3' devclass='pci' backend_domain='dom0' "
             b"vendor='Intel Corporation' product='Alder Lake-P PCH CNVi WiFi' "
             b"interfaces='p028000' _sbdf='0000:00:14.3'\n")


def set_power(daemon: RunningDaemon, name: str, running: bool) -> None:
    """Stand in for domain control: set the state and fire what it would fire."""

    def change() -> None:
        vm = daemon.app.domains[name]
        vm.power_state = PowerState.RUNNING if running else PowerState.HALTED
        vm.fire("domain-start", start_guid="test") if running else vm.fire("domain-shutdown")

    daemon.in_loop(change)


@pytest.fixture
def usb_ready(running: RunningDaemon) -> RunningDaemon:
    set_power(running, "sys-usb", True)
    set_power(running, "work", True)
    return running


@pytest.fixture
def events(running: RunningDaemon) -> Iterator[EventReader]:
    reader = running.open_events()
    assert reader.next().event == "connection-established"
    yield reader
    reader.close()


def test_deviceclass_list(running: RunningDaemon) -> None:
    assert running.raw("admin.deviceclass.List") == b"0\0block\nmic\npci\nusb\n"
    assert running.raw("admin.deviceclass.List", "work") == (
        b"2\0ProtocolError\0\0expected destination to be AdminVM\0")


def test_available_lists_a_backends_devices(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.device.pci.Available", "dom0", arg="00_14.3") == (
        b"0\0" + WIFI_LINE)
    body = running.call("admin.vm.device.pci.Available", "dom0")
    assert [line.split(" ")[0] for line in body.splitlines()] == sorted(
        line.split(" ")[0] for line in body.splitlines())
    assert running.raw("admin.vm.device.pci.Available", "dom0", arg="99_99.9") == b"0\0"
    assert running.raw("admin.vm.device.mic.Available", "dom0") == (
        b"0\0mic:dom0:mic::m000000 device_id='dom0:mic::m000000' port_id='mic' devclass='mic' "
        b"backend_domain='dom0' product='Microphone' interfaces='m000000'\n")


def test_halted_backend_exposes_nothing(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.device.usb.Available", "sys-usb") == b"0\0"
    set_power(running, "sys-usb", True)
    lines = running.call("admin.vm.device.block.Available", "sys-usb").splitlines()
    # sorted as upstream sorts them: by "port:device id" text
    assert [line.split(":")[0] for line in lines] == ["sda1", "sda"]
    assert lines[1].startswith("sda:0781:5567:4C530001230101117371:u080650:0 ")
    assert "parent_port_id='3-1' parent_devclass='usb'" in lines[1]


def test_unknown_device_class_is_no_method(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.device.sound.Available", "dom0") == (
        b"2\0ProtocolError\0\0no such method: 'admin.vm.device.sound.Available'\0")


def test_assigned_lists_persistent_assignments(running: RunningDaemon) -> None:
    line = (b"dom0+00_14.3:0x8086:0x51f0::p028000 device_id='0x8086:0x51f0::p028000' "
            b"port_id='00_14.3' devclass='pci' "
            b"backend_domain='dom0' mode='required' frontend_domain='sys-net'\n")
    assert running.raw("admin.vm.device.pci.Assigned", "sys-net") == b"0\0" + line
    assert running.raw("admin.vm.device.pci.Assigned", "sys-net", arg="dom0+00_14.3") == (
        b"0\0" + line)
    assert running.raw("admin.vm.device.pci.Assigned", "sys-net", arg="dom0+00_02.0") == b"0\0"
    assert running.raw("admin.vm.device.usb.Assigned", "work") == b"0\0"


def test_assign_and_unassign(running: RunningDaemon, events: EventReader) -> None:
    payload = f"{RECEIVER_PROPS} mode='auto-attach' frontend_domain='work'".encode()
    assert running.raw("admin.vm.device.usb.Assign", "work", RECEIVER_ARG, payload) == b"0\0"
    assigned = running.raw("admin.vm.device.usb.Assigned", "work")
    assert assigned == (f"0\0sys-usb+2-1:{RECEIVER} {RECEIVER_PROPS} mode='auto-attach' "
                        "frontend_domain='work'\n").encode()
    record = events.wait_for(lambda r: r.event == "device-assign:usb")[-1]
    assert (record.subject, record.kwargs) == (
        "work", {"device": f"sys-usb:2-1:{RECEIVER}", "options": "{}"})
    assert 'identity="046d:c52b::u030101u030102u030000"' in (
        running.state_dir / "qubes.xml").read_text()

    assert running.raw("admin.vm.device.usb.Assign", "work", RECEIVER_ARG, payload) == (
        f"2\0DeviceAlreadyAssigned\0\0usb device sys-usb:2-1:{RECEIVER} is already assigned "
        "to work\0").encode()
    assert running.raw("admin.vm.device.usb.Unassign", "work", RECEIVER_ARG) == b"0\0"
    assert events.wait_for(lambda r: r.event == "device-unassign:usb")[-1].subject == "work"
    assert running.raw("admin.vm.device.usb.Assigned", "work") == b"0\0"
    assert running.raw("admin.vm.device.usb.Unassign", "work", RECEIVER_ARG) == (
        f"2\0DeviceNotAssigned\0\0usb device sys-usb:2-1:{RECEIVER} is not assigned "
        "to work\0").encode()


@pytest.mark.parametrize("arg, payload, expected", [
    ("sys-usb+2-1", b"mode='manual'",
     b"2\0QubesValueError\0\0only auto-attach, ask-to-attach and required devices can be "
     b"assigned; attach the device instead for a one-off use\0"),
    ("sys-usb+2-1", b"mode='always'",
     b"2\0QubesUnrecognizedDeviceAssignmentMode\0\0unknown assignment mode 'always'; expected "
     b"one of manual, ask-to-attach, auto-attach, required\0"),
    ("sys-usb+2-1", b"mode='required' port_id='2-2'",
     b"2\0UnexpectedDeviceProperty\0\0got port_id '2-2' where '2-1' was expected\0"),
    ("sys-usb+2-1", b"mode='required",
     b"2\0ProtocolError\0\0mode: value has no closing quote\0"),
    ("nowhere+2-1", b"mode='required'",
     b"2\0QubesVMNotFoundError\0\0No such domain: 'nowhere'\0"),
    ("sys-usb", b"mode='required'",
     b"2\0ProtocolError\0\0expected <backend>+<port>[+<device id>], got 'sys-usb'\0"),
    ("sys-usb+2-1", b"mode='required' _ro='yes'",
     b"2\0QubesValueError\0\0usb devices take no options (got 'ro')\0"),
])
def test_assign_refusals(running: RunningDaemon, arg: str, payload: bytes,
                         expected: bytes) -> None:
    assert running.raw("admin.vm.device.usb.Assign", "work", arg, payload) == expected
    assert running.raw("admin.vm.device.usb.Assigned", "work") == b"0\0"


def test_pci_assignment_refused_for_a_running_qube(running: RunningDaemon) -> None:
    set_power(running, "work", True)
    payload = b"mode='required'"
    assert running.raw("admin.vm.device.pci.Assign", "work", "dom0+00_02.0", payload) == (
        b"2\0QubesVMNotHaltedError\0\0work: pci devices can be assigned only while the qube "
        b"is halted\0")
    set_power(running, "work", False)
    assert running.raw("admin.vm.device.pci.Assign", "work", "dom0+00_02.0", payload) == b"0\0"
    # a required PCI device makes hvm the default virt_mode
    assert running.raw("admin.vm.property.Get", "work", "virt_mode") == (
        b"0\0default=True type=str hvm")


def test_attach_and_detach(usb_ready: RunningDaemon, events: EventReader) -> None:
    daemon = usb_ready
    payload = f"{RECEIVER_PROPS} mode='manual' frontend_domain='work'".encode()
    assert daemon.raw("admin.vm.device.usb.Attach", "work", "sys-usb+2-1+_", payload) == b"0\0"
    assert daemon.raw("admin.vm.device.usb.Attached", "work") == (
        f"0\0sys-usb+2-1:{RECEIVER} {RECEIVER_PROPS} mode='manual' "
        "frontend_domain='work'\n").encode()
    available = daemon.call("admin.vm.device.usb.Available", "sys-usb", arg="2-1")
    assert " attachment='work' " in available
    record = events.wait_for(lambda r: r.event == "device-attach:usb")[-1]
    assert (record.subject, record.kwargs["device"]) == ("work", f"sys-usb:2-1:{RECEIVER}")

    assert daemon.raw("admin.vm.device.usb.Attach", "personal", "sys-usb+2-1") == (
        b"2\0QubesVMNotRunningError\0\0personal is not running, cannot attach a device; "
        b"assign it instead\0")
    assert daemon.raw("admin.vm.device.usb.Attach", "work", "sys-usb+2-1") == (
        f"2\0DeviceAlreadyAttached\0\0usb device sys-usb:2-1:{RECEIVER} is already "
        "attached there\0").encode()
    assert daemon.raw("admin.vm.device.usb.Detach", "work", "sys-usb+2-1+_") == b"0\0"
    record = events.wait_for(lambda r: r.event == "device-detach:usb")[-1]
    assert (record.subject, record.kwargs) == ("work", {"port": "sys-usb:2-1"})
    assert daemon.raw("admin.vm.device.usb.Attached", "work") == b"0\0"
    assert daemon.raw("admin.vm.device.usb.Detach", "work", "sys-usb+2-1+_") == (
        b"2\0DeviceNotAssigned\0\0usb device sys-usb:2-1:* is not attached to work\0")


def test_attach_errors_name_the_problem(usb_ready: RunningDaemon) -> None:
    daemon = usb_ready
    assert daemon.raw("admin.vm.device.usb.Attach", "work", "sys-usb+9-9") == (
        b"2\0DeviceNotFound\0\0no usb device in port sys-usb:9-9 (sys-usb exposes nothing "
        b"there)\0")
    assert daemon.raw("admin.vm.device.usb.Attach", "work", "sys-usb+2-1+dead+beef") == (
        b"2\0UnrecognizedDevice\0\0the device in port sys-usb:2-1 is "
        + f"'{RECEIVER}', not 'dead:beef'\0".encode())


def test_required_device_cannot_be_detached_from_a_running_qube(usb_ready: RunningDaemon,
                                                                 events: EventReader) -> None:
    daemon = usb_ready
    set_power(daemon, "personal", False)
    daemon.call("admin.vm.device.usb.Assign", "personal", "sys-usb+2-2", b"mode='required'")
    set_power(daemon, "personal", True)
    # auto-attached right after domain-start, never before it
    seen = events.wait_for(lambda r: r.event == "device-attach:usb" and r.subject == "personal")
    names = [r.event for r in seen if r.subject == "personal"]
    assert names.index("domain-start") < names.index("device-attach:usb")
    assert "mode='required'" in daemon.call("admin.vm.device.usb.Attached", "personal")
    assert daemon.raw("admin.vm.device.usb.Detach", "personal", "sys-usb+2-2") == (
        b"2\0QubesVMNotHaltedError\0\0personal: cannot detach a required device from a qube "
        b"that is not halted; unassign the device first\0")


def test_set_assignment_changes_the_mode(running: RunningDaemon, events: EventReader) -> None:
    running.call("admin.vm.device.usb.Assign", "work", "sys-usb+2-1", b"mode='auto-attach'")
    assert running.raw("admin.vm.device.usb.Set.assignment", "work", "sys-usb+2-1+_",
                       b"ask-to-attach") == b"0\0"
    record = events.wait_for(lambda r: r.event == "device-assignment-changed:usb")[-1]
    assert (record.subject, record.kwargs) == ("work", {"device": "sys-usb:2-1:*"})
    assert "mode='ask-to-attach'" in running.call("admin.vm.device.usb.Assigned", "work")
    assert running.raw("admin.vm.device.usb.Set.assignment", "work", "sys-usb+2-1",
                       b"manual") == (
        b"2\0QubesUnrecognizedDeviceAssignmentMode\0\0unknown assignment mode 'manual'; "
        b"expected one of required, ask-to-attach, auto-attach\0")
    assert running.raw("admin.vm.device.usb.Set.assignment", "work", "sys-usb+2-2",
                       b"required") == (
        b"2\0DeviceNotAssigned\0\0usb device sys-usb:2-2:* is not assigned to work\0")


def test_denied_list_add_remove(running: RunningDaemon, events: EventReader) -> None:
    assert running.raw("admin.vm.device.denied.List", "work") == b"0\0"
    assert running.raw("admin.vm.device.denied.Add", "work", payload=b"u03****m******") == b"0\0"
    assert running.raw("admin.vm.device.denied.List", "work") == b"0\0m******\nu03****"
    assert running.raw("admin.vm.property.Get", "work", "devices_denied") == (
        b"0\0default=False type=str m******u03****")
    events.wait_for(lambda r: r.event == "property-set:devices_denied")
    assert running.raw("admin.vm.device.denied.Remove", "work", payload=b"u03****") == b"0\0"
    assert running.raw("admin.vm.device.denied.List", "work") == b"0\0m******"
    assert running.raw("admin.vm.device.denied.Remove", "work", payload=b"all") == b"0\0"
    assert running.raw("admin.vm.device.denied.List", "work") == b"0\0"
    assert running.raw("admin.vm.device.denied.Add", "work", payload=b"u03***") == (
        b"2\0QubesValueError\0\0interface codes are 7 characters each: 'u03***'\0")
    assert running.raw("admin.vm.device.denied.Add", "work", payload=b"u03****u03****") == (
        b"2\0QubesValueError\0\0duplicated device interfaces in the payload\0")


def test_denied_device_is_not_attached(usb_ready: RunningDaemon) -> None:
    usb_ready.call("admin.vm.device.denied.Add", "work", payload=b"u03****")
    assert usb_ready.raw("admin.vm.device.usb.Attach", "work", "sys-usb+2-1") == (
        f"2\0PermissionDenied\0\0usb device sys-usb:2-1:{RECEIVER} is denied to work "
        "(devices_denied has u03****)\0").encode()


def test_assignments_survive_a_restart(tmp_path: Path) -> None:
    first = RunningDaemon(tmp_path / "state", tmp_path / "one.sock")
    try:
        first.call("admin.vm.device.block.Assign", "vault", "sys-usb+sda",
                   b"mode='ask-to-attach' _read-only='yes'")
        first.call("admin.vm.device.denied.Add", "vault", payload=b"m******")
    finally:
        first.close()
    second = RunningDaemon(tmp_path / "state", tmp_path / "two.sock")
    try:
        assert second.raw("admin.vm.device.block.Assigned", "vault") == (
            b"0\0sys-usb+sda:* device_id='*' port_id='sda' devclass='block' "
            b"backend_domain='sys-usb' mode='ask-to-attach' frontend_domain='vault' "
            b"_read-only='yes'\n")
        assert second.raw("admin.vm.device.denied.List", "vault") == b"0\0m******"
    finally:
        second.close()


@pytest.mark.parametrize("method, arg, expected", [
    ("admin.vm.device.usb.Assigned", "sys-usb", b"2\0ProtocolError\0\0expected <backend>+<port>"
     b"[+<device id>], got 'sys-usb'\0"),
    ("admin.vm.device.usb.Attached", "sys-usb+2/1", b"2\0ProtocolError\0\0invalid port id "
     b"'2/1'\0"),
    ("admin.vm.device.denied.List", "x", b"2\0ProtocolError\0\0unexpected argument\0"),
    ("admin.vm.device.usb.Detach", "", b"2\0ProtocolError\0\0expected an argument\0"),
])
def test_malformed_arguments_are_protocol_errors(running: RunningDaemon, method: str, arg: str,
                                                 expected: bytes) -> None:
    assert running.raw(method, "work", arg) == expected
