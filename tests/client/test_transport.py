"""Transports and the call path: responses, errors, retries, the concurrency bound."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from backend import errors
from backend.client import (
    AdminClient,
    QubesDaemonAccessError,
    QubesDaemonCommunicationError,
    UnixTransport,
)
from backend.client.transport import StreamContext
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import make_client, run


async def serve_once(path: Path, answer: Callable[[bytes], Awaitable[bytes]]) -> asyncio.Server:
    """A one-trick socket server: reads the request, writes ``answer(request)``, closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()
        writer.write(await answer(request))
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


def test_call_returns_the_result_and_raises_mapped_errors(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        assert await client.call("admin.vm.property.Get", "work", "template") \
            == "default=False type=vm fedora-42"
        with pytest.raises(errors.QubesVMNotFoundError):
            await client.call("admin.vm.property.Get", "no-such-qube", "netvm")
        with pytest.raises(errors.QubesNoSuchPropertyError):
            await client.call("admin.vm.property.Get", "work", "no_such_property")
        with pytest.raises(errors.ProtocolError):
            await client.call("admin.no.such.Method")

    run(main())
    assert client.stats.total == 4
    assert client.stats.by_method["admin.vm.property.Get"] == 3


def test_empty_response_is_an_access_error(tmp_path: Path) -> None:
    async def nothing(request: bytes) -> bytes:
        return b""

    async def garbage(request: bytes) -> bytes:
        return b"9\0what"

    async def main() -> None:
        server = await serve_once(tmp_path / "empty.sock", nothing)
        with pytest.raises(QubesDaemonAccessError):
            await AdminClient(UnixTransport(tmp_path / "empty.sock")).call("admin.vm.List")
        server.close()
        server = await serve_once(tmp_path / "bad.sock", garbage)
        with pytest.raises(QubesDaemonCommunicationError, match="Invalid response"):
            await AdminClient(UnixTransport(tmp_path / "bad.sock")).call("admin.vm.List")
        server.close()

    run(main())


def test_request_is_framed_as_upstream_and_half_closed(tmp_path: Path) -> None:
    seen: list[bytes] = []

    async def record(request: bytes) -> bytes:
        seen.append(request)  # read to EOF: only possible after the half-close
        return b"0\0done"

    async def main() -> str:
        server = await serve_once(tmp_path / "rec.sock", record)
        client = AdminClient(UnixTransport(tmp_path / "rec.sock"))
        try:
            return await client.call("admin.vm.feature.Set", "work", "gui", b"1")
        finally:
            server.close()

    assert run(main()) == "done"
    assert seen == [b"admin.vm.feature.Set+gui dom0 name work\x001"]


def test_missing_socket_is_a_communication_error(tmp_path: Path) -> None:
    client = AdminClient(UnixTransport(tmp_path / "nobody.sock"))
    with pytest.raises(QubesDaemonCommunicationError, match="Cannot connect"):
        run(client.call("admin.vm.List"))


def test_refused_connect_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))  # bound but not listening yet: connect() is refused
    listener.setblocking(False)
    attempts = 0

    async def main() -> str:
        loop = asyncio.get_running_loop()
        connect = loop.sock_connect

        async def counting_connect(sock: socket.socket, address: object) -> None:
            nonlocal attempts
            attempts += 1
            try:
                await connect(sock, address)
            except ConnectionRefusedError:
                listener.listen()  # the daemon comes up between two tries
                raise

        async def answer() -> None:
            conn, _ = await loop.sock_accept(listener)
            while await loop.sock_recv(conn, 4096):
                pass
            await loop.sock_sendall(conn, b"0\0up")
            conn.close()

        loop.sock_connect = counting_connect  # type: ignore[method-assign]
        server = asyncio.ensure_future(answer())
        result = await AdminClient(UnixTransport(path)).call("admin.vm.List")
        await server
        return result

    try:
        assert run(main()) == "up"
    finally:
        listener.close()
    assert attempts == 2


def test_refused_connect_gives_up_after_a_few_tries(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    try:
        with pytest.raises(QubesDaemonCommunicationError, match="Connection refused"):
            run(AdminClient(UnixTransport(path)).call("admin.vm.List"))
    finally:
        stale.close()


class GatedTransport:
    """Counts requests in flight and holds them until the test opens the gate."""

    def __init__(self, inner: UnixTransport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.peak = 0
        self.gate = asyncio.Event()
        self.changed = asyncio.Event()

    def describe(self) -> str:
        return "gated"

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.changed.set()
        try:
            await self.gate.wait()
            return await self.inner.request(method, dest, arg, payload)
        finally:
            self.in_flight -= 1

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        return self.inner.stream(method, dest, arg)


def test_no_more_than_max_in_flight_requests_are_open(running: RunningDaemon) -> None:
    async def main() -> None:
        transport = GatedTransport(UnixTransport(running.socket_path))
        client = AdminClient(transport, max_in_flight=4)
        calls = [asyncio.ensure_future(client.call("admin.vm.property.Get", "work", "vcpus"))
                 for _ in range(40)]
        while transport.in_flight < 4:
            transport.changed.clear()
            await transport.changed.wait()
        for _ in range(20):  # give any fifth request every chance to get in
            await asyncio.sleep(0)
        assert transport.in_flight == 4
        transport.gate.set()
        results = await asyncio.gather(*calls)
        assert set(results) == {"default=True type=int 2"}
        assert transport.peak == 4
        assert client.stats.peak_in_flight == 4
        assert client.stats.total == 40

    run(main())


def test_the_bound_holds_for_a_whole_cache_load(running: RunningDaemon) -> None:
    from backend.client import SystemCache

    async def main() -> None:
        transport = GatedTransport(UnixTransport(running.socket_path))
        transport.gate.set()
        client = AdminClient(transport, max_in_flight=3)
        cache = SystemCache(client)
        await cache.start()
        await cache.wait_details()
        await cache.close()
        assert transport.peak == 3
        assert len(cache.qubes) > 10

    run(main())
