"""admin.vm.property.* and admin.property.*: formats, errors, events, durability."""

from __future__ import annotations

import pytest

from backend.errors import ProtocolError, QubesNoSuchPropertyError, QubesPropertyValueError
from backend.protocol import parse_getall, parse_property_value

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, ok, qube_names, qube_state, stored, stored_qube

# --- Get ------------------------------------------------------------------------------


def test_get_of_an_explicit_value_says_default_false(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "sys-firewall", "netvm") == ok(
        "default=False type=vm sys-net"
    )
    assert running.raw("admin.vm.property.Get", "work", "label") == ok(
        "default=False type=label blue"
    )


def test_get_of_a_default_value_says_default_true(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "work", "netvm") == ok(
        "default=True type=vm sys-firewall"
    )
    assert running.raw("admin.vm.property.Get", "work", "vcpus") == ok("default=True type=int 2")
    assert running.raw("admin.vm.property.Get", "work", "debug") == ok(
        "default=True type=bool False"
    )


def test_get_of_a_property_without_value_has_the_empty_form(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "work", "backup_timestamp") == ok(
        "default=True type=int "
    )
    assert running.raw("admin.vm.property.Get", "vault", "netvm") == ok("default=False type=vm ")


def test_get_of_an_unknown_property_is_qubesnosuchpropertyerror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "work", "nosuch") == error(
        "QubesNoSuchPropertyError", "Invalid property 'nosuch' of work"
    )
    with pytest.raises(QubesNoSuchPropertyError):  # an AttributeError for the client
        running.call("admin.vm.property.Get", "work", "nosuch")


def test_get_without_argument_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "work") == error(
        "ProtocolError", "expected an argument"
    )


def test_get_of_an_unknown_qube_is_qubesvmnotfounderror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "nosuch", "label") == error(
        "QubesVMNotFoundError", "No such domain: 'nosuch'"
    )


def test_dom0_properties_are_served_by_the_vm_family(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Get", "dom0", "label") == ok(
        "default=False type=label black"
    )


# --- GetAll -------------------------------------------------------------------------------


@pytest.mark.parametrize("holder", ["qube", "global"])
def test_getall_of_every_holder_parses_and_agrees_with_get(
    running: RunningDaemon, holder: str
) -> None:
    targets = qube_names(running) if holder == "qube" else ["dom0"]
    family = "admin.vm.property" if holder == "qube" else "admin.property"
    for name in targets:
        raw = running.raw(f"{family}.GetAll", name)
        assert raw.startswith(b"0\0") and raw.endswith(b"\n"), name
        values = parse_getall(raw[2:].decode())
        names = running.call(f"{family}.List", name).splitlines()
        assert sorted(values) == names and len(names) > 10, name
        lines = raw[2:].decode().splitlines()
        assert [line.split(" ", 1)[0] for line in lines] == sorted(names)
        for prop, value in values.items():
            single = parse_property_value(running.call(f"{family}.Get", name, prop))
            assert single == value, (name, prop)


def test_getall_escapes_backslash_and_newline(running: RunningDaemon) -> None:
    running.call("admin.vm.property.Set", "work", "kernelopts", b"a\\b\nc")
    body = running.call("admin.vm.property.GetAll", "work")
    assert "kernelopts default=False type=str a\\\\b\\nc\n" in body
    assert parse_getall(body)["kernelopts"].value == "a\\b\nc"
    assert running.call("admin.vm.property.Get", "work", "kernelopts") == (
        "default=False type=str a\\b\nc"
    )


def test_getall_follows_changes_of_the_qube_and_of_what_its_defaults_follow(
    running: RunningDaemon,
) -> None:
    before = parse_getall(running.call("admin.vm.property.GetAll", "work"))
    assert before["vcpus"].value == "2"
    running.call("admin.vm.property.Set", "fedora-42", "vcpus", b"3")  # inherited default
    running.call("admin.vm.property.Set", "work", "label", b"green")
    after = parse_getall(running.call("admin.vm.property.GetAll", "work"))
    assert (after["vcpus"].value, after["vcpus"].is_default) == ("3", True)
    assert after["label"].value == "green"


