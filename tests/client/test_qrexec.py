"""The qrexec transport, with a stand-in ``qrexec-client-vm`` that forwards to the daemon."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from backend import errors
from backend.client import (
    AdminClient,
    QrexecTransport,
    SystemCache,
    actions,
    default_transport,
)
from backend.client import transport as transport_module
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, run

STAND_IN = """\
#!{python}
# qrexec-client-vm TARGET SERVICE+ARG: what dom0's qrexec would deliver to qubesd.sock
import json, socket, sys
target, service = sys.argv[1], sys.argv[2]
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
payload = sys.stdin.buffer.read()
dest = "keyword adminvm" if target == "@adminvm" else "name " + target
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
    conn.connect({socket!r})
    conn.sendall(f"{{service}} dom0 {{dest}}".encode() + b"\\0" + payload)
    conn.shutdown(socket.SHUT_WR)
    while chunk := conn.recv(65536):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
"""


@pytest.fixture
def stand_in(running: RunningDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the stand-in first on PATH; return the log of its invocations."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "qrexec.log"
    script = bin_dir / "qrexec-client-vm"
    script.write_text(STAND_IN.format(python=sys.executable, log=str(log),
                                      socket=str(running.socket_path)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(transport_module, "SYSTEM_SOCKET", tmp_path / "no-qubesd.sock")
    return log


def invocations(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_without_a_socket_qrexec_is_the_default(stand_in: Path) -> None:
    transport = default_transport()
    assert isinstance(transport, QrexecTransport)
    assert transport.program.endswith("qrexec-client-vm")


def test_calls_go_through_qrexec_client_vm(stand_in: Path) -> None:
    client = AdminClient(default_transport())

    async def main() -> None:
        assert await client.call("admin.vm.property.Get", "work", "template") \
            == "default=False type=vm fedora-42"
        await actions.set_property(client, "work", "vcpus", "3")
        assert await client.call("admin.vm.property.Get", "work", "vcpus") \
            == "default=False type=int 3"
        with pytest.raises(errors.QubesVMNotFoundError):
            await client.call("admin.vm.property.Get", "nowhere", "vcpus")

    run(main())
    assert invocations(stand_in) == [
        ["work", "admin.vm.property.Get+template"],
        ["work", "admin.vm.property.Set+vcpus"],
        ["work", "admin.vm.property.Get+vcpus"],
        ["nowhere", "admin.vm.property.Get+vcpus"],
    ]


def test_cache_loads_and_follows_events_over_qrexec(stand_in: Path,
                                                   running: RunningDaemon) -> None:
    client = AdminClient(default_transport())

    async def main() -> SystemCache:
        cache = SystemCache(client, features={"internal"})
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        await actions.set_property(client, "vault", "vcpus", "3")
        await recorder.wait_for(lambda: cache.qubes["vault"].prop("vcpus") == "3")
        await cache.close()
        return cache

    cache = run(main())
    assert "work" in cache.qubes and cache.qubes["work"].prop("template") == "fedora-42"
    assert ["dom0", "admin.Events+"] in invocations(stand_in)
    assert ["dom0", "admin.backend.GetAllData+"] in invocations(stand_in)


def test_a_failing_program_is_an_access_error(tmp_path: Path) -> None:
    failing = tmp_path / "fail"
    failing.write_text("#!/bin/sh\nexit 126\n")
    failing.chmod(0o755)
    client = AdminClient(QrexecTransport(str(failing)))
    with pytest.raises(errors.QubesException) as info:
        run(client.call("admin.vm.List"))
    assert type(info.value).__name__ == "QubesDaemonAccessError"


def test_a_missing_program_is_a_communication_error(tmp_path: Path) -> None:
    client = AdminClient(QrexecTransport(str(tmp_path / "absent")))
    with pytest.raises(errors.QubesException, match="Cannot run"):
        run(client.call("admin.vm.List"))
