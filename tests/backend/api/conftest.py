"""Fixtures for the Admin API server: fake qubes and methods, a real socket in a temp dir."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from backend import errors
from backend.api import (
    AdminServer,
    Call,
    Dest,
    Dispatcher,
    Event,
    EventStream,
    MethodTable,
    Need,
    method,
)
from backend.protocol import (
    EventRecord,
    EventStreamParser,
    encode_request,
    parse_uuid_ref,
)

#: every wait in these tests is bounded by this many seconds
TIMEOUT = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class FakeQube:
    name: str
    klass: str
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)

    def __str__(self) -> str:
        return self.name


class FakeResolver:
    def __init__(self, *qubes: FakeQube) -> None:
        self.by_name = {q.name: q for q in qubes}
        self.by_uuid = {q.uuid: q for q in qubes}

    def resolve(self, ref: str) -> FakeQube:
        key = parse_uuid_ref(ref)
        qube = self.by_name.get(ref) if key is None else self.by_uuid.get(key)
        if qube is None:
            raise errors.QubesVMNotFoundError(ref)
        return qube

    def is_adminvm(self, obj: Any) -> bool:
        return isinstance(obj, FakeQube) and obj.klass == "AdminVM"


DOM0 = FakeQube("dom0", "AdminVM")
WORK = FakeQube("work", "AppVM")
SYS_GUI = FakeQube("sys-gui", "AppVM")


class FakeApp:
    """The fake methods, and the state tests drive them through."""

    devclasses: set[str] = {"usb", "pci"}

    def __init__(self) -> None:
        self.errors: dict[str, BaseException] = {}
        self.handled: list[str] = []
        self.subscribers: list[Callable[..., None]] = []
        self.stream_closed = asyncio.Event()
        self.max_pending = 10_000
        self.allowed: set[str] = set()
        self.policy_calls: list[tuple[Any, str, Any, str]] = []
        self.gate_target = 1
        self.gate_arrivals = 0
        self.gate = asyncio.Event()
        self.hold_started = asyncio.Event()
        self.release = asyncio.Event()
        self.slow_cancelled = asyncio.Event()
        self.table = MethodTable()
        self.table.add_object(self)

    def fire(self, subject: object | None, event: str, **kwargs: object) -> None:
        for subscriber in list(self.subscribers):
            subscriber(subject, event, **kwargs)

    def policy(self, source: Any, method_name: str, dest: Any, arg: str) -> None:
        self.policy_calls.append((source, method_name, dest, arg))
        if method_name not in self.allowed:
            raise errors.PermissionDenied(f"{method_name} refused for {source}")

    # --- ordinary methods

    @method("test.Echo", arg=Need.OPTIONAL, payload=Need.OPTIONAL, dest=Dest.ANY)
    def echo(self, call: Call) -> str:
        self.handled.append(call.method)
        payload = call.payload.decode(errors="replace")
        return f"{call.method}|{call.arg}|{payload}|{call.source}|{call.dest}"

    @method("test.NoResult", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def no_result(self, call: Call) -> None:
        self.handled.append(call.method)

    @method("test.Async", arg=Need.OPTIONAL, payload=Need.NONE, dest=Dest.ANY)
    async def async_(self, call: Call) -> str:
        await asyncio.sleep(0)
        return f"async {call.arg}"

    @method("test.Raise", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def raise_(self, call: Call) -> str:
        raise self.errors[call.arg]

    @method("test.AsyncRaise", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    async def async_raise(self, call: Call) -> str:
        await asyncio.sleep(0)
        raise self.errors[call.arg]

    @method("test.Bug", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def bug(self, call: Call) -> str:
        raise RuntimeError("handler bug")

    @method("test.AsyncBug", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def async_bug(self, call: Call) -> str:
        await asyncio.sleep(0)
        raise KeyError("plain KeyError, as upstream's pool lookups raise")

    @method("test.BadResult", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def bad_result(self, call: Call) -> Any:
        return 42

    @method("test.Big", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def big(self, call: Call) -> str:
        return "".join(f"{n:09d}\n" for n in range(int(call.arg) // 10))

    @method("test.AsyncBig", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    async def async_big(self, call: Call) -> str:
        await asyncio.sleep(0)
        return self.big(call)

    @method("test.NeedArg", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    @method("test.NeedPayload", arg=Need.NONE, payload=Need.REQUIRED, dest=Dest.ANY)
    @method("test.AdminOnly", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    @method("test.NotAdmin", arg=Need.NONE, payload=Need.NONE, dest=Dest.NOT_ADMINVM)
    def ok(self, call: Call) -> str:
        self.handled.append(call.method)
        return "ok"

    @method(
        "test.Create.{klass}",
        arg=Need.OPTIONAL,
        payload=Need.OPTIONAL,
        dest=Dest.ADMINVM,
        endpoints=("AppVM", "TemplateVM"),
    )
    def create(self, call: Call) -> str:
        payload = call.payload.decode(errors="replace")
        return f"{call.endpoint} {call.arg} {payload}"

    @method(
        "test.device.{devclass}.Attach",
        arg=Need.REQUIRED,
        payload=Need.OPTIONAL,
        dest=Dest.ANY,
        endpoints=lambda: FakeApp.devclasses,
    )
    def attach(self, call: Call) -> str:
        return f"{call.endpoint} {call.arg}"

    @method("test.any.{thing}", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def any_thing(self, call: Call) -> str:
        return str(call.endpoint)

    @method("test.Gate", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def gate_call(self, call: Call) -> str:
        """Answers only once ``gate_target`` calls wait at the same time."""
        self.gate_arrivals += 1
        if self.gate_arrivals >= self.gate_target:
            self.gate.set()
        await self.gate.wait()
        return str(self.gate_arrivals)

    @method("test.Hold", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def hold(self, call: Call) -> str:
        self.hold_started.set()
        await self.release.wait()
        return "released"

    @method("test.Slow", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY, cancellable=True)
    async def slow(self, call: Call) -> str:
        self.hold_started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.slow_cancelled.set()
        return "never"

    # --- event streams

    @method("test.Events", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def events(self, call: Call) -> EventStream:
        stream = EventStream(max_pending=self.max_pending)
        self.subscribers.append(stream.put)

        def unsubscribe() -> None:
            self.subscribers.remove(stream.put)
            self.stream_closed.set()

        stream.on_close(unsubscribe)
        return stream

    @method("test.GenEvents", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def gen_events(self, call: Call) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()

        def put(subject: object | None, event: str, **kwargs: object) -> None:
            queue.put_nowait((subject, event, kwargs))

        self.subscribers.append(put)
        try:
            while True:
                yield await queue.get()
        finally:
            self.subscribers.remove(put)
            self.stream_closed.set()

    @method("test.FiniteEvents", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def finite_events(self, call: Call) -> AsyncIterator[Event]:
        yield (call.dest, "first", {"n": 1})
        yield (None, "second", {})

    @method("test.LateEvents", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def late_events(self, call: Call) -> EventStream:
        await asyncio.sleep(0)
        return self.events(call)


class EventClient:
    """The reading end of an event stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = EventStreamParser()
        self.pending: collections.deque[EventRecord] = collections.deque()

    async def next(self) -> EventRecord:
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                self.parser.feed_eof()
                raise EOFError("event stream ended")
            self.pending.extend(self.parser.feed(data))
        return self.pending.popleft()

    async def rest(self) -> list[EventRecord]:
        """Everything until the server ends the stream."""
        records = list(self.pending)
        self.pending.clear()
        with contextlib.suppress(ConnectionResetError):
            while data := await self.reader.read(65536):
                records += self.parser.feed(data)
        self.parser.feed_eof()
        return records

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class Harness:
    """A socket path in a fresh directory, a FakeApp, and ways to call a server there."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.app = FakeApp()
        self.resolver = FakeResolver(DOM0, WORK, SYS_GUI)

    @staticmethod
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(asyncio.wait_for(coro, TIMEOUT))

    @staticmethod
    async def wait(awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, TIMEOUT)

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.app.table, self.resolver, policy=self.app.policy)

    def server(self, **kwargs: Any) -> AdminServer:
        return AdminServer(self.path, self.dispatcher(), **kwargs)

    async def raw(self, data: bytes, *, half_close: bool = True) -> bytes:
        """Send bytes as a caller does and read the whole answer ('' if the server aborts)."""
        reader, writer = await asyncio.open_unix_connection(self.path)
        received = b""
        try:
            writer.write(data)
            await writer.drain()
            if half_close:
                writer.write_eof()
            while chunk := await reader.read(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return received

    async def call(
        self,
        method_name: str,
        dest: str = "dom0",
        arg: str = "",
        payload: bytes = b"",
        source: str = "dom0",
    ) -> bytes:
        return await self.raw(encode_request(method_name, dest, arg, payload, source=source))

    async def open_stream(
        self, method_name: str = "test.Events", dest: str = "dom0"
    ) -> EventClient:
        reader, writer = await asyncio.open_unix_connection(self.path)
        writer.write(encode_request(method_name, dest))
        writer.write_eof()
        return EventClient(reader, writer)


@contextlib.contextmanager
def short_tmpdir() -> Iterator[str]:
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be too deep
    directory = tempfile.mkdtemp(prefix="qapi-", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def api() -> Iterator[Harness]:
    with short_tmpdir() as directory:
        yield Harness(os.path.join(directory, "qubesd.sock"))


class ThreadedServer:
    """A server on its own loop in a thread, for tests that call it with blocking sockets."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.loop = asyncio.new_event_loop()
        self.server = harness.server()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()

    def raw(self, data: bytes) -> bytes:
        received = b""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(self.harness.path)
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                while chunk := sock.recv(65536):
                    received += chunk
            except (ConnectionResetError, BrokenPipeError):
                pass
        return received


@pytest.fixture(scope="module")
def threaded_api() -> Iterator[ThreadedServer]:
    with (
        short_tmpdir() as directory,
        ThreadedServer(Harness(os.path.join(directory, "qubesd.sock"))) as server,
    ):
        yield server
