"""Callers other than dom0 get only what the policy grants them."""

from __future__ import annotations

import pytest

from backend.errors import PermissionDenied

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, qube_names, qube_state, write_policy


def test_a_qube_is_refused_without_a_policy_rule(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "personal", "label", source="work") == error(
        "PermissionDenied", "admin.vm.property.Get denied by policy"
    )
    before = qube_state(running, "personal")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.property.Set", "personal", "vcpus", b"4", source="work")
    with pytest.raises(PermissionDenied):
        running.call(
            "admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=x label=red", source="work"
        )
    assert qube_state(running, "personal") == before
    assert "x" not in qube_names(running)


def test_a_rule_grants_exactly_the_call_it_names(running: RunningDaemon) -> None:
    write_policy(
        running,
        "admin.vm.property.Get +label work personal allow\n"
        "admin.vm.property.Set * work personal deny\n",
    )
    assert running.call("admin.vm.property.Get", "personal", "label", source="work") == (
        "default=False type=label yellow"
    )
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.property.Get", "personal", "netvm", source="work")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.property.Get", "vault", "label", source="work")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.property.Set", "personal", "label", b"red", source="work")


def test_an_ask_rule_counts_as_deny(running: RunningDaemon) -> None:
    write_policy(running, "admin.vm.feature.Set * work personal ask\n")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.feature.Set", "personal", "x", b"1", source="work")


def test_the_full_list_shows_a_qube_only_what_it_may_list(running: RunningDaemon) -> None:
    write_policy(
        running,
        "admin.vm.List * sys-usb dom0 allow\n"
        "admin.vm.List * sys-usb sys-usb allow\n"
        "admin.vm.List * sys-usb @tag:anon-vm allow\n",
    )
    listed = [
        line.split()[0] for line in running.call("admin.vm.List", source="sys-usb").splitlines()
    ]
    # the rule that allows the call itself (target dom0) also lets dom0 be listed
    assert listed == ["anon-whonix", "dom0", "sys-usb"]
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.List", "work", source="sys-usb")


def test_a_granted_change_is_applied_and_reported(running: RunningDaemon) -> None:
    write_policy(running, "admin.vm.feature.Set * sys-usb @anyvm allow\n")
    running.call("admin.vm.feature.Set", "work", "service.cups", b"1", source="sys-usb")
    assert running.call("admin.vm.feature.Get", "work", "service.cups") == "1"
