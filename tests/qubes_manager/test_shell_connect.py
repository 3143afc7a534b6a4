"""The connection rule: given socket, system socket, qrexec, else a demo daemon we start."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backend.client import AdminClient, QrexecTransport, UnixTransport
from qubes_manager.backend_connect import (
    DEMO_DIR_PREFIX,
    BackendError,
    BackendKind,
    connect_backend,
)
from tests.backend.daemon.conftest import RunningDaemon

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 180.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A desktop session with no qubesd: private runtime and data dirs, no qrexec."""
    for name in ("run", "data", "bin"):
        (tmp_path / name).mkdir()
    (tmp_path / "run").chmod(0o700)
    values = {k: v for k, v in os.environ.items() if k != "QUBESD_SOCKET"}
    values.update(XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_DATA_HOME=str(tmp_path / "data"),
                  PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.defpath}")
    return values


def test_without_any_backend_a_demo_daemon_is_started_and_stopped(
    tmp_path: Path, env: dict[str, str],
) -> None:
    async def main() -> None:
        connection = await connect_backend(env=env, system_socket=tmp_path / "none.sock")
        assert connection.kind is BackendKind.DEMO and connection.is_demo
        assert connection.demo is not None and connection.demo.running
        sock = connection.demo.socket_path
        assert sock.parent.parent == tmp_path / "run"
        assert sock.parent.name.startswith(DEMO_DIR_PREFIX)
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        listing = await connection.client().call("admin.vm.List")
        assert "work class=AppVM" in listing
        assert (tmp_path / "data" / "qubes-backend" / "demo" / "qubes.xml").is_file()

        # another program of ours finds the running demo instead of starting one
        second = await connect_backend(env=env, system_socket=tmp_path / "none.sock")
        assert second.kind is BackendKind.DEMO and second.demo is None
        assert isinstance(second.transport, UnixTransport)
        assert second.transport.path == str(sock)
        await second.close()
        assert connection.demo.running  # not ours to stop

        await connection.close()
        assert connection.demo.process.returncode is not None
        assert not sock.parent.exists()

    run(main())


def test_demo_that_cannot_start_is_reported(tmp_path: Path, env: dict[str, str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env["XDG_DATA_HOME"] = str(blocker)  # the demo cannot create its state dir
    with pytest.raises(BackendError, match="exited with status"):
        run(connect_backend(env=env, system_socket=tmp_path / "none.sock"))
    assert list((tmp_path / "run").iterdir()) == []


def test_given_socket_is_used_and_must_answer(running: RunningDaemon, tmp_path: Path,
                                              env: dict[str, str]) -> None:
    connection = run(connect_backend(running.socket_path, env=env))
    assert connection.kind is BackendKind.SOCKET and not connection.is_demo
    env["QUBESD_SOCKET"] = str(running.socket_path)
    assert run(connect_backend(env=env)).kind is BackendKind.SOCKET
    with pytest.raises(BackendError, match="Nothing answers"):
        run(connect_backend(tmp_path / "silent.sock", env=env))
    assert list((tmp_path / "run").iterdir()) == []  # no demo for a given socket


def test_system_socket_that_answers_is_used(running: RunningDaemon,
                                            env: dict[str, str]) -> None:
    connection = run(connect_backend(env=env, system_socket=running.socket_path))
    assert connection.kind is BackendKind.SYSTEM
    assert run(AdminClient(connection.transport).call("admin.label.List")).startswith("red\n")


def test_in_a_gui_qube_qrexec_is_used(tmp_path: Path, env: dict[str, str]) -> None:
    program = tmp_path / "bin" / "qrexec-client-vm"
    program.write_text("#!/bin/sh\nexit 1\n")
    program.chmod(0o755)
    connection = run(connect_backend(env=env, system_socket=tmp_path / "none.sock"))
    assert connection.kind is BackendKind.QREXEC
    assert isinstance(connection.transport, QrexecTransport)
    assert connection.transport.program == str(program)
