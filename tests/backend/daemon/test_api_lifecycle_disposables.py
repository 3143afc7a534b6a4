"""admin.vm.CreateDisposable[+preload]: created, tagged, started; removed when stopped."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.virt.errors import VirtDomainNotFoundError

from .conftest import EventReader, RunningDaemon


@pytest.fixture
def events(running: RunningDaemon) -> Iterator[EventReader]:
    reader = running.open_events()
    assert reader.next().event == "connection-established"
    try:
        yield reader
    finally:
        reader.close()


def dispvms(running: RunningDaemon) -> list[str]:
    return running.in_loop(
        lambda: sorted(vm.name for vm in running.app.domains if vm.klass == "DispVM")
    )


def facts(running: RunningDaemon, name: str) -> tuple[str, str, Path, list[str]]:
    def read() -> tuple[str, str, Path, list[str]]:
        vm = running.app.domains[name]
        return vm.uuid, vm.power_state.value, running.daemon.system.qube_dir(vm), list(vm.tags)

    return running.in_loop(read)


def libvirt_has(running: RunningDaemon, uuid: str) -> bool:
    conn = running.daemon.lifecycle.connection
    assert conn is not None
    try:
        running.run(conn.xml(uuid, inactive=True))
    except VirtDomainNotFoundError:
        return False
    return True


def test_create_disposable_returns_a_running_dispvm_that_vanishes_after_shutdown(
    running: RunningDaemon, events: EventReader
) -> None:
    answer = running.raw("admin.vm.CreateDisposable", "dom0")
    assert answer.startswith(b"0\x00disp")
    name = answer[2:].decode()
    assert dispvms(running) == [name]
    uuid, state, qube_dir, tags = facts(running, name)
    assert state == "Running"
    assert {"created-by-dom0", "disp-created-by-dom0"} <= set(tags)
    assert running.in_loop(lambda: running.app.domains[name].template.name) == "default-dvm"
    assert qube_dir.is_dir() and libvirt_has(running, uuid)
    # the demo's default-dvm uses sys-firewall: the chain was started first
    assert running.in_loop(lambda: running.app.domains["sys-net"].power_state.value) == "Running"

    assert running.raw("admin.vm.Shutdown", name, "wait") == b"0\x00"
    assert dispvms(running) == []
    assert not qube_dir.exists()
    assert not libvirt_has(running, uuid)
    records = events.wait_for(lambda r: r.event == "domain-delete")
    assert records[-1].subject is None and records[-1].kwargs == {"vm": name}
    stop = [
        r.event
        for r in records
        if r.subject == name and r.event in ("domain-stopped", "domain-shutdown")
    ]
    assert stop == ["domain-stopped", "domain-shutdown"]
    # removed for good: qubes.xml no longer has it
    assert name not in (running.state_dir / "qubes.xml").read_text()


def test_create_disposable_for_a_template_dest_with_uuid_payload(running: RunningDaemon) -> None:
    answer = running.call("admin.vm.CreateDisposable", "default-dvm", payload=b"uuid")
    assert answer.startswith("uuid:")
    (name,) = dispvms(running)
    assert facts(running, name)[0] == answer[len("uuid:") :]
    running.call("admin.vm.Kill", name)
    assert dispvms(running) == []


def test_create_disposable_refuses_bad_requests_before_creating_anything(
    running: RunningDaemon,
) -> None:
    assert running.raw("admin.vm.CreateDisposable", "dom0", payload=b"name") == (
        b"2\x00QubesValueError\x00\x00Invalid payload for admin.vm.CreateDisposable: "
        b"expected nothing or 'uuid'\x00"
    )
    assert running.raw("admin.vm.CreateDisposable", "dom0", arg="later").startswith(
        b"2\x00PermissionDenied\x00"
    )
    assert running.raw("admin.vm.CreateDisposable", "work") == (
        b"2\x00QubesValueError\x00\x00work is not a disposable template\x00"
    )
    running.in_loop(lambda: running.app.globals.set("default_dispvm", ""))
    assert running.raw("admin.vm.CreateDisposable", "dom0") == (
        b"2\x00QubesValueError\x00\x00dom0 has no default disposable template\x00"
    )
    assert dispvms(running) == []


def test_unnamed_disposable_whose_start_fails_is_cleaned_up(running: RunningDaemon) -> None:
    # features are copied to new disposables, so this one cannot start
    running.in_loop(
        lambda: running.app.domains["default-dvm"].features.set("prohibit-start", "frozen")
    )
    answer = running.raw("admin.vm.CreateDisposable", "dom0")
    assert answer.startswith(b"2\x00QubesException\x00\x00Starting disp")
    assert answer.endswith(b" is prohibited: frozen\x00")
    assert dispvms(running) == []
    assert "DispVM" not in (running.state_dir / "qubes.xml").read_text()


def test_named_disposable_whose_start_fails_is_kept(running: RunningDaemon) -> None:
    async def create() -> Any:
        template = running.app.domains["default-dvm"]
        vm = await running.daemon.system.create_dispvm(template, auto_cleanup=False)
        vm.features.set("prohibit-start", "not now")
        return vm.name

    name = running.run(create())
    answer = running.raw("admin.vm.Start", name)
    assert (
        answer == f"2\x00QubesException\x00\x00Starting {name} is prohibited: not now\x00".encode()
    )
    running.run(running.daemon.lifecycle.settle())
    assert dispvms(running) == [name]
    assert facts(running, name)[2].is_dir()


def test_named_disposable_stays_after_shutdown(running: RunningDaemon) -> None:
    async def create() -> Any:
        template = running.app.domains["default-dvm"]
        vm = await running.daemon.system.create_dispvm(template, auto_cleanup=False)
        return vm.name

    name = running.run(create())
    running.call("admin.vm.Start", name)
    running.call("admin.vm.Shutdown", name, "wait")
    assert dispvms(running) == [name]
    assert facts(running, name)[1] == "Halted"


def test_preload_fills_the_pool_and_create_hands_one_out(running: RunningDaemon) -> None:
    running.in_loop(
        lambda: running.app.domains["default-dvm"].features.set("preload-dispvm-max", "2")
    )
    assert running.raw("admin.vm.CreateDisposable", "default-dvm", arg="preload") == b"0\x00"
    preloaded = running.in_loop(
        lambda: running.app.domains["default-dvm"].features.get("preload-dispvm", "").split()
    )
    assert len(preloaded) == 2 and sorted(preloaded) == dispvms(running)

    def preload_state(name: str) -> tuple[str, str | None, bool]:
        vm = running.app.domains[name]
        return vm.power_state.value, vm.features.get("internal"), vm.get("is_preload")

    for name in preloaded:
        vm_state = running.in_loop(functools.partial(preload_state, name))
        assert vm_state == ("Paused", "1", True)

    name = running.call("admin.vm.CreateDisposable", "default-dvm")
    assert name == preloaded[0]
    handed = running.in_loop(
        lambda: (
            running.app.domains[name].power_state.value,
            "internal" in running.app.domains[name].features,
            running.app.domains[name].get("is_preload"),
            "created-by-dom0" in running.app.domains[name].tags,
        )
    )
    assert handed == ("Running", False, False, True)
    left = running.in_loop(
        lambda: running.app.domains["default-dvm"].features.get("preload-dispvm")
    )
    assert left == preloaded[1]


def test_disposable_gets_the_callers_creation_tags(running: RunningDaemon) -> None:
    running.in_loop(
        lambda: running.app.domains["dom0"].features.set("tag-created-vm-with", "audit bad!tag")
    )
    name = running.call("admin.vm.CreateDisposable", "default-dvm")
    tags = set(facts(running, name)[3])
    assert {"created-by-dom0", "disp-created-by-dom0", "audit"} <= tags
    assert "bad!tag" not in tags
