"""A real daemon on a temporary state dir (demo system, libvirt test driver), in a
thread of its own, and a blocking byte-level client for it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backend.daemon import Daemon, demo_libvirt_uri
from backend.demo import build_demo
from backend.protocol import EventStreamParser, decode_response, encode_request
from backend.system import System

T = TypeVar("T")


class RunningDaemon:
    """The daemon's event loop runs in a thread; tests talk to it over its socket."""

    def __init__(self, state_dir: Path, socket_path: Path, extra_qubes: int = 0) -> None:
        self.state_dir = state_dir
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        system = System.open(state_dir, initial=lambda s: build_demo(s, extra_qubes))
        self.daemon: Daemon = self.run(self._make(system))

    async def _make(self, system: System) -> Daemon:
        daemon = Daemon(system, socket_path=self.socket_path,
                        libvirt_uri=demo_libvirt_uri(self.state_dir))
        await daemon.start()
        return daemon

    def run(self, coro: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the daemon's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def in_loop(self, fn: Callable[[], T], timeout: float = 30) -> T:
        """Run ``fn`` on the daemon's loop thread (the only thread touching the model)."""
        future: Future[T] = Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return future.result(timeout)

    @property
    def app(self) -> Any:
        return self.daemon.app

    def raw(self, method: str, dest: str = "dom0", arg: str = "", payload: bytes = b"",
            source: str = "dom0", timeout: float = 60) -> bytes:
        """Send one request; return the whole raw response."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.socket_path))
            sock.sendall(encode_request(method, dest, arg, payload, source=source))
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def call(self, method: str, dest: str = "dom0", arg: str = "", payload: bytes = b"",
             source: str = "dom0") -> str:
        """Send one request; return the result text or raise the mapped exception."""
        return decode_response(self.raw(method, dest, arg, payload, source))

    def open_events(self, method: str = "admin.Events", dest: str = "dom0",
                    source: str = "dom0") -> EventReader:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(self.socket_path))
        sock.sendall(encode_request(method, dest, "", b"", source=source))
        sock.shutdown(socket.SHUT_WR)
        return EventReader(sock)

    def close(self) -> None:
        try:
            self.run(self.daemon.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


class EventReader:
    """Reads event records from a stream connection, blocking with a timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = EventStreamParser()
        self.pending: list[Any] = []

    def next(self) -> Any:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                self.parser.feed_eof()
                raise EOFError("event stream closed")
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    def wait_for(self, predicate: Callable[[Any], bool], limit: int = 10_000) -> list[Any]:
        """Read until a record matches; returns every record read, the match last."""
        seen = []
        for _ in range(limit):
            record = self.next()
            seen.append(record)
            if predicate(record):
                return seen
        raise AssertionError(f"no matching event in {limit} records")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()
