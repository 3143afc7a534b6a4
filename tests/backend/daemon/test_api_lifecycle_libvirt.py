"""The daemon and libvirt: domain XML, changes made outside the daemon, reconnection,
live netvm changes and the admin.vm.Stats stream."""

from __future__ import annotations

import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.daemon import Daemon
from backend.lifecycle import virtops
from backend.protocol import encode_request
from backend.system import System
from backend.virt.connection import VirtConnection

from .conftest import EventReader, RunningDaemon


@pytest.fixture
def events(running: RunningDaemon) -> Iterator[EventReader]:
    reader = running.open_events()
    assert reader.next().event == "connection-established"
    try:
        yield reader
    finally:
        reader.close()


def conn_of(running: RunningDaemon) -> VirtConnection:
    conn = running.daemon.lifecycle.connection
    assert conn is not None
    return conn


def uuid_of(running: RunningDaemon, name: str) -> str:
    return str(running.in_loop(lambda: running.app.domains[name].uuid))


def state(running: RunningDaemon, name: str) -> str:
    return str(running.in_loop(lambda: running.app.domains[name].power_state.value))


def until(reader: EventReader, subject: str, event: str) -> list[Any]:
    return reader.wait_for(lambda r: r.subject == subject and r.event == event)


def test_started_qube_has_its_disks_and_interface_in_libvirt(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "work")
    dom = ET.fromstring(running.run(conn_of(running).xml(uuid_of(running, "work"))))
    assert dom.get("type") == "xen" and dom.findtext("name") == "work"
    disks = {
        str(d.find("target").get("dev")): str(d.find("source").get("dev"))  # type: ignore[union-attr]
        for d in dom.findall("devices/disk")
    }
    assert sorted(disks) == ["xvda", "xvdb", "xvdc", "xvdd"]
    state_dir = str(running.state_dir)
    assert all(path.startswith(state_dir) for path in disks.values())
    assert "/appvms/work/" in disks["xvdb"] and disks["xvdd"].endswith("/modules.img")
    (iface,) = dom.findall("devices/interface")
    assert iface.find("backenddomain").get("name") == "sys-firewall"  # type: ignore[union-attr]
    ip = running.in_loop(lambda: running.app.domains["work"].get("ip"))
    assert ip in [e.get("address") for e in iface.findall("ip")]
    assert dom.findtext("vcpu") == "2"
    assert int(dom.get("id", "-1")) == running.in_loop(
        lambda: running.app.domains["work"].get("xid")
    )


def test_a_domain_destroyed_outside_the_daemon_is_handled_as_stopped(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "vault")
    running.run(conn_of(running).destroy(uuid_of(running, "vault")))
    records = until(events, "vault", "domain-shutdown")
    assert [r.event for r in records if r.subject == "vault"][-5:] == [
        "domain-stopped",
        "property-reset:xid",
        "property-reset:stubdom_xid",
        "property-reset:start_time",
        "domain-shutdown",
    ]
    assert state(running, "vault") == "Halted"
    assert not running.in_loop(lambda: running.daemon.system.storages["vault"].is_running())
    assert running.raw("admin.vm.Start", "vault") == b"0\x00"


def test_pause_and_resume_outside_the_daemon_are_reported(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "vault")
    conn, uuid = conn_of(running), uuid_of(running, "vault")
    running.run(conn.suspend(uuid))
    until(events, "vault", "domain-paused")
    assert state(running, "vault") == "Paused"
    running.run(conn.resume(uuid))
    until(events, "vault", "domain-unpaused")
    assert state(running, "vault") == "Running"


def close_libvirt_underneath(running: RunningDaemon) -> None:
    raw = running.in_loop(lambda: conn_of(running)._conn)
    closer = threading.Thread(target=raw.close)
    closer.start()
    closer.join()


def test_reconnects_when_libvirt_goes_away_and_the_states_follow(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "work")
    assert conn_of(running).generation == 1
    close_libvirt_underneath(running)
    # the next call notices, reconnects and keeps serving; this daemon's test:///<file>
    # world comes back empty (a hypervisor that lost its domains), so every qube
    # that ran must now be halted
    running.call("admin.vm.CurrentState", "work")
    until(events, "work", "domain-shutdown")
    running.run(running.daemon.lifecycle.settle())
    assert conn_of(running).generation == 2
    assert [state(running, n) for n in ("sys-net", "sys-firewall", "work")] == ["Halted"] * 3
    assert running.raw("admin.vm.Start", "personal") == b"0\x00"
    assert [state(running, n) for n in ("sys-firewall", "personal")] == ["Running"] * 2


class SharedWorldDaemon(RunningDaemon):
    """A daemon on ``test:///default``, whose domains outlive a reconnection (like a
    restarted libvirtd's); it also holds libvirt's own demo domain ``test``."""

    async def _make(self, system: System) -> Daemon:
        daemon = Daemon(system, socket_path=self.socket_path, libvirt_uri="test:///default")
        await daemon.start()
        return daemon


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = SharedWorldDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


