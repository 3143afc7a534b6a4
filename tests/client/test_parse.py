"""Pure parts of the client: answer parsers, the bulk format, event transitions."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from backend.client import PowerState, PropertyValue, QubeClass, QubeSnapshot
from backend.client.bulk import parse_all_data
from backend.client.parse import parse_stats, parse_vm_list, parse_volume_info
from backend.client.transitions import EventKind, apply_power, classify
from backend.protocol import EventRecord, QubesDaemonCommunicationError


def snapshot(state: PowerState = PowerState.HALTED) -> QubeSnapshot:
    return QubeSnapshot("work", QubeClass.APP_VM, state, None, MappingProxyType({}))


def test_vm_list_lines_with_and_without_uuid() -> None:
    entries = parse_vm_list(
        "dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000\n"
        "work class=AppVM state=Halted\n"
        "odd class=FutureVM state=Hibernating extra=1\n"
    )
    assert entries["dom0"].uuid == "00000000-0000-0000-0000-000000000000"
    assert entries["work"].uuid is None and entries["work"].state is PowerState.HALTED
    assert entries["odd"].klass is QubeClass.UNKNOWN and entries["odd"].state is PowerState.NA


def test_vm_list_line_without_class_is_a_protocol_error() -> None:
    with pytest.raises(QubesDaemonCommunicationError):
        parse_vm_list("work state=Halted\n")


def test_volume_info_types_and_missing_keys() -> None:
    info = parse_volume_info("private", "pool=varlibqubes\nvid=appvms/work/private\n"
                             "size=2147483648\nusage=1024\nrw=True\nsource=\n"
                             "save_on_stop=True\nsnap_on_start=False\nrevisions_to_keep=1\n"
                             "ephemeral=False\npath=/a=b\n")
    assert info.size == 2147483648 and info.usage == 1024
    assert info.rw and info.save_on_stop and not info.snap_on_start
    assert info.source is None and info.path == "/a=b"
    assert info.is_outdated is None and info.ephemeral is False


def test_stats_record() -> None:
    stats = parse_stats("work", {"memory_kb": "409600", "cpu_time": "1200", "cpu_usage": "7",
                                 "online_vcpus": "2"})
    assert (stats.memory_kb, stats.cpu_usage, stats.online_vcpus) == (409600, 7, 2)
    assert stats.memory_assigned_total is None


def test_bulk_answer_blocks_escapes_and_unknown_kinds() -> None:
    data = parse_all_data(
        "global\n"
        "p default_netvm default=False type=vm sys-firewall\n"
        "qube work class=AppVM state=Running uuid=1b4e28ba-2fa1-11d2-883f-0016d3cca427\n"
        "p label default=False type=label blue\n"
        "p kernelopts default=True type=str a\\\\b\\nc\n"
        "f gui 1\n"
        "f empty \n"
        "f multi two\\nlines\n"
        "t audiovm-dom0\n"
        "x something new\n"
        "qube vault class=AppVM state=Halted uuid=2b4e28ba-2fa1-11d2-883f-0016d3cca427\n"
    )
    assert data.global_properties == {"default_netvm": PropertyValue(False, "vm", "sys-firewall")}
    work = data.qubes["work"]
    assert work.state is PowerState.RUNNING and work.label == "blue"
    assert work.prop("kernelopts") == "a\\b\nc"
    assert work.features == {"gui": "1", "empty": "", "multi": "two\nlines"}
    assert work.tags == {"audiovm-dom0"}
    assert data.qubes["vault"].properties == {} and data.qubes["vault"].tags == frozenset()


def test_bulk_answer_without_global_block() -> None:
    data = parse_all_data("qube work class=AppVM state=Halted\n")
    assert data.global_properties is None and list(data.qubes) == ["work"]


@pytest.mark.parametrize(("event", "before", "after"), [
    ("domain-pre-start", PowerState.HALTED, PowerState.TRANSIENT),
    ("domain-spawn", PowerState.TRANSIENT, PowerState.TRANSIENT),
    ("domain-unpaused", PowerState.TRANSIENT, PowerState.TRANSIENT),  # part of a start
    ("domain-start", PowerState.TRANSIENT, PowerState.RUNNING),
    ("domain-paused", PowerState.RUNNING, PowerState.PAUSED),
    ("domain-unpaused", PowerState.PAUSED, PowerState.RUNNING),
    ("domain-pre-shutdown", PowerState.RUNNING, PowerState.HALTING),
    ("domain-shutdown-failed", PowerState.HALTING, PowerState.RUNNING),
    ("domain-shutdown", PowerState.HALTING, PowerState.HALTED),
    ("domain-start-failed", PowerState.TRANSIENT, PowerState.HALTED),
])
def test_power_transitions(event: str, before: PowerState, after: PowerState) -> None:
    assert classify(EventRecord("work", event, {})) is EventKind.POWER
    assert apply_power(snapshot(before), event).state is after


def test_event_classification() -> None:
    assert classify(EventRecord(None, "connection-established", {})) is EventKind.CONNECTED
    assert classify(EventRecord(None, "domain-add", {"vm": "x"})) is EventKind.QUBE_ADDED
    assert classify(EventRecord(None, "property-set:default_netvm", {})) is EventKind.PROPERTY
    assert classify(EventRecord("w", "property-reset:xid", {})) is EventKind.PROPERTY
    assert classify(EventRecord("w", "domain-feature-delete:gui", {})) is EventKind.FEATURE
    assert classify(EventRecord("w", "domain-tag-add:x", {})) is EventKind.TAG
    assert classify(EventRecord("w", "domain-volume-import-end", {})) is EventKind.VOLUMES
    assert classify(EventRecord("w", "property-pre-set:netvm", {})) is EventKind.OTHER
    assert classify(EventRecord("w", "domain-feature-pre-set:gui", {})) is EventKind.OTHER
