"""admin.vm.feature.* and admin.vm.tag.*: values, lookups, events, refusals."""

from __future__ import annotations

import pytest

from backend.errors import (
    PermissionDenied,
    QubesFeatureNotFoundError,
    QubesInvalidTagError,
    QubesTagNotFoundError,
    QubesValueError,
)

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, ok, qube_state, stored_qube, write_policy

# --- features ----------------------------------------------------------------------------


def test_feature_list_and_get(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.feature.List", "default-dvm") == ok("appmenus-dispvm\n")
    assert running.raw("admin.vm.feature.Get", "default-dvm", "appmenus-dispvm") == ok("1")
    assert running.raw("admin.vm.feature.List", "work") == ok()


def test_feature_get_of_a_missing_feature_is_qubesfeaturenotfounderror(
    running: RunningDaemon,
) -> None:
    assert running.raw("admin.vm.feature.Get", "work", "os") == error(
        "QubesFeatureNotFoundError", "Feature not set for domain work: os"
    )
    with pytest.raises(QubesFeatureNotFoundError):  # a KeyError for the client
        running.call("admin.vm.feature.Get", "work", "os")


def test_check_with_template_walks_the_template_chain(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.feature.CheckWithTemplate", "work", "os") == ok("Linux")
    running.call("admin.vm.feature.Set", "work", "os", b"Windows")
    assert running.call("admin.vm.feature.CheckWithTemplate", "work", "os") == "Windows"
    with pytest.raises(QubesFeatureNotFoundError):
        running.call("admin.vm.feature.CheckWithTemplate", "work", "nosuch")


def test_check_with_netvm_walks_the_network_chain(running: RunningDaemon) -> None:
    running.call("admin.vm.feature.Set", "sys-net", "ipv6", b"1")
    assert running.raw("admin.vm.feature.CheckWithNetvm", "work", "ipv6") == ok("1")
    with pytest.raises(QubesFeatureNotFoundError):
        running.call("admin.vm.feature.CheckWithNetvm", "vault", "ipv6")


def test_check_with_adminvm_falls_back_to_dom0(running: RunningDaemon) -> None:
    running.call("admin.vm.feature.Set", "dom0", "gui-default-secure-copy-sequence", b"none")
    for method in ("CheckWithAdminVM", "CheckWithTemplateAndAdminVM"):
        assert running.raw(
            f"admin.vm.feature.{method}", "work", "gui-default-secure-copy-sequence"
        ) == ok("none")
    assert running.call("admin.vm.feature.CheckWithTemplateAndAdminVM", "work", "os") == "Linux"
    with pytest.raises(QubesFeatureNotFoundError):
        running.call("admin.vm.feature.CheckWithAdminVM", "work", "os")


def test_feature_set_stores_fires_events_and_empty_means_false(running: RunningDaemon) -> None:
    reader = running.open_events(dest="work")
    try:
        reader.next()
        assert running.raw("admin.vm.feature.Set", "work", "service.cups", b"1") == ok()
        set_event = reader.wait_for(lambda r: r.event == "domain-feature-set:service.cups")[-1]
        running.call("admin.vm.feature.Set", "work", "service.cups", b"")
        second = reader.wait_for(lambda r: r.event == "domain-feature-set:service.cups")[-1]
    finally:
        reader.close()
    assert set_event.kwargs == {"feature": "service.cups", "value": "1"}
    assert second.kwargs == {"feature": "service.cups", "value": "", "oldvalue": "1"}
    assert running.raw("admin.vm.feature.Get", "work", "service.cups") == ok("")
    record = stored_qube(running, "work")
    assert record is not None and record.features["service.cups"] == ""


def test_feature_remove_fires_delete_and_missing_is_an_error(running: RunningDaemon) -> None:
    running.call("admin.vm.feature.Set", "work", "skip-update", b"1")
    reader = running.open_events(dest="work")
    try:
        reader.next()
        assert running.raw("admin.vm.feature.Remove", "work", "skip-update") == ok()
        event = reader.wait_for(lambda r: r.event.startswith("domain-feature-delete:"))[-1]
    finally:
        reader.close()
    assert (event.event, event.kwargs) == (
        "domain-feature-delete:skip-update",
        {"feature": "skip-update"},
    )
    record = stored_qube(running, "work")
    assert record is not None and "skip-update" not in record.features
    assert running.raw("admin.vm.feature.Remove", "work", "skip-update") == error(
        "QubesFeatureNotFoundError", "Feature not set for domain work: skip-update"
    )


@pytest.mark.parametrize(
    "feature",
    [
        "deferred-netvm-original",
        "preload-dispvm",
        "preload-dispvm-completed",
        "preload-dispvm-in-progress",
    ],
)
def test_system_features_cannot_be_changed_through_the_api(
    running: RunningDaemon, feature: str
) -> None:
    running.in_loop(lambda: running.app.domains["default-dvm"].features.set(feature, "x"))
    before = qube_state(running, "default-dvm")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.feature.Set", "default-dvm", feature, b"1")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.feature.Remove", "default-dvm", feature)
    assert qube_state(running, "default-dvm") == before
    assert running.call("admin.vm.feature.Get", "default-dvm", feature) == "x"


@pytest.mark.parametrize(
    ("feature", "value"),
    [("bad*name", b"1"), ("ok-name", b"tab\there"), ("ok-name", "\u00e9".encode())],
)
def test_feature_set_refuses_bad_names_and_values(
    running: RunningDaemon, feature: str, value: bytes
) -> None:
    before = qube_state(running, "work")
    with pytest.raises(QubesValueError):
        running.call("admin.vm.feature.Set", "work", feature, value)
    assert qube_state(running, "work") == before


def test_feature_get_without_argument_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.feature.Get", "work") == error(
        "ProtocolError", "expected an argument"
    )


