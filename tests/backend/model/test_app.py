"""The app: allocation, creation, disposables, removal, features, tags, labels, notes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import (
    QubesFeatureNotFoundError,
    QubesLabelNotFoundError,
    QubesNoTemplateError,
    QubesTagNotFoundError,
    QubesValueError,
    QubesVMAlreadyExistsError,
    QubesVMInUseError,
    QubesVMNotFoundError,
    QubesVMNotHaltedError,
)
from backend.model.app import Qubes
from backend.model.network import ipv4_for
from backend.model.notes import MAX_NOTES_BYTES, sanitize_notes
from backend.model.vm import PowerState

from .conftest import Recorder


def test_qid_is_the_lowest_unused(app: Qubes) -> None:
    qids = sorted(vm.qid for vm in app.domains)
    assert qids == list(range(len(qids)))
    app.remove_vm(app.domains["standalone"])
    freed = max(qids)
    new = app.add_new_vm("AppVM", "new", "red")
    assert new.qid == freed


@pytest.mark.parametrize(("ident", "address"), [
    (1, "10.137.0.1"), (254, "10.137.0.254"), (255, "10.137.1.1"),
    (508, "10.137.1.254"), (509, "10.137.2.1"), (9999, "10.137.39.93"),
])
def test_ipv4_allocation_avoids_network_and_broadcast(ident: int, address: str) -> None:
    assert ipv4_for("10.137", ident) == address


@given(st.integers(min_value=1, max_value=9999))
def test_ipv4_allocation_is_unique_and_never_ends_in_0_or_255(ident: int) -> None:
    last = int(ipv4_for("10.137", ident).rsplit(".", 1)[1])
    assert 1 <= last <= 254
    if ident > 1:
        assert ipv4_for("10.137", ident) != ipv4_for("10.137", ident - 1)


def test_iteration_is_dom0_first_then_by_name(app: Qubes) -> None:
    names = [vm.name for vm in app.domains]
    assert names[0] == "dom0"
    assert names[1:] == sorted(names[1:])


def test_lookup_by_name_qid_and_uuid(app: Qubes) -> None:
    work = app.domains["work"]
    assert app.domains[work.qid] is work
    assert app.domains[f"uuid:{work.uuid}"] is work
    with pytest.raises(QubesVMNotFoundError):
        app.domains["nope"]
    with pytest.raises(Exception, match="Invalid UUID"):
        app.domains["uuid:xyz"]


def test_creation_fires_domain_add_and_tags(app: Qubes, recorder: Recorder) -> None:
    vm = app.add_new_vm("AppVM", "fresh", "orange")
    assert recorder.events == [(None, "domain-add", {"vm": vm})]
    assert vm.template is app.domains["fedora"]
    assert {"guivm-dom0", "audiovm-dom0"} <= set(vm.tags)


def test_creation_refusals_leave_no_qube(app: Qubes, recorder: Recorder) -> None:
    count = len(app.domains)
    with pytest.raises(QubesVMAlreadyExistsError):
        app.add_new_vm("AppVM", "work", "red")
    with pytest.raises(QubesValueError):
        app.add_new_vm("AppVM", "1bad", "red")
    with pytest.raises(QubesLabelNotFoundError):
        app.add_new_vm("AppVM", "good", "pink")
    with pytest.raises(Exception, match="does not provide network"):
        app.add_new_vm("AppVM", "good", "red", properties={"netvm": "vault"})
    with pytest.raises(QubesValueError):
        app.add_new_vm("AdminVM", "dom1", "red")
    with pytest.raises(QubesValueError):
        app.add_new_vm("TemplateVM", "tpl", "red", template="fedora")
    assert len(app.domains) == count and recorder.events == []


def test_creation_without_any_template_is_refused() -> None:
    app = Qubes()
    app.create_adminvm()
    with pytest.raises(QubesNoTemplateError):
        app.add_new_vm("AppVM", "x", "red")


def test_check_updates_vm_off_marks_new_qubes(app: Qubes) -> None:
    app.globals.set("check_updates_vm", False)
    vm = app.add_new_vm("AppVM", "quiet", "red")
    assert vm.features.get("check-updates") == ""


def test_disposable_copies_explicit_settings_features_and_tags(app: Qubes) -> None:
    dvm = app.domains["default-dvm"]
    dvm.set("netvm", "sys-net")
    dvm.set("vcpus", 3)
    dvm.features.set("service.cups", "1")
    dvm.features.set("preload-dispvm-max", "2")
    dvm.tags.add("sensitive")
    disp = app.create_dispvm(dvm)
    assert disp.netvm is app.domains["sys-net"] and not disp.is_default("netvm")
    assert disp.get("vcpus") == 3
    assert disp.features.get("service.cups") == "1"
    assert "preload-dispvm-max" not in disp.features
    assert "sensitive" in disp.tags
    assert disp.get("auto_cleanup") is True
    assert disp.get("template_for_dispvms") if "template_for_dispvms" in disp.PROPS else True
    assert disp.label is dvm.label


def test_disposable_ids_are_not_reused_soon(app: Qubes) -> None:
    dvm = app.domains["default-dvm"]
    disp = app.create_dispvm(dvm)
    freed = disp.get("dispid")
    app.remove_vm(disp)
    for _ in range(30):
        other = app.create_dispvm(dvm)
        assert other.get("dispid") != freed
        app.remove_vm(other)


def test_removal_refused_while_referenced(app: Qubes, recorder: Recorder) -> None:
    with pytest.raises(QubesVMInUseError, match="work.template"):
        app.remove_vm(app.domains["fedora"])
    with pytest.raises(QubesVMInUseError, match="sys-firewall.netvm"):
        app.remove_vm(app.domains["sys-net"])
    with pytest.raises(QubesVMInUseError, match="global default_dispvm"):
        app.remove_vm(app.domains["default-dvm"])
    with pytest.raises(QubesVMInUseError, match="dom0"):
        app.remove_vm(app.domains["dom0"])
    assert "fedora" in app.domains and recorder.events == []


def test_removal_refused_while_running_or_installed_by_rpm(app: Qubes) -> None:
    vault = app.domains["vault"]
    vault.power_state = PowerState.RUNNING
    with pytest.raises(QubesVMNotHaltedError):
        app.remove_vm(vault)
    vault.power_state = PowerState.HALTED
    vault.set("installed_by_rpm", True)
    with pytest.raises(QubesVMInUseError, match="package"):
        app.remove_vm(vault)


def test_removing_the_default_netvm_resets_it(app: Qubes, recorder: Recorder) -> None:
    app.domains["work"].set("netvm", "sys-net")
    recorder.clear()
    fw = app.domains["sys-firewall"]
    app.remove_vm(fw)
    assert app.globals.is_default("default_netvm")
    assert app.domains["work"].netvm is app.domains["sys-net"]
    events = [e for _, e, _ in recorder.events]
    assert events[0] == "domain-pre-delete" and events[-1] == "domain-delete"
    assert "property-reset:default_netvm" in events


def test_features_truth_and_lookup_chains(app: Qubes, recorder: Recorder) -> None:
    work, fedora = app.domains["work"], app.domains["fedora"]
    fedora.features.set("os", "Linux")
    assert work.features.check_with_template("os") == "Linux"
    with pytest.raises(QubesFeatureNotFoundError):
        work.features["os"]
    app.domains["sys-net"].features.set("ipv6", "0")  # "0" is true upstream
    assert work.features.check_with_netvm("ipv6") == "0"
    assert work.get("ip6") is not None
    app.domains["dom0"].features.set("gui-default-x", "1")
    assert work.features.check_with_adminvm("gui-default-x") == "1"
    assert work.features.check_with_template_and_adminvm("os") == "Linux"
    work.features.set("flag", True)
    assert work.features["flag"] == "1"
    assert ("work", "domain-feature-set:flag", {"feature": "flag", "value": "1"}) in [
        (s, e, k) for s, e, k in recorder.events
    ]
    with pytest.raises(QubesFeatureNotFoundError):
        work.features.remove("nope")


def test_tags_add_twice_fires_once(app: Qubes, recorder: Recorder) -> None:
    work = app.domains["work"]
    work.tags.add("t1")
    work.tags.add("t1")
    assert recorder.names("work").count("domain-tag-add:t1") == 1
    work.tags.remove("t1")
    with pytest.raises(QubesTagNotFoundError):
        work.tags.remove("t1")
    with pytest.raises(QubesValueError):
        work.tags.add("bad tag")


def test_labels(app: Qubes) -> None:
    assert [lb.name for lb in app.labels] == [
        "red", "orange", "yellow", "green", "gray", "blue", "purple", "black"
    ]
    assert app.labels.get("label-6").name == "blue"
    assert app.labels.get(1).color == "0xcc0000"
    custom = app.labels.add("teal", "0x008080")
    assert custom.index == 9
    with pytest.raises(QubesValueError):
        app.labels.add("123", "0x008080")
    with pytest.raises(QubesValueError):
        app.labels.add("bad", "#008080")
    with pytest.raises(QubesValueError):
        app.labels.remove(app.labels.get("red"))


def test_notes_are_sanitised_and_limited() -> None:
    assert sanitize_notes("línea 1\nzwei\tdrei".encode()) == "línea 1\nzwei\tdrei"
    assert sanitize_notes(b"bell\x07 rtl\xe2\x80\xae end") == "bell_ rtl_ end"
    assert sanitize_notes(b"\xff") == "_"
    assert len(sanitize_notes(b"a" * MAX_NOTES_BYTES)) == MAX_NOTES_BYTES
    with pytest.raises(QubesValueError, match="too long"):
        sanitize_notes(b"a" * (MAX_NOTES_BYTES + 1))


@given(st.binary(max_size=2000))
def test_sanitised_notes_have_no_control_characters(data: bytes) -> None:
    text = sanitize_notes(data)
    assert all(ch in "\n\t" or ord(ch) >= 0x20 for ch in text)
    assert "\x7f" not in text
