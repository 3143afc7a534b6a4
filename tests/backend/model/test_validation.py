"""Every validation and run-state rule of qube and global properties."""

from __future__ import annotations

from typing import Any

import pytest

from backend.errors import (
    QubesLabelNotFoundError,
    QubesPropertyValueError,
    QubesVMInUseError,
    QubesVMNotHaltedError,
    QubesVMNotRunningError,
)
from backend.model.app import Qubes
from backend.model.vm import DeviceAssignment, PowerState

from .conftest import Recorder

ACCEPTED: list[tuple[str, str, Any, Any]] = [
    # qube, property, value given, value read back
    ("work", "memory", "800", 800),
    ("work", "vcpus", 4, 4),
    ("work", "virt_mode", "HVM", "hvm"),
    ("work", "virt_mode", "pv", "pv"),
    ("work", "kernel", "6.1.9", "6.1.9"),
    ("work", "kernel", "", ""),
    ("work", "kernelopts", "x" * 512, "x" * 512),
    ("work", "default_user", "user.name+x,y-z_1", "user.name+x,y-z_1"),
    ("work", "mac", "00:16:3E:AA:bb:01", "00:16:3e:aa:bb:01"),
    ("work", "ip", "10.1.2.3", "10.1.2.3"),
    ("work", "ip6", "fd00::1", "fd00::1"),
    ("work", "keyboard_layout", "de+nodeadkeys+grp:alt_shift_toggle",
     "de+nodeadkeys+grp:alt_shift_toggle"),
    ("work", "devices_denied", "u03****b******u03****", "b******u03****"),
    ("work", "label", "label-3", "yellow"),
    ("work", "label", "4", "green"),
    ("work", "debug", "yes", True),
    ("work", "qrexec_timeout", "30", 30),
    ("work", "netvm", "", None),
    ("work", "netvm", "sys-net", "sys-net"),
    ("work", "default_dispvm", "default-dvm", "default-dvm"),
    ("work", "default_dispvm", "", None),
    ("work", "maxmem", 0, 0),
    ("work", "maxmem", 2000, 2000),
    ("work", "stubdom_mem", 128, 128),
    ("work", "template", "debian", "debian"),
    ("standalone", "template_for_dispvms", True, True),
    ("work", "provides_network", True, True),
]

REFUSED: list[tuple[str, str, Any, str]] = [
    ("work", "memory", 0, "positive"),
    ("work", "memory", "-5", "positive"),
    ("work", "memory", "lots", "Invalid integer"),
    ("work", "vcpus", 0, "positive"),
    ("work", "virt_mode", "kvm", "one of"),
    ("work", "kernel", "../etc", "must not contain"),
    ("work", "kernel", "9.9.9", "not installed"),
    ("work", "kernelopts", "x" * 513, "512"),
    ("work", "default_user", "us er", "user names"),
    ("work", "default_user", "", "user names"),
    ("work", "mac", "00:16:3e:5e:6c", "MAC"),
    ("work", "ip", "10.1.2.300", "IPv4"),
    ("work", "ip6", "fd00::zz", "IPv6"),
    ("work", "keyboard_layout", "us", "layout"),
    ("work", "keyboard_layout", "us1++", "layout"),
    ("work", "keyboard_layout", "us+a b+", "layout"),
    ("work", "devices_denied", "u03***", "7 characters"),
    ("work", "devices_denied", "x03****", "interface code"),
    ("work", "debug", "maybe", "boolean"),
    ("work", "netvm", "vault", "does not provide network"),
    ("work", "netvm", "no-such-qube", "No such qube"),
    ("work", "default_dispvm", "work", "not a disposable template"),
    ("work", "management_dispvm", "vault", "not a disposable template"),
    ("work", "maxmem", -1, "negative"),
    ("work", "maxmem", 100, "less than memory"),
    ("work", "stubdom_mem", 0, "positive"),
    ("work", "template", "work", "TemplateVM"),
    ("work", "template", "standalone", "TemplateVM"),
    ("work", "bootmode", "turbo", "unknown boot mode"),
    ("work", "klass", "TemplateVM", "read-only"),
    ("work", "updateable", True, "read-only"),
    ("work", "xid", 5, "read-only"),
    ("work", "name", "other", "only once"),
    ("work", "qid", 77, "only once"),
]


