"""admin.vm.firewall.Get / Set / Reload over the socket, firewall.xml and rule expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import EventReader, RunningDaemon

RULES = (b"action=accept proto=tcp dstports=443 dsthost=qubes-os.org\n"
         b"action=accept specialtarget=dns\n"
         b"action=drop proto=icmp comment=No ICMP\n"
         b"action=drop\n")
RULES_AS_GOT = (b"action=accept dsthost=qubes-os.org proto=tcp dstports=443-443\n"
                b"action=accept specialtarget=dns\n"
                b"action=drop proto=icmp comment=No ICMP\n"
                b"action=drop\n")


def firewall_file(daemon: RunningDaemon, name: str) -> Path:
    vm = daemon.in_loop(lambda: daemon.app.domains[name])
    return Path(daemon.daemon.system.qube_dir(vm)) / "firewall.xml"


def changed(reader: EventReader, name: str) -> list[Any]:
    return reader.wait_for(lambda r: r.event == "firewall-changed" and r.subject == name)


@pytest.fixture
def events(running: RunningDaemon) -> Iterator[EventReader]:
    reader = running.open_events()
    assert reader.next().event == "connection-established"
    yield reader
    reader.close()


def test_qube_without_firewall_file_accepts_everything(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.firewall.Get", "work") == b"0\0action=accept\n"
    assert not firewall_file(running, "work").exists()


def test_set_then_get_gives_the_rules_normalised(running: RunningDaemon,
                                                 events: EventReader) -> None:
    assert running.raw("admin.vm.firewall.Set", "work", payload=RULES) == b"0\0"
    assert running.raw("admin.vm.firewall.Get", "work") == b"0\0" + RULES_AS_GOT
    assert changed(events, "work")[-1].kwargs == {}
    text = firewall_file(running, "work").read_text()
    assert text.startswith("<?xml") and '<property name="dsthost">qubes-os.org</property>' in text


def test_rules_survive_a_restart(tmp_path: Path) -> None:
    first = RunningDaemon(tmp_path / "state", tmp_path / "one.sock")
    try:
        assert first.raw("admin.vm.firewall.Set", "personal", payload=RULES) == b"0\0"
    finally:
        first.close()
    second = RunningDaemon(tmp_path / "state", tmp_path / "two.sock")
    try:
        assert second.raw("admin.vm.firewall.Get", "personal") == b"0\0" + RULES_AS_GOT
        assert second.raw("admin.vm.firewall.Get", "work") == b"0\0action=accept\n"
    finally:
        second.close()


def test_bad_rule_list_is_refused_entirely(running: RunningDaemon) -> None:
    running.call("admin.vm.firewall.Set", "work", payload=RULES)
    before = firewall_file(running, "work").read_bytes()
    bad = b"action=accept proto=tcp dstports=80\naction=accept dstports=22\n"
    assert running.raw("admin.vm.firewall.Set", "work", payload=bad) == (
        b"2\0QubesValueError\0\0line 2: dstports: '22-22' needs proto=tcp or proto=udp; "
        b"the rule has no proto\0")
    assert running.raw("admin.vm.firewall.Get", "work") == b"0\0" + RULES_AS_GOT
    assert firewall_file(running, "work").read_bytes() == before


@pytest.mark.parametrize("payload, message", [
    (b"action=maybe\n", b"line 1: action: 'maybe' is not one of: accept, drop"),
    (b"proto=tcp\n", b"line 1: action: missing; every rule needs action=accept or drop"),
    (b"action=accept\n\naction=drop\n", b"line 2: empty; give one rule per line"),
    (b"action=accept comment=caf\xc3\xa9\n", b"line 1: not ASCII: b'action=accept comment=caf"
     b"\\xc3\\xa9'"),
])
def test_each_kind_of_bad_line_is_named(running: RunningDaemon, payload: bytes,
                                        message: bytes) -> None:
    assert running.raw("admin.vm.firewall.Set", "work", payload=payload) == (
        b"2\0QubesValueError\0\0" + message + b"\0")
    assert not firewall_file(running, "work").exists()


def test_empty_rule_list_drops_everything(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.firewall.Set", "vault", payload=b"") == b"0\0"
    assert running.raw("admin.vm.firewall.Get", "vault") == b"0\0"


def test_dom0_has_no_firewall(running: RunningDaemon) -> None:
    for method in ("Get", "Set", "Reload"):
        assert running.raw(f"admin.vm.firewall.{method}", "dom0") == (
            b"2\0ProtocolError\0\0expected destination to not be AdminVM\0")


def test_firewall_methods_take_no_argument(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.firewall.Get", "work", arg="x") == (
        b"2\0ProtocolError\0\0unexpected argument\0")


def test_reload_fires_firewall_changed(running: RunningDaemon, events: EventReader) -> None:
    assert running.raw("admin.vm.firewall.Reload", "sys-firewall") == b"0\0"
    assert changed(events, "sys-firewall")[-1].subject == "sys-firewall"


def test_expiring_rule_disappears_at_its_time(running: RunningDaemon,
                                              events: EventReader) -> None:
    expire = int(time.time()) + 2
    payload = f"action=accept expire={expire}\naction=drop\n".encode()
    running.call("admin.vm.firewall.Set", "work", payload=payload)
    assert running.raw("admin.vm.firewall.Get", "work") == (
        f"0\0action=accept expire={expire}\naction=drop\n".encode())
    changed(events, "work")  # the Set itself
    changed(events, "work")  # the expiry (the reader times out after 30 s)
    assert time.time() >= expire
    assert running.raw("admin.vm.firewall.Get", "work") == b"0\0action=drop\n"
    assert "expire" not in firewall_file(running, "work").read_text()


def test_already_expired_rules_are_not_kept(running: RunningDaemon) -> None:
    payload = b"action=accept expire=1000\naction=drop\n"
    assert running.raw("admin.vm.firewall.Set", "work", payload=payload) == b"0\0"
    assert running.raw("admin.vm.firewall.Get", "work") == b"0\0action=drop\n"
    assert "expire" not in firewall_file(running, "work").read_text()


def _write_before_start(tmp_path: Path, name: str, data: bytes) -> Path:
    first = RunningDaemon(tmp_path / "state", tmp_path / "one.sock")
    try:
        path = firewall_file(first, name)
    finally:
        first.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_expired_rules_in_a_file_are_dropped_after_start(tmp_path: Path) -> None:
    rule = ('<rule><properties><property name="action">{}</property>{}</properties></rule>')
    data = ('<?xml version="1.0"?><firewall version="2"><rules>'
            + rule.format("accept", '<property name="expire">1000</property>')
            + rule.format("drop", "") + "</rules></firewall>").encode()
    path = _write_before_start(tmp_path, "work", data)
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "two.sock")
    try:
        assert daemon.raw("admin.vm.firewall.Get", "work") == b"0\0action=drop\n"
        # the clean-up may be done before we could listen: check, else wait for its event
        done = threading.Event()

        def arm() -> None:
            work = daemon.app.domains["work"]
            keeper: Any = getattr(daemon.daemon, "firewalls")  # noqa: B009 - set by register()
            if keeper.get(work).next_expiry() is None:
                done.set()
                return
            daemon.app.events.subscribe(
                lambda subject, event, kwargs: done.set()
                if subject is work and event == "firewall-changed" else None)

        daemon.in_loop(arm)
        assert done.wait(30)
        assert "expire" not in path.read_text()
    finally:
        daemon.close()


def test_unreadable_firewall_file_fails_closed(tmp_path: Path) -> None:
    path = _write_before_start(tmp_path, "untrusted", b"<firewall version='2'><rules>")
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "two.sock")
    try:
        assert daemon.raw("admin.vm.firewall.Get", "untrusted") == b"0\0"
        assert path.read_bytes() == b"<firewall version='2'><rules>"  # left for the user
        daemon.call("admin.vm.firewall.Set", "untrusted", payload=b"action=accept\n")
        assert daemon.raw("admin.vm.firewall.Get", "untrusted") == b"0\0action=accept\n"
    finally:
        daemon.close()