# --- GetDefault, List, Help ------------------------------------------------------------------


def test_getdefault_answers_the_value_after_a_reset(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.GetDefault", "sys-firewall", "netvm") == ok(
        "type=vm sys-firewall"
    )
    assert running.raw("admin.vm.property.GetDefault", "work", "memory") == ok("type=int 400")


def test_getdefault_is_empty_when_there_is_no_default(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.GetDefault", "work", "label") == ok()
    assert running.raw("admin.property.GetDefault", "dom0", "default_template") == ok()


def test_getdefault_of_an_unknown_property_is_an_error(running: RunningDaemon) -> None:
    with pytest.raises(QubesNoSuchPropertyError):
        running.call("admin.vm.property.GetDefault", "work", "nosuch")


def test_list_names_the_properties_sorted(running: RunningDaemon) -> None:
    names = running.call("admin.vm.property.List", "work").splitlines()
    assert names == sorted(names)
    assert {"label", "netvm", "template", "vcpus", "xid"} <= set(names)
    assert "template" not in running.call("admin.vm.property.List", "fedora-42").splitlines()


def test_help_answers_the_documentation(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Help", "work", "vcpus") == ok("Number of virtual CPUs")
    with pytest.raises(QubesNoSuchPropertyError):
        running.call("admin.vm.property.Help", "work", "nosuch")


# --- Set and Reset ---------------------------------------------------------------------------


def test_set_changes_the_value_fires_pre_set_then_set_and_is_on_disk(
    running: RunningDaemon,
) -> None:
    reader = running.open_events(dest="work")
    try:
        assert reader.next().event == "connection-established"
        assert running.raw("admin.vm.property.Set", "work", "vcpus", b"4") == ok()
        record = stored_qube(running, "work")
        assert record is not None and record.properties["vcpus"] == "4"
        records = reader.wait_for(lambda r: r.event == "property-set:vcpus")
    finally:
        reader.close()
    events = [(r.event, r.kwargs) for r in records if r.event.endswith(":vcpus")]
    assert events[0] == (
        "property-pre-set:vcpus",
        {"name": "vcpus", "newvalue": "4", "oldvalue": "2"},
    )
    assert events[-1] == ("property-set:vcpus", {"name": "vcpus", "newvalue": "4", "oldvalue": "2"})
    assert running.call("admin.vm.property.Get", "work", "vcpus") == "default=False type=int 4"


def test_set_of_a_qube_reference_by_name_and_empty_for_none(running: RunningDaemon) -> None:
    running.call("admin.vm.property.Set", "work", "netvm", b"sys-whonix")
    assert running.call("admin.vm.property.Get", "work", "netvm") == (
        "default=False type=vm sys-whonix"
    )
    running.call("admin.vm.property.Set", "work", "netvm", b"")
    assert running.call("admin.vm.property.Get", "work", "netvm") == "default=False type=vm "


@pytest.mark.parametrize(
    ("prop", "payload"),
    [
        ("vcpus", b"many"),
        ("vcpus", b"0"),
        ("debug", b"maybe"),
        ("netvm", b"nosuch"),
        ("netvm", b"work"),  # does not provide network
        ("virt_mode", b"xen"),
        ("mac", b"00:16"),
        ("default_user", "b\u00e4r".encode()),  # not ASCII
    ],
)
def test_set_of_a_bad_value_is_qubespropertyvalueerror_and_changes_nothing(
    running: RunningDaemon, prop: str, payload: bytes
) -> None:
    before = qube_state(running, "work")
    on_disk = stored_qube(running, "work")
    raw = running.raw("admin.vm.property.Set", "work", prop, payload)
    assert raw.startswith(b"2\0QubesPropertyValueError\0\0work: " + prop.encode() + b": ")
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.vm.property.Set", "work", prop, payload)
    assert qube_state(running, "work") == before
    assert stored_qube(running, "work") == on_disk


def test_a_percent_sign_in_a_message_is_doubled_on_the_wire(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.property.Set", "work", "vcpus", b"50%")
    assert raw == error("QubesPropertyValueError", "work: vcpus: Invalid integer value '50%'")
    assert b"'50%%'" in raw
    with pytest.raises(QubesPropertyValueError) as info:
        running.call("admin.vm.property.Set", "work", "vcpus", b"50%")
    assert str(info.value) == "work: vcpus: Invalid integer value '50%'"


@pytest.mark.parametrize("prop", ["name", "qid", "uuid", "klass", "updateable", "xid"])
def test_set_of_a_write_once_or_read_only_property_is_refused(
    running: RunningDaemon, prop: str
) -> None:
    before = qube_state(running, "work")
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.vm.property.Set", "work", prop, b"1")
    assert qube_state(running, "work") == before


def test_set_of_an_unknown_property_is_qubesnosuchpropertyerror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.property.Set", "work", "nosuch", b"1") == error(
        "QubesNoSuchPropertyError", "Invalid property 'nosuch' of work"
    )


def test_reset_returns_to_the_default_and_fires_reset(running: RunningDaemon) -> None:
    running.call("admin.vm.property.Set", "work", "memory", b"800")
    reader = running.open_events(dest="work")
    try:
        reader.next()
        assert running.raw("admin.vm.property.Reset", "work", "memory") == ok()
        records = reader.wait_for(lambda r: r.event == "property-reset:memory")
    finally:
        reader.close()
    assert records[-1].kwargs == {"name": "memory", "oldvalue": "800"}
    assert running.call("admin.vm.property.Get", "work", "memory") == "default=True type=int 400"
    record = stored_qube(running, "work")
    assert record is not None and "memory" not in record.properties


def test_reset_of_a_non_resettable_property_is_refused(running: RunningDaemon) -> None:
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.vm.property.Reset", "work", "template")
    assert running.call("admin.vm.property.Get", "work", "template") == (
        "default=False type=vm fedora-42"
    )


def test_reset_with_a_payload_is_a_protocol_error(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError, match="unexpected payload"):
        running.call("admin.vm.property.Reset", "work", "memory", b"1")


# --- global properties ---------------------------------------------------------------------


def test_global_get_set_reset_round_trip(running: RunningDaemon) -> None:
    assert running.raw("admin.property.Get", "dom0", "default_netvm") == ok(
        "default=False type=vm sys-firewall"
    )
    reader = running.open_events()
    try:
        reader.next()
        assert running.raw("admin.property.Set", "dom0", "stats_interval", b"7") == ok()
        record = reader.wait_for(lambda r: r.event == "property-set:stats_interval")[-1]
    finally:
        reader.close()
    assert record.subject is None
    assert stored(running).properties["stats_interval"] == "7"
    running.call("admin.property.Reset", "dom0", "stats_interval")
    assert running.call("admin.property.Get", "dom0", "stats_interval") == (
        "default=True type=int 3"
    )
    assert "stats_interval" not in stored(running).properties


def test_global_set_of_a_bad_value_changes_nothing(running: RunningDaemon) -> None:
    before = stored(running).properties
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.property.Set", "dom0", "default_template", b"work")
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.property.Set", "dom0", "maxmem", b"1")  # read-only
    assert stored(running).properties == before
    assert running.call("admin.property.Get", "dom0", "default_template") == (
        "default=False type=vm fedora-42"
    )


def test_global_family_to_a_qube_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.property.Get", "work", "default_netvm") == error(
        "ProtocolError", "expected destination to be AdminVM"
    )


def test_global_unknown_property_names_dom0(running: RunningDaemon) -> None:
    assert running.raw("admin.property.Get", "dom0", "vcpus") == error(
        "QubesNoSuchPropertyError", "Invalid property 'vcpus' of dom0"
    )
