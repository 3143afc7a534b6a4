"""admin.vm.Start / Shutdown / Kill / Pause / Unpause / Suspend / Resume over the socket,
on libvirt's test driver: results byte for byte, the events in their order, the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.errors import QubesVMShutdownTimeoutError
from backend.protocol import EventRecord
from backend.virt.errors import VirtXMLError

from .conftest import EventReader, RunningDaemon

LIFECYCLE = (
    "domain-pre-start",
    "domain-start-failed",
    "domain-pre-spawn",
    "domain-spawn",
    "domain-qdb-create",
    "domain-pre-unpaused",
    "domain-unpaused",
    "domain-start",
    "domain-pre-paused",
    "domain-paused",
    "domain-pre-shutdown",
    "domain-shutdown-failed",
    "domain-stopped",
    "domain-shutdown",
    "property-reset:xid",
    "property-reset:start_time",
)


@pytest.fixture
def events(running: RunningDaemon) -> Iterator[EventReader]:
    reader = running.open_events()
    assert reader.next().event == "connection-established"
    try:
        yield reader
    finally:
        reader.close()


def until(reader: EventReader, subject: str, event: str) -> list[EventRecord]:
    return reader.wait_for(lambda r: r.subject == subject and r.event == event)


def of(records: list[EventRecord], subject: str) -> list[str]:
    return [r.event for r in records if r.subject == subject and r.event in LIFECYCLE]


def state(running: RunningDaemon, name: str) -> str:
    return str(running.in_loop(lambda: running.app.domains[name].power_state.value))


def test_start_answers_empty_and_fires_the_start_sequence_in_order(
    running: RunningDaemon, events: EventReader
) -> None:
    assert running.raw("admin.vm.Start", "vault") == b"0\x00"
    records = until(events, "vault", "domain-start")
    assert of(records, "vault") == [
        "domain-pre-start",
        "domain-pre-spawn",
        "property-reset:xid",
        "property-reset:start_time",
        "domain-spawn",
        "domain-qdb-create",
        "domain-pre-unpaused",
        "domain-unpaused",
        "domain-start",
    ]
    first = next(r for r in records if r.event == "domain-pre-start")
    assert first.kwargs == {"start_guid": "True", "mem_required": "None"}
    assert state(running, "vault") == "Running"
    assert running.in_loop(lambda: running.app.domains["vault"].get("xid")) > 0


def test_start_starts_the_netvm_chain_first(running: RunningDaemon, events: EventReader) -> None:
    running.call("admin.vm.Start", "work")
    records = until(events, "work", "domain-start")
    order = [
        (r.subject, r.event) for r in records if r.event in ("domain-pre-start", "domain-start")
    ]
    assert order == [
        ("work", "domain-pre-start"),
        ("sys-firewall", "domain-pre-start"),
        ("sys-net", "domain-pre-start"),
        ("sys-net", "domain-start"),
        ("sys-firewall", "domain-start"),
        ("work", "domain-start"),
    ]
    assert [state(running, n) for n in ("sys-net", "sys-firewall", "work")] == ["Running"] * 3


def test_start_of_a_running_qube_is_a_silent_no_op(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "vault")
    until(events, "vault", "domain-start")
    assert running.raw("admin.vm.Start", "vault") == b"0\x00"
    running.call("admin.vm.Pause", "vault")
    records = until(events, "vault", "domain-paused")
    assert "domain-pre-start" not in of(records, "vault")


def test_a_qube_whose_netvm_cannot_start_does_not_start_and_says_why(
    running: RunningDaemon, events: EventReader
) -> None:
    running.in_loop(
        lambda: running.app.domains["sys-net"].features.set("prohibit-start", "under repair")
    )
    answer = running.raw("admin.vm.Start", "work")
    assert answer.startswith(b"2\x00QubesException\x00\x00")
    message = answer.split(b"\x00")[3].decode()
    assert message == (
        "work cannot start: its netvm sys-firewall did not start: sys-firewall cannot "
        "start: its netvm sys-net did not start: Starting sys-net is prohibited: under repair"
    )
    records = until(events, "work", "domain-start-failed")
    failed = [(r.subject, r.kwargs["reason"]) for r in records if r.event == "domain-start-failed"]
    assert [s for s, _ in failed] == ["sys-net", "sys-firewall", "work"]
    assert failed[0][1] == "Starting sys-net is prohibited: under repair"
    assert "domain-pre-start" not in of(records, "sys-net")
    assert [state(running, n) for n in ("sys-net", "sys-firewall", "work")] == ["Halted"] * 3
    storage_running = running.in_loop(
        lambda: [running.daemon.system.storages[n].is_running() for n in ("sys-firewall", "work")]
    )
    assert storage_running == [False, False]


def test_pause_and_unpause(running: RunningDaemon, events: EventReader) -> None:
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Pause", "vault") == b"0\x00"
    assert state(running, "vault") == "Paused"
    assert running.raw("admin.vm.Unpause", "vault") == b"0\x00"
    assert state(running, "vault") == "Running"
    records = until(events, "vault", "domain-unpaused")
    records += until(events, "vault", "domain-unpaused")  # the start's, then ours
    assert of(records, "vault")[-4:] == [
        "domain-pre-paused",
        "domain-paused",
        "domain-pre-unpaused",
        "domain-unpaused",
    ]
    running.run(running.daemon.lifecycle.settle())
    # libvirt's own SUSPENDED / RESUMED events were re-read and changed nothing
    running.call("admin.vm.Shutdown", "vault")
    records = until(events, "vault", "domain-shutdown")
    assert "domain-paused" not in of(records, "vault")


def test_pause_and_unpause_refuse_the_wrong_state(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Pause", "vault") == (
        b"2\x00QubesVMNotRunningError\x00\x00vault is not running\x00"
    )
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Unpause", "vault") == (
        b"2\x00QubesVMNotPausedError\x00\x00vault is not paused\x00"
    )


def test_suspend_falls_back_to_pause_and_resume_unpauses(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Suspend", "vault") == b"0\x00"
    assert state(running, "vault") == "Paused"
    assert running.raw("admin.vm.Resume", "vault") == b"0\x00"
    assert state(running, "vault") == "Running"
    assert running.raw("admin.vm.Resume", "vault") == (
        b"2\x00QubesVMNotPausedError\x00\x00vault is not suspended or paused\x00"
    )


def test_shutdown_stops_the_qube_and_its_storage(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Shutdown", "vault", "wait") == b"0\x00"
    records = until(events, "vault", "domain-shutdown")
    assert of(records, "vault")[-5:] == [
        "domain-pre-shutdown",
        "domain-stopped",
        "property-reset:xid",
        "property-reset:start_time",
        "domain-shutdown",
    ]
    pre = next(r for r in records if r.event == "domain-pre-shutdown")
    assert pre.kwargs == {"force": "False"}
    assert state(running, "vault") == "Halted"
    facts = running.in_loop(
        lambda: (
            running.app.domains["vault"].get("xid"),
            running.daemon.system.storages["vault"].is_running(),
        )
    )
    assert facts == (-1, False)


def test_shutdown_of_a_netvm_in_use_is_refused_unless_forced(
    running: RunningDaemon, events: EventReader
) -> None:
    running.call("admin.vm.Start", "work")
    assert running.raw("admin.vm.Shutdown", "sys-firewall") == (
        b"2\x00QubesVMInUseError\x00\x00sys-firewall is still used by running qubes: work; "
        b"shut them down first, or force the shutdown\x00"
    )
    records = until(events, "sys-firewall", "domain-shutdown-failed")
    assert records[-1].kwargs["reason"].startswith("sys-firewall is still used by")
    assert state(running, "sys-firewall") == "Running"
    assert running.raw("admin.vm.Shutdown", "sys-firewall", "force+wait") == b"0\x00"
    assert state(running, "sys-firewall") == "Halted"
    assert state(running, "work") == "Running"


def test_shutdown_of_a_paused_qube_needs_force(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "vault")
    running.call("admin.vm.Pause", "vault")
    assert running.raw("admin.vm.Shutdown", "vault") == (
        b"2\x00QubesVMNotRunningError\x00\x00vault is paused; unpause it first, "
        b"or force the shutdown\x00"
    )
    assert running.raw("admin.vm.Shutdown", "vault", "force") == b"0\x00"
    assert state(running, "vault") == "Halted"


def test_shutdown_argument_is_checked_before_anything_happens(running: RunningDaemon) -> None:
    running.call("admin.vm.Start", "vault")
    answer = running.raw("admin.vm.Shutdown", "vault", "now")
    assert answer.startswith(b"2\x00PermissionDenied\x00\x00admin.vm.Shutdown: invalid argument")
    assert running.raw("admin.vm.Shutdown", "vault", "wait+wait").startswith(
        b"2\x00PermissionDenied\x00"
    )
    assert state(running, "vault") == "Running"


def test_shutdown_wait_times_out(running: RunningDaemon, events: EventReader) -> None:
    running.call("admin.vm.Start", "vault")
    conn = running.daemon.lifecycle.connection
    assert conn is not None

    async def ignore(uuid: str) -> None:  # a guest that does not react
        return None

    def set_up() -> None:
        running.app.domains["vault"].set("shutdown_timeout", 1)
        conn.shutdown = ignore  # type: ignore[method-assign]

    running.in_loop(set_up)
    try:
        with pytest.raises(QubesVMShutdownTimeoutError, match="within 1 seconds"):
            running.call("admin.vm.Shutdown", "vault", "wait")
    finally:
        running.in_loop(lambda: delattr(conn, "shutdown"))
    records = until(events, "vault", "domain-shutdown-failed")
    assert "did not shut down" in records[-1].kwargs["reason"]
    assert state(running, "vault") == "Running"  # as libvirt says: the guest ignored it
    running.call("admin.vm.Kill", "vault")
    assert state(running, "vault") == "Halted"


def test_kill_stops_at_once_and_a_halted_qube_cannot_be_killed(
    running: RunningDaemon, events: EventReader
) -> None:
    assert running.raw("admin.vm.Kill", "vault") == (
        b"2\x00QubesVMNotStartedError\x00\x00vault is not running\x00"
    )
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Kill", "vault") == b"0\x00"
    assert state(running, "vault") == "Halted"
    records = until(events, "vault", "domain-shutdown")
    assert of(records, "vault")[-4:] == [
        "domain-stopped",
        "property-reset:xid",
        "property-reset:start_time",
        "domain-shutdown",
    ]
    assert running.raw("admin.vm.Shutdown", "vault") == (
        b"2\x00QubesVMNotStartedError\x00\x00vault is not running\x00"
    )


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("admin.vm.Start", b"2\x00QubesVMNotHaltedError\x00\x00dom0 is always running\x00"),
        ("admin.vm.Shutdown", b"2\x00QubesVMError\x00\x00dom0 cannot be shut down\x00"),
        ("admin.vm.Kill", b"2\x00QubesVMError\x00\x00dom0 cannot be killed\x00"),
        ("admin.vm.Pause", b"2\x00QubesVMError\x00\x00dom0 cannot be paused\x00"),
    ],
)
def test_dom0_cannot_change_state(running: RunningDaemon, method: str, answer: bytes) -> None:
    assert running.raw(method, "dom0") == answer


def test_lifecycle_methods_take_no_payload(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Start", "vault", payload=b"x") == (
        b"2\x00ProtocolError\x00\x00unexpected payload\x00"
    )
    assert running.raw("admin.vm.Kill", "vault", arg="x") == (
        b"2\x00ProtocolError\x00\x00unexpected argument\x00"
    )


def test_current_state_format(running: RunningDaemon) -> None:
    assert running.call("admin.vm.CurrentState", "vault") == (
        "mem=0 mem_static_max=0 cputime=0 power_state=Halted"
    )
    running.call("admin.vm.Start", "vault")
    fields = dict(
        part.split("=") for part in running.call("admin.vm.CurrentState", "vault").split(" ")
    )
    assert list(fields) == ["mem", "mem_static_max", "cputime", "power_state"]
    assert fields["power_state"] == "Running"
    assert int(fields["mem"]) == 400 * 1024  # vault's memory, in KiB
    assert int(fields["cputime"]) >= 0
    dom0 = running.raw("admin.vm.CurrentState", "dom0")
    assert dom0.startswith(b"0\x00mem=") and dom0.endswith(b" power_state=Running")


def test_console_without_a_pty_is_a_clear_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Console", "vault") == (
        b"2\x00QubesVMNotRunningError\x00\x00vault: the qube is not running\x00"
    )
    running.call("admin.vm.Start", "vault")
    assert running.raw("admin.vm.Console", "vault") == (
        b"2\x00QubesException\x00\x00vault has no console pty: the hypervisor driver "
        b"does not provide one\x00"
    )


def failing(message: str) -> Any:
    async def fail(*_args: object) -> None:
        raise VirtXMLError(message)

    return fail


def test_libvirt_refusing_the_domain_fails_the_start_cleanly(
    running: RunningDaemon, events: EventReader
) -> None:
    conn = running.daemon.lifecycle.connection
    assert conn is not None
    running.in_loop(lambda: setattr(conn, "define", failing("bad XML")))
    try:
        assert running.raw("admin.vm.Start", "vault") == (
            b"2\x00QubesException\x00\x00Start failed: bad XML\x00"
        )
    finally:
        running.in_loop(lambda: delattr(conn, "define"))
    records = until(events, "vault", "domain-start-failed")
    assert of(records, "vault") == ["domain-pre-start", "domain-pre-spawn", "domain-start-failed"]
    assert records[-1].kwargs == {"reason": "Start failed: bad XML"}
    assert state(running, "vault") == "Halted"
    assert not running.in_loop(lambda: running.daemon.system.storages["vault"].is_running())
    assert running.raw("admin.vm.Start", "vault") == b"0\x00"


def test_a_failure_after_spawn_kills_the_domain_before_reporting(
    running: RunningDaemon, events: EventReader
) -> None:
    conn = running.daemon.lifecycle.connection
    assert conn is not None
    running.in_loop(lambda: setattr(conn, "resume", failing("cannot resume")))
    try:
        answer = running.raw("admin.vm.Start", "vault")
    finally:
        running.in_loop(lambda: delattr(conn, "resume"))
    assert answer == b"2\x00QubesException\x00\x00Start failed: cannot resume\x00"
    records = until(events, "vault", "domain-start-failed")
    assert of(records, "vault")[-5:] == [
        "domain-stopped",
        "property-reset:xid",
        "property-reset:start_time",
        "domain-shutdown",
        "domain-start-failed",
    ]
    assert state(running, "vault") == "Halted"
    uuid = running.in_loop(lambda: running.app.domains["vault"].uuid)
    assert running.run(conn.state(uuid)).value == "Halted"
    assert not running.in_loop(lambda: running.daemon.system.storages["vault"].is_running())
