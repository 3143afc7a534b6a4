"""Devices and assignments: the Available / Assigned / Attached lines, both ways."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.devices import (
    Assignment,
    AssignmentMode,
    DeviceInfo,
    Port,
    VirtualDevice,
    parse_assignment,
    parse_assignment_line,
    parse_assignments,
    parse_available,
    parse_device,
)
from backend.devices.wire import VALUE_CHARS
from backend.errors import (
    ProtocolError,
    QubesUnrecognizedDeviceAssignmentMode,
    UnexpectedDeviceProperty,
)

names = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
port_ids = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=12)
device_ids = st.lists(st.text(string.ascii_letters + string.digits, max_size=6),
                      min_size=1, max_size=4).map(":".join).filter(bool)
texts = st.none() | st.text(sorted(VALUE_CHARS), min_size=1, max_size=20).filter(
    lambda v: not v.endswith("\\"))
codes = st.builds(lambda letter, digits: letter + digits, st.sampled_from("pubm"),
                  st.text("0123456789abcdef*", min_size=6, max_size=6))
data = st.dictionaries(st.text(string.ascii_lowercase + "-", min_size=1, max_size=8), texts
                       .filter(lambda v: v is not None).map(str), max_size=3)


@st.composite
def devices(draw: st.DrawFn) -> DeviceInfo:
    parent = draw(st.none() | port_ids)
    return DeviceInfo(
        draw(st.sampled_from(["pci", "usb", "block", "mic"])), draw(names), draw(port_ids),
        draw(device_ids), vendor=draw(texts), product=draw(texts), manufacturer=draw(texts),
        name=draw(texts), serial=draw(texts), interfaces=tuple(draw(st.lists(codes, max_size=3))),
        parent_port_id=parent, parent_devclass=None if parent is None else "usb",
        attachment=draw(st.none() | names), data=draw(data),
    )


@given(devices())
def test_device_line_round_trips(device: DeviceInfo) -> None:
    parsed = parse_device(device.line(), device.backend, device.devclass)
    expected_interfaces = device.interfaces or ("?******",)
    assert parsed == DeviceInfo(**{**device.__dict__, "interfaces": expected_interfaces})


@st.composite
def assignments(draw: st.DrawFn) -> Assignment:
    device = VirtualDevice(draw(st.sampled_from(["pci", "usb", "block"])), draw(names),
                           draw(port_ids | st.just("*")), draw(device_ids | st.just("*")))
    return Assignment(device, draw(names), draw(st.sampled_from(AssignmentMode)), draw(data))


@given(assignments())
def test_assignment_line_round_trips(assignment: Assignment) -> None:
    assert parse_assignment_line(assignment.line(), assignment.devclass) == assignment


def test_available_line_has_upstream_key_order() -> None:
    device = DeviceInfo("usb", "sys-usb", "2-1", "046d:c52b::u030101", product="Receiver",
                        interfaces=("u030101",), data={"x": "1"})
    assert device.line() == (
        "2-1:046d:c52b::u030101 device_id='046d:c52b::u030101' port_id='2-1' devclass='usb' "
        "backend_domain='sys-usb' product='Receiver' interfaces='u030101' _x='1'")


def test_assignment_line_has_upstream_key_order() -> None:
    assignment = Assignment(VirtualDevice("block", "sys-usb", "sda", "*"), "work",
                            AssignmentMode.AUTO, {"read-only": "yes"})
    assert assignment.line() == (
        "sys-usb+sda:* device_id='*' port_id='sda' devclass='block' backend_domain='sys-usb' "
        "mode='auto-attach' frontend_domain='work' _read-only='yes'")


def test_lines_in_the_form_of_the_official_client_tests_parse() -> None:
    body = ("sys-usb+2-30 device_id='0:0007:u01101' port_id='2-30' devclass='usb' "
            "backend_domain='sys-usb' mode='ask-to-attach' frontend_domain='test-vm'\n")
    [assignment] = parse_assignments(body, "usb", "test-vm")
    assert assignment.device == VirtualDevice("usb", "sys-usb", "2-30", "0:0007:u01101")
    assert assignment.mode is AssignmentMode.ASK
    [device] = parse_available("dev1 description='desc' unknown_key='x'\n", "vm2", "test")
    assert (device.port_id, device.device_id) == ("dev1", "0000:0000::?******")


def test_events_show_devices_and_ports_with_colons() -> None:
    device = DeviceInfo("usb", "sys-usb", "2-1", "a:b")
    assert str(device) == "sys-usb:2-1:a:b"
    assert str(device.port) == str(Port("sys-usb", "2-1", "usb")) == "sys-usb:2-1"
    assert str(VirtualDevice("usb", "sys-usb")) == "sys-usb:*:*"


def test_payload_device_id_fills_in_a_wildcard_of_the_argument() -> None:
    expected = VirtualDevice("usb", "sys-usb", "2-1", "*")
    parsed = parse_assignment("device_id='a:b' mode='manual'", expected, "work", strict=True)
    assert parsed.device.device_id == "a:b" and parsed.frontend == "work"


@pytest.mark.parametrize("payload, error", [
    ("backend_domain='sys-net'", UnexpectedDeviceProperty),
    ("port_id='2-2'", UnexpectedDeviceProperty),
    ("devclass='block'", UnexpectedDeviceProperty),
    ("device_id='x:y'", UnexpectedDeviceProperty),
    ("frontend_domain='vault'", UnexpectedDeviceProperty),
    ("mode='sometimes'", QubesUnrecognizedDeviceAssignmentMode),
    ("colour='blue'", ProtocolError),
])
def test_payload_that_disagrees_with_the_argument_is_refused(payload: str, error: type) -> None:
    expected = VirtualDevice("usb", "sys-usb", "2-1", "a:b")
    with pytest.raises(error):
        parse_assignment(payload, expected, "work", strict=True)


@pytest.mark.parametrize("assignment, specificity", [
    (VirtualDevice("usb", "b", "1", "x"), 3), (VirtualDevice("usb", "b", "1", "*"), 2),
    (VirtualDevice("usb", "b", "*", "x"), 1), (VirtualDevice("usb", "b", "*", "*"), 0),
])
def test_match_with_wildcards_and_specificity(assignment: VirtualDevice, specificity: int) -> None:
    assert assignment.specificity == specificity
    assert assignment.matches(DeviceInfo("usb", "b", "1", "x"))
    assert not assignment.matches(DeviceInfo("usb", "other", "1", "x"))
    assert not assignment.matches(DeviceInfo("block", "b", "1", "x"))


def test_description_uses_the_category_of_the_first_interface() -> None:
    device = DeviceInfo("usb", "sys-usb", "2-1", "a", vendor="ACME", product="Keys",
                        interfaces=("u030101",))
    assert device.description == "Keyboard: ACME Keys"


def test_device_protocol_imports_without_the_daemon() -> None:
    root = Path(__file__).resolve().parents[3]
    code = ("import sys, backend.devices; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('backend.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout
    assert out.split() == ["backend.devices", "backend.devices.interfaces",
                           "backend.devices.model", "backend.devices.wire", "backend.errors"]