@pytest.mark.parametrize(("qube", "prop", "value", "expected"), ACCEPTED)
def test_valid_values_are_accepted(
    app: Qubes, qube: str, prop: str, value: Any, expected: Any
) -> None:
    vm = app.domains[qube]
    vm.set(prop, value)
    got = vm.get(prop)
    assert (got.name if hasattr(got, "name") else got) == expected
    assert not vm.is_default(prop)


@pytest.mark.parametrize(("qube", "prop", "value", "message"), REFUSED)
def test_invalid_values_are_refused_and_change_nothing(
    app: Qubes, recorder: Recorder, qube: str, prop: str, value: Any, message: str
) -> None:
    vm = app.domains[qube]
    before = vm.explicit_values()
    with pytest.raises(Exception, match=message) as info:
        vm.set(prop, value)
    assert isinstance(info.value, (QubesPropertyValueError, ValueError))
    assert vm.explicit_values() == before
    assert recorder.events == []


def test_unknown_label_is_a_label_error(app: Qubes) -> None:
    with pytest.raises(QubesLabelNotFoundError):
        app.domains["work"].set("label", "pink")


def test_setting_the_current_value_is_allowed_and_still_fires(
    app: Qubes, recorder: Recorder
) -> None:
    work = app.domains["work"]
    work.set("memory", 400)
    work.set("memory", 400)
    assert recorder.names("work").count("property-set:memory") == 2
    assert not work.is_default("memory")


def test_reset_returns_to_the_default(app: Qubes, recorder: Recorder) -> None:
    work = app.domains["work"]
    work.set("vcpus", 8)
    work.reset("vcpus")
    assert work.get("vcpus") == 2 and work.is_default("vcpus")
    assert recorder.names("work")[-4:] == [
        "property-pre-reset:vcpus", "property-pre-del:vcpus",
        "property-reset:vcpus", "property-del:vcpus",
    ]


def test_property_set_event_carries_old_and_new_value(app: Qubes, recorder: Recorder) -> None:
    app.domains["work"].set("vcpus", 3)
    subject, event, kwargs = recorder.events[1]
    assert (subject, event) == ("work", "property-set:vcpus")
    assert kwargs == {"name": "vcpus", "newvalue": 3, "oldvalue": 2}


def test_template_cannot_be_reset(app: Qubes) -> None:
    with pytest.raises(QubesPropertyValueError, match="cannot be reset"):
        app.domains["work"].reset("template")


def test_template_changes_only_while_halted(app: Qubes) -> None:
    work = app.domains["work"]
    work.power_state = PowerState.RUNNING
    with pytest.raises(QubesVMNotHaltedError):
        work.set("template", "debian")
    assert work.template.name == "fedora"


def test_maxmem_changes_only_while_halted_unless_hotplug(app: Qubes) -> None:
    work = app.domains["work"]
    work.power_state = PowerState.RUNNING
    with pytest.raises(QubesVMNotHaltedError):
        work.set("maxmem", 2000)
    work.features.set("memory-hotplug", "1")
    work.set("maxmem", 2000)
    assert work.get("maxmem") == 2000


def test_memory_may_not_exceed_explicit_maxmem(app: Qubes) -> None:
    work = app.domains["work"]
    work.set("maxmem", 1000)
    with pytest.raises(QubesPropertyValueError, match="must not exceed maxmem"):
        work.set("memory", 1200)
    work.set("maxmem", 0)  # balancing off: any memory
    work.set("memory", 1200)


