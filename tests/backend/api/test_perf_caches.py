"""The answer caches of the Admin API never serve a stale answer.

The response cache (``backend.api.cache``) and the per-caller ``admin.vm.List`` cache
must drop an answer on every change that could alter it: properties (computed
defaults included), features, tags, power state (with or without an event), qubes
added and removed, labels, policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend import errors
from backend.api import CALL_COUNTS_METHOD, Call, Dest, Dispatcher, MethodTable, Need
from backend.api.cache import ResponseCache
from backend.api.methods.qubes_props import getall_lines
from backend.events import EventBus
from backend.model.properties import NoValue
from backend.model.vm import PowerState
from backend.protocol import (
    decode_response,
    encode_request,
    format_getall_line,
    parse_request,
)
from tests.backend.daemon.conftest import RunningDaemon
from tests.backend.daemon.test_api_qubes_helpers import write_policy

# --- the cache on its own -----------------------------------------------------------------


def _same(dest: object) -> object:
    return None


def test_cache_keeps_nothing_until_it_follows_events() -> None:
    cache = ResponseCache()
    cache.put(b"req", b"0\0answer", "m", _same, None)
    assert cache.get(b"req") is None
    bus = EventBus()
    cache.follow(bus.subscribe)
    cache.put(b"req", b"0\0answer", "m", _same, None)
    assert cache.get(b"req") is not None


def test_any_event_empties_the_cache() -> None:
    bus = EventBus()
    cache = ResponseCache()
    cache.follow(bus.subscribe)
    cache.put(b"req", b"0\0answer", "m", _same, None)
    generation = cache.generation
    bus.fire(None, "anything-at-all")
    assert cache.get(b"req") is None
    assert len(cache) == 0
    assert cache.generation > generation


def test_an_answer_is_dropped_when_its_guard_changes() -> None:
    cache = ResponseCache()
    cache.follow(EventBus().subscribe)
    state = {"power": "Halted"}
    cache.put(b"req", b"0\0answer", "m", lambda dest: dest["power"], state)
    assert cache.get(b"req") is not None
    state["power"] = "Running"  # no event
    assert cache.get(b"req") is None
    assert len(cache) == 0


def test_cache_limits_drop_everything_rather_than_grow() -> None:
    cache = ResponseCache(max_entries=2, max_bytes=1000)
    cache.follow(EventBus().subscribe)
    for n in range(3):
        cache.put(b"req%d" % n, b"0\0x", "m", _same, None)
    assert len(cache) == 1
    cache.put(b"big", b"0\0" + b"x" * 2000, "m", _same, None)
    assert cache.get(b"big") is None


# --- the dispatcher with a fake table -----------------------------------------------------


class FakeQube:
    def __init__(self, name: str, admin: bool = False) -> None:
        self.name = name
        self.admin = admin

    def __str__(self) -> str:
        return self.name


DOM0, WORK, SYS_GUI = FakeQube("dom0", admin=True), FakeQube("work"), FakeQube("sys-gui")


class FakeResolver:
    def __init__(self, *qubes: FakeQube) -> None:
        self.by_name = {q.name: q for q in qubes}

    def resolve(self, ref: str) -> FakeQube:
        try:
            return self.by_name[ref]
        except KeyError:
            raise errors.QubesVMNotFoundError(ref) from None

    def is_adminvm(self, obj: Any) -> bool:
        return isinstance(obj, FakeQube) and obj.admin


class Reads:
    """Methods whose answers come from ``value``, counting handler runs."""

    def __init__(self) -> None:
        self.value = "one"
        self.runs = 0
        self.power = "Halted"
        self.bus = EventBus()
        self.table = MethodTable()
        self.table.cache.follow(self.bus.subscribe)

    def read(self, call: Call) -> str:
        self.runs += 1
        return self.value

    def fire_during(self, call: Call) -> str:
        self.runs += 1
        self.bus.fire(None, "something-changed")
        return self.value


def _table_with_reads() -> tuple[Reads, Dispatcher]:
    reads = Reads()
    table = reads.table

    @table.method("t.Read", arg=Need.OPTIONAL, payload=Need.NONE, dest=Dest.ANY,
                  cached_while=lambda dest: reads.power)
    def read(call: Call) -> str:
        return reads.read(call)

    @table.method("t.Plain", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def plain(call: Call) -> str:
        return reads.read(call)

    @table.method("t.Fires", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY,
                  cached_while=_same)
    def fires(call: Call) -> str:
        return reads.fire_during(call)

    def policy(source: Any, method: str, dest: Any, arg: str) -> None:
        return None

    resolver = FakeResolver(DOM0, WORK, SYS_GUI)
    return reads, Dispatcher(table, resolver, policy=policy)


def _call(dispatcher: Dispatcher, method: str, dest: str = "work", arg: str = "",
          source: str = "dom0") -> bytes:
    raw = encode_request(method, dest, arg, source=source)
    reply = dispatcher.cached(raw)
    if reply is not None:
        return reply
    outcome = dispatcher.dispatch(parse_request(raw), raw)
    assert outcome.result is None or isinstance(outcome.result, str)
    return outcome.reply or b"0\0" + (outcome.result or "").encode()


def test_a_repeated_read_is_answered_from_the_cache_and_still_counted() -> None:
    reads, dispatcher = _table_with_reads()
    assert _call(dispatcher, "t.Read") == b"0\0one"
    assert _call(dispatcher, "t.Read") == b"0\0one"
    assert reads.runs == 1
    assert dispatcher.call_counts()["t.Read"] == 2


def test_the_cached_answer_changes_after_an_event() -> None:
    reads, dispatcher = _table_with_reads()
    assert _call(dispatcher, "t.Read") == b"0\0one"
    reads.value = "two"
    reads.bus.fire(None, "property-set:x")
    assert _call(dispatcher, "t.Read") == b"0\0two"


def test_the_cached_answer_changes_when_its_guard_does_without_an_event() -> None:
    reads, dispatcher = _table_with_reads()
    assert _call(dispatcher, "t.Read") == b"0\0one"
    reads.value, reads.power = "two", "Running"
    assert _call(dispatcher, "t.Read") == b"0\0two"


def test_arguments_and_destinations_are_cached_apart() -> None:
    reads, dispatcher = _table_with_reads()
    _call(dispatcher, "t.Read", "work", "a")
    reads.value = "two"
    assert _call(dispatcher, "t.Read", "work", "b") == b"0\0two"
    assert _call(dispatcher, "t.Read", "dom0", "a") == b"0\0two"
    assert _call(dispatcher, "t.Read", "work", "a") == b"0\0one"


def test_calls_from_other_qubes_are_never_cached() -> None:
    reads, dispatcher = _table_with_reads()
    _call(dispatcher, "t.Read", source="sys-gui")
    _call(dispatcher, "t.Read", source="sys-gui")
    assert reads.runs == 2
    assert len(reads.table.cache) == 0


def test_methods_without_cached_while_are_never_cached() -> None:
    reads, dispatcher = _table_with_reads()
    _call(dispatcher, "t.Plain")
    _call(dispatcher, "t.Plain")
    assert reads.runs == 2


def test_an_answer_computed_across_an_event_is_not_kept() -> None:
    reads, dispatcher = _table_with_reads()
    _call(dispatcher, "t.Fires")
    _call(dispatcher, "t.Fires")
    assert reads.runs == 2


def test_a_qube_removed_is_not_found_after_an_event() -> None:
    reads, dispatcher = _table_with_reads()
    resolver = dispatcher._resolver
    assert isinstance(resolver, FakeResolver)
    _call(dispatcher, "t.Read", "work")
    del resolver.by_name["work"]
    reads.bus.fire(None, "domain-delete", vm=WORK)
    with pytest.raises(errors.QubesVMNotFoundError):
        _call(dispatcher, "t.Plain", "work")


# --- the real daemon ---------------------------------------------------------------------


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


def _get(running: RunningDaemon, name: str, prop: str) -> str:
    return running.call("admin.vm.property.Get", name, prop)


def _getall(running: RunningDaemon, name: str) -> dict[str, str]:
    text = running.call("admin.vm.property.GetAll", name)
    return dict(line.split(" ", 1) for line in text.splitlines())


def _list(running: RunningDaemon, dest: str = "dom0", source: str = "dom0") -> dict[str, str]:
    text = running.call("admin.vm.List", dest, source=source)
    return {line.split(" ", 1)[0]: line for line in text.splitlines()}


def test_getall_lines_are_those_of_format_getall_line(running: RunningDaemon) -> None:
    def reference(holder: Any) -> list[str]:
        lines = []
        for name in holder.property_names():
            prop = holder.PROPS[name]
            try:
                value = holder.get(name)
            except NoValue:
                lines.append(format_getall_line(name, None, prop.type.value, is_default=True))
                continue
            lines.append(format_getall_line(
                name, prop.to_wire(value), prop.type.value, is_default=holder.is_default(name)
            ))
        return lines

    running.call("admin.vm.property.Set", "work", "kernelopts", b"a\\b")

    def compare() -> int:
        holders = [running.app.globals, *running.app.domains]
        for holder in holders:
            assert getall_lines(holder) == reference(holder), holder
        return len(holders)

    assert running.in_loop(compare) > 10
    assert _getall(running, "work")["kernelopts"] == "default=False type=str a\\\\b"


def test_get_changes_after_set_and_reset(running: RunningDaemon) -> None:
    assert _get(running, "work", "vcpus") == "default=True type=int 2"
    running.call("admin.vm.property.Set", "work", "vcpus", b"4")
    assert _get(running, "work", "vcpus") == "default=False type=int 4"
    assert _getall(running, "work")["vcpus"] == "default=False type=int 4"
    running.call("admin.vm.property.Reset", "work", "vcpus")
    assert _get(running, "work", "vcpus") == "default=True type=int 2"
    assert _getall(running, "work")["vcpus"] == "default=True type=int 2"


def test_computed_defaults_follow_the_global_they_come_from(running: RunningDaemon) -> None:
    assert _get(running, "work", "netvm") == "default=True type=vm sys-firewall"
    assert _getall(running, "work")["netvm"] == "default=True type=vm sys-firewall"
    assert running.call("admin.property.Get", "dom0", "default_netvm") == (
        "default=False type=vm sys-firewall"
    )
    running.call("admin.property.Set", "dom0", "default_netvm", b"sys-whonix")
    assert _get(running, "work", "netvm") == "default=True type=vm sys-whonix"
    assert _getall(running, "work")["netvm"] == "default=True type=vm sys-whonix"
    assert running.call("admin.property.Get", "dom0", "default_netvm") == (
        "default=False type=vm sys-whonix"
    )
    assert running.call("admin.vm.property.GetDefault", "work", "netvm") == "type=vm sys-whonix"


def test_computed_defaults_follow_the_template(running: RunningDaemon) -> None:
    before = _get(running, "work", "memory")
    running.call("admin.vm.property.Set", "fedora-42", "memory", b"1234")
    assert before != _get(running, "work", "memory") == "default=True type=int 1234"
    assert _getall(running, "work")["memory"] == "default=True type=int 1234"


def test_features_change_the_values_derived_from_them(running: RunningDaemon) -> None:
    assert _get(running, "work", "icon") == "default=True type=str appvm-blue"
    running.call("admin.vm.feature.Set", "work", "servicevm", b"1")
    assert _get(running, "work", "icon") == "default=True type=str servicevm-blue"
    assert _getall(running, "work")["icon"] == "default=True type=str servicevm-blue"
    running.call("admin.vm.feature.Remove", "work", "servicevm")
    assert _get(running, "work", "icon") == "default=True type=str appvm-blue"


def test_tags_and_labels_empty_the_cache(running: RunningDaemon) -> None:
    cache = running.daemon.table.cache
    _get(running, "work", "label")
    assert running.in_loop(lambda: len(cache)) > 0
    running.call("admin.vm.tag.Set", "work", "my-tag")
    assert running.in_loop(lambda: len(cache)) == 0
    _get(running, "work", "label")
    running.call("admin.label.Create", "dom0", "pink", b"0xff00ff")
    assert running.in_loop(lambda: len(cache)) == 0
    _get(running, "work", "label")
    running.call("admin.vm.property.Set", "work", "label", b"pink")
    assert _get(running, "work", "label") == "default=False type=label pink"
    assert _get(running, "work", "icon") == "default=True type=str appvm-pink"


def test_list_and_runtime_values_follow_start_and_shutdown(running: RunningDaemon) -> None:
    assert "state=Halted" in _list(running)["vault"]
    assert "state=Halted" in _list(running, "vault")["vault"]
    assert _get(running, "vault", "xid") == "default=True type=int -1"
    running.call("admin.vm.Start", "vault")
    assert "state=Running" in _list(running)["vault"]
    assert "state=Running" in _list(running, "vault")["vault"]
    assert _get(running, "vault", "xid") != "default=True type=int -1"
    assert _getall(running, "vault")["xid"] != "default=True type=int -1"
    running.call("admin.vm.Kill", "vault")
    assert "state=Halted" in _list(running)["vault"]
    assert _get(running, "vault", "xid") == "default=True type=int -1"


def test_power_states_changed_without_an_event_are_seen(running: RunningDaemon) -> None:
    assert "state=Halted" in _list(running)["personal"]
    assert "state=Halted" in _list(running, "personal")["personal"]
    _getall(running, "personal")
    _get(running, "personal", "xid")

    def change_quietly() -> None:  # as the lifecycle does for some libvirt states
        vm = running.app.domains["personal"]
        vm.power_state = PowerState.CRASHED
        vm.runtime.xid = 42

    running.in_loop(change_quietly)
    assert "state=Crashed" in _list(running)["personal"]
    assert "state=Crashed" in _list(running, "personal")["personal"]
    assert _get(running, "personal", "xid") == "default=True type=int 42"
    assert _getall(running, "personal")["xid"] == "default=True type=int 42"


def test_list_follows_qubes_created_and_removed(running: RunningDaemon) -> None:
    assert "newvm" not in _list(running)
    running.call("admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=newvm label=red")
    assert "newvm" in _list(running)
    assert _get(running, "newvm", "label") == "default=False type=label red"
    running.call("admin.vm.Remove", "newvm")
    assert "newvm" not in _list(running)
    with pytest.raises(errors.QubesVMNotFoundError):
        _get(running, "newvm", "label")
    running.call("admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=newvm label=blue")
    assert _get(running, "newvm", "label") == "default=False type=label blue"


def test_list_of_other_callers_follows_the_policy(running: RunningDaemon) -> None:
    write_policy(running, "admin.vm.List * sys-usb dom0 allow\n"
                          "admin.vm.List * sys-usb work allow\n")
    assert sorted(_list(running, source="sys-usb")) == ["dom0", "work"]
    write_policy(running, "admin.vm.List * sys-usb dom0 allow\n"
                          "admin.vm.List * sys-usb @tag:listed allow\n")
    assert sorted(_list(running, source="sys-usb")) == ["dom0"]
    running.call("admin.vm.tag.Set", "personal", "listed")
    assert sorted(_list(running, source="sys-usb")) == ["dom0", "personal"]
    assert "work" in _list(running)  # dom0's own answer is apart


def test_cached_answers_are_counted_as_calls(running: RunningDaemon) -> None:
    def count() -> int:
        text = running.call(CALL_COUNTS_METHOD)
        counts = dict(line.split(" ") for line in text.splitlines())
        return int(counts.get("admin.vm.property.Get", 0))

    before = count()
    for _ in range(3):
        _get(running, "work", "netvm")
    assert count() - before == 3


def test_keyword_adminvm_and_uuid_references_get_the_same_answers(
    running: RunningDaemon,
) -> None:
    uuid = running.in_loop(lambda: running.app.domains["work"].uuid)
    by_name = running.raw("admin.vm.property.Get", "work", "vcpus")
    assert running.raw("admin.vm.property.Get", f"uuid:{uuid}", "vcpus") == by_name
    running.call("admin.vm.property.Set", "work", "vcpus", b"3")
    assert decode_response(
        running.raw("admin.vm.property.Get", f"uuid:{uuid}", "vcpus")
    ) == "default=False type=int 3"