# --- tags --------------------------------------------------------------------------------


def test_tag_list_is_sorted_and_get_answers_1_or_0(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.tag.List", "anon-whonix") == ok(
        "anon-vm\naudiovm-dom0\nguivm-dom0\n"
    )
    assert running.raw("admin.vm.tag.Get", "anon-whonix", "anon-vm") == ok("1")
    assert running.raw("admin.vm.tag.Get", "work", "anon-vm") == ok("0")


def test_tag_set_and_remove_fire_events_and_are_stored(running: RunningDaemon) -> None:
    reader = running.open_events(dest="work")
    try:
        reader.next()
        assert running.raw("admin.vm.tag.Set", "work", "project-x") == ok()
        added = reader.wait_for(lambda r: r.event.startswith("domain-tag-add:"))[-1]
        record = stored_qube(running, "work")
        assert record is not None and "project-x" in record.tags
        assert running.raw("admin.vm.tag.Remove", "work", "project-x") == ok()
        removed = reader.wait_for(lambda r: r.event.startswith("domain-tag-delete:"))[-1]
    finally:
        reader.close()
    assert (added.event, added.kwargs) == ("domain-tag-add:project-x", {"tag": "project-x"})
    assert (removed.event, removed.kwargs) == ("domain-tag-delete:project-x", {"tag": "project-x"})
    record = stored_qube(running, "work")
    assert record is not None and "project-x" not in record.tags


def test_tag_remove_of_a_missing_tag_is_qubestagnotfounderror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.tag.Remove", "work", "nosuch") == error(
        "QubesTagNotFoundError", "Tag not set for domain work: nosuch"
    )
    with pytest.raises(QubesTagNotFoundError):  # a KeyError: tags.discard() works
        running.call("admin.vm.tag.Remove", "work", "nosuch")


@pytest.mark.parametrize("method", ["Get", "Set", "Remove"])
def test_invalid_tags_are_qubesinvalidtagerror(running: RunningDaemon, method: str) -> None:
    before = qube_state(running, "work")
    with pytest.raises(QubesInvalidTagError):
        running.call(f"admin.vm.tag.{method}", "work", "a.b")
    assert qube_state(running, "work") == before


@pytest.mark.parametrize("tag", ["created-by-sys-usb", "disp-created-by-sys-usb"])
def test_creator_tags_can_be_changed_only_by_dom0(running: RunningDaemon, tag: str) -> None:
    write_policy(
        running, "admin.vm.tag.Set * sys-usb work allow\nadmin.vm.tag.Remove * sys-usb work allow\n"
    )
    running.call("admin.vm.tag.Set", "work", "harmless", source="sys-usb")
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.tag.Set", "work", tag, source="sys-usb")
    assert running.call("admin.vm.tag.Get", "work", tag) == "0"
    running.call("admin.vm.tag.Set", "work", tag)  # dom0 may
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.tag.Remove", "work", tag, source="sys-usb")
    assert running.call("admin.vm.tag.Get", "work", tag) == "1"
    running.call("admin.vm.tag.Remove", "work", tag)
    assert running.call("admin.vm.tag.Get", "work", tag) == "0"