def test_pvh_refused_while_pci_devices_are_assigned(app: Qubes) -> None:
    net = app.domains["sys-net"]
    net.devices["pci"] = [DeviceAssignment("dom0", "00_14.0", "8086:a0f0", "required")]
    assert net.get("virt_mode") == "hvm"
    with pytest.raises(QubesPropertyValueError, match="pvh"):
        net.set("virt_mode", "pvh")
    net.set("virt_mode", "pv")


def test_netvm_loops_are_refused(app: Qubes) -> None:
    net, fw = app.domains["sys-net"], app.domains["sys-firewall"]
    with pytest.raises(QubesPropertyValueError, match="loop"):
        net.set("netvm", fw)
    with pytest.raises(QubesPropertyValueError, match="loop"):
        fw.set("netvm", fw)


def test_running_qube_needs_a_running_netvm(app: Qubes) -> None:
    work, net = app.domains["work"], app.domains["sys-net"]
    work.power_state = PowerState.RUNNING
    with pytest.raises(QubesVMNotRunningError):
        work.set("netvm", net)
    net.power_state = PowerState.RUNNING
    work.set("netvm", net)
    assert work.netvm is net


def test_provides_network_cannot_be_dropped_while_clients_exist(app: Qubes) -> None:
    fw = app.domains["sys-firewall"]
    with pytest.raises(QubesVMInUseError, match="work"):
        fw.set("provides_network", False)
    assert fw.features.get("servicevm") == "1"


def test_provides_network_toggles_the_servicevm_feature(app: Qubes) -> None:
    work = app.domains["work"]
    work.set("provides_network", True)
    assert work.features.get("servicevm") == "1"
    assert work.get("icon") == "servicevm-blue"
    work.set("provides_network", False)
    assert "servicevm" not in work.features


def test_template_for_dispvms_cannot_be_dropped_while_used(app: Qubes) -> None:
    dvm = app.domains["default-dvm"]
    with pytest.raises(QubesVMInUseError, match="default_dispvm"):
        dvm.set("template_for_dispvms", False)
    app.globals.set("default_dispvm", None)
    app.create_dispvm(dvm)
    with pytest.raises(QubesVMInUseError, match="template"):
        dvm.set("template_for_dispvms", False)


def test_global_validation(app: Qubes) -> None:
    g = app.globals
    with pytest.raises(QubesPropertyValueError, match="TemplateVM"):
        g.set("default_template", "work")
    with pytest.raises(QubesPropertyValueError, match="does not provide network"):
        g.set("default_netvm", "vault")
    with pytest.raises(QubesPropertyValueError, match="disposable template"):
        g.set("default_dispvm", "work")
    with pytest.raises(QubesPropertyValueError, match="not installed"):
        g.set("default_kernel", "0.0.1")
    with pytest.raises(QubesPropertyValueError, match="no such storage pool"):
        g.set("default_pool", "nope")
    with pytest.raises(QubesPropertyValueError, match="positive"):
        g.set("stats_interval", 0)
    with pytest.raises(QubesPropertyValueError, match="read-only"):
        g.set("maxmem", 10)


def test_default_netvm_loop_for_qubes_using_the_default_is_refused(app: Qubes) -> None:
    # a network qube that itself uses the default netvm would route through itself
    app.add_new_vm("AppVM", "sys-vpn", "green", properties={"provides_network": True})
    with pytest.raises(QubesPropertyValueError, match="loop"):
        app.globals.set("default_netvm", "sys-vpn")


def test_clockvm_carries_the_clocksync_service(app: Qubes) -> None:
    net, fw = app.domains["sys-net"], app.domains["sys-firewall"]
    app.globals.set("clockvm", net)
    assert net.features.get("service.clocksync") == "1"
    app.globals.set("clockvm", fw)
    assert "service.clocksync" not in net.features
    assert fw.features.get("service.clocksync") == "1"
