"""The daemon starts on a fresh state dir with the demo system and serves events."""

from __future__ import annotations

from .conftest import RunningDaemon


def test_demo_system_has_the_listed_qubes(running: RunningDaemon) -> None:
    names = running.in_loop(lambda: [vm.name for vm in running.app.domains])
    assert names[0] == "dom0"
    for name in ("fedora-42", "debian-13", "whonix-gateway-18", "whonix-workstation-18",
                 "sys-net", "sys-firewall", "sys-usb", "sys-whonix", "default-dvm", "work",
                 "personal", "untrusted", "vault", "anon-whonix"):
        assert name in names


def test_event_stream_starts_with_connection_established(running: RunningDaemon) -> None:
    reader = running.open_events()
    try:
        first = reader.next()
        assert first.subject is None and first.event == "connection-established"
        running.in_loop(lambda: running.app.domains["work"].set("vcpus", 3))
        records = reader.wait_for(lambda r: r.event == "property-set:vcpus")
        assert records[-1].subject == "work"
        assert records[-1].kwargs == {"name": "vcpus", "newvalue": "3", "oldvalue": "2"}
    finally:
        reader.close()
