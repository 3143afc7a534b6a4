"""admin.vm.volume.CloneFrom / CloneTo: one-shot tokens and copied data."""

from __future__ import annotations

import re

import pytest

from backend.api.methods.storage_clone import TOKEN_LIFETIME, CloneTokens
from backend.errors import (
    PermissionDenied,
    ProtocolError,
    QubesVMNotHaltedError,
    QubesVolumeCopyTokenNotFoundError,
)
from backend.model.vm import PowerState

from .conftest import RunningDaemon
from .test_api_storage_volumes import committed, error, info, set_power, write_volume

DATA = b"".join(i.to_bytes(4, "little") for i in range(50_000)) + bytes(300_000) + b"tail"


def test_clone_from_answers_a_32_character_token(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.volume.CloneFrom", "work", "private")
    assert raw.startswith(b"0\0")
    assert re.fullmatch(rb"[A-Za-z0-9]{32}", raw[2:])
    assert raw != running.raw("admin.vm.volume.CloneFrom", "work", "private")


def test_clone_copies_identical_data_between_qubes(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", DATA)
    token = running.call("admin.vm.volume.CloneFrom", "work", "private")
    assert running.raw("admin.vm.volume.CloneTo", "personal", "private", token.encode()) == (
        b"0\0")
    assert committed(running, "appvms/personal/private") == DATA
    assert info(running, "personal", "private")["size"] == str(len(DATA))
    # the source is untouched
    assert committed(running, "appvms/work/private") == DATA


def test_clone_reads_committed_data_of_a_running_source(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", DATA)
    set_power(running, "work", PowerState.RUNNING, "start")
    with open(running.state_dir / "appvms/work/private-dirty.img", "r+b") as session:
        session.write(b"uncommitted")
    token = running.call("admin.vm.volume.CloneFrom", "work", "private")
    running.call("admin.vm.volume.CloneTo", "vault", "private", token.encode())
    assert committed(running, "appvms/vault/private") == DATA
    set_power(running, "work", PowerState.HALTED, "stop")


def test_token_is_spent_by_its_first_use(running: RunningDaemon) -> None:
    token = running.call("admin.vm.volume.CloneFrom", "work", "private").encode()
    running.call("admin.vm.volume.CloneTo", "personal", "private", token)
    name, message = error(running.raw("admin.vm.volume.CloneTo", "vault", "private", token))
    assert name == "QubesVolumeCopyTokenNotFoundError" and "already used" in message


@pytest.mark.parametrize(("payload", "exc"), [
    (b"0" * 32, QubesVolumeCopyTokenNotFoundError),
    (b"not a token", QubesVolumeCopyTokenNotFoundError),
    (b"\xff" * 32, ProtocolError),
])
def test_unknown_token_is_refused_with_nothing_changed(
        running: RunningDaemon, payload: bytes, exc: type[Exception]) -> None:
    write_volume(running, "personal", "private", b"keep me")
    with pytest.raises(exc):
        running.call("admin.vm.volume.CloneTo", "personal", "private", payload)
    assert committed(running, "appvms/personal/private") == b"keep me"


def test_clone_to_running_qube_is_refused_and_keeps_the_token(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", DATA)
    token = running.call("admin.vm.volume.CloneFrom", "work", "private").encode()
    running.in_loop(lambda: setattr(running.app.domains["personal"], "power_state",
                                    PowerState.RUNNING))
    with pytest.raises(QubesVMNotHaltedError):
        running.call("admin.vm.volume.CloneTo", "personal", "private", token)
    running.call("admin.vm.volume.CloneTo", "vault", "private", token)
    assert committed(running, "appvms/vault/private") == DATA


def test_clone_with_unknown_volume_is_permission_denied(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.volume.CloneFrom", "work", "data")
    assert raw == b"2\0PermissionDenied\0\0Argument not in 'work volumes'\0"
    token = running.call("admin.vm.volume.CloneFrom", "work", "private").encode()
    with pytest.raises(PermissionDenied):
        running.call("admin.vm.volume.CloneTo", "personal", "data", token)


def test_token_of_a_removed_qube_is_refused(running: RunningDaemon) -> None:
    token = running.call("admin.vm.volume.CloneFrom", "untrusted", "private").encode()
    running.run(running.daemon.system.remove_vm(running.app.domains["untrusted"]))
    name, message = error(running.raw("admin.vm.volume.CloneTo", "personal", "private", token))
    assert name == "StoragePoolException" and "removed" in message


def test_tokens_expire_after_their_lifetime() -> None:
    now = [1000.0]
    tokens = CloneTokens(clock=lambda: now[0])
    token = tokens.issue("vm", "private")
    assert tokens.peek(token).volume == "private"
    now[0] += TOKEN_LIFETIME - 1
    assert len(tokens) == 1
    now[0] += 1
    with pytest.raises(QubesVolumeCopyTokenNotFoundError):
        tokens.spend(token)
    assert len(tokens) == 0