def test_after_reconnecting_running_qubes_stay_running(shared: RunningDaemon) -> None:
    shared.call("admin.vm.Start", "vault")
    shared.call("admin.vm.Start", "untrusted")
    shared.call("admin.vm.Pause", "untrusted")
    close_libvirt_underneath(shared)
    assert shared.call("admin.vm.CurrentState", "vault").endswith("power_state=Running")
    shared.run(shared.daemon.lifecycle.settle())
    assert conn_of(shared).generation == 2
    assert [state(shared, n) for n in ("vault", "untrusted", "work")] == [
        "Running",
        "Paused",
        "Halted",
    ]
    shared.call("admin.vm.Unpause", "untrusted")
    assert shared.raw("admin.vm.Kill", "vault") == b"0\x00"
    assert state(shared, "vault") == "Halted"


def test_netvm_change_of_a_running_qube_replugs_its_interface(
    running: RunningDaemon, monkeypatch: pytest.MonkeyPatch, events: EventReader
) -> None:
    plugged: list[tuple[str, str, str]] = []

    async def attach(conn: Any, uuid: str, xml: str) -> None:
        plugged.append(("attach", uuid, xml))

    async def detach(conn: Any, uuid: str, xml: str) -> None:
        plugged.append(("detach", uuid, xml))

    monkeypatch.setattr(virtops, "attach_device", attach)
    monkeypatch.setattr(virtops, "detach_device", detach)
    running.call("admin.vm.Start", "work")
    uuid = uuid_of(running, "work")
    running.in_loop(lambda: running.app.domains["work"].set("netvm", "sys-net"))
    running.run(running.daemon.lifecycle.settle())
    assert [(op, u) for op, u, _ in plugged] == [("detach", uuid), ("attach", uuid)]
    backends = [
        ET.fromstring(xml).find("backenddomain").get("name")  # type: ignore[union-attr]
        for _, _, xml in plugged
    ]
    assert backends == ["sys-firewall", "sys-net"]
    connect = until(events, "sys-net", "net-domain-connect")[-1]
    assert connect.kwargs == {"vm": "work"}
    # the persistent definition follows too
    inactive = ET.fromstring(running.run(conn_of(running).xml(uuid, inactive=True)))
    assert [b.get("name") for b in inactive.findall("devices/interface/backenddomain")] == [
        "sys-net"
    ]


def test_netvm_change_on_a_driver_without_hotplug_keeps_serving(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "work")
    uuid = uuid_of(running, "work")
    running.in_loop(lambda: running.app.domains["work"].set("netvm", ""))
    running.run(running.daemon.lifecycle.settle())
    inactive = ET.fromstring(running.run(conn_of(running).xml(uuid, inactive=True)))
    assert inactive.findall("devices/interface") == []
    assert state(running, "work") == "Running"
    running.call("admin.vm.Shutdown", "work", "wait")
    running.call("admin.vm.Start", "work")  # started again without a netvm
    live = ET.fromstring(running.run(conn_of(running).xml(uuid)))
    assert live.findall("devices/interface") == []


def test_stats_stream_reports_running_qubes(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "work")
    reader = running.open_events("admin.vm.Stats")
    try:
        assert reader.next().event == "connection-established"
        seen: dict[str, dict[str, str]] = {}
        while len(seen) < 3:
            record = reader.next()
            assert record.event == "vm-stats"
            seen[record.subject] = record.kwargs
    finally:
        reader.close()
    assert sorted(seen) == ["sys-firewall", "sys-net", "work"]
    work = seen["work"]
    assert list(work) == [
        "memory_kb",
        "memory_assigned_total",
        "memory_assigned_usable",
        "memory_with_swap_used",
        "cpu_time",
        "cpu_usage",
        "online_vcpus",
    ]
    assert work["memory_kb"] == str(400 * 1024) and work["online_vcpus"] == "2"
    assert 0 <= int(work["cpu_usage"]) <= 100


def test_stats_stream_for_one_qube(running: RunningDaemon) -> None:
    running.in_loop(lambda: running.app.globals.set("stats_interval", 1))
    running.call("admin.vm.Start", "work")
    reader = running.open_events("admin.vm.Stats", dest="sys-net")
    try:
        assert reader.next().event == "connection-established"
        subjects = {reader.next().subject for _ in range(2)}  # two rounds, one qube
    finally:
        reader.close()
    assert subjects == {"sys-net"}


def test_stats_stream_bytes(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "vault")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(running.socket_path))
        sock.sendall(encode_request("admin.vm.Stats", "vault", "", b""))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"online_vcpus\x002\x00\x00" not in data:  # the end of the first sample
            chunk = sock.recv(65536)
            assert chunk, "stream closed"
            data += chunk
    assert data.startswith(b"1\x00\x00connection-established\x00\x00")
    second = data[len(b"1\x00\x00connection-established\x00\x00") :]
    assert second.startswith(b"1\x00vault\x00vm-stats\x00memory_kb\x00409600\x00")
