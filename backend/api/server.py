"""The Admin API socket server: one request per connection, framed and answered as qubesd does.

What is answered and what is dropped follows qubesd (``reference/admin-api.md`` §1.4):
QubesException, PermissionDenied and ProtocolError are sent as ``2\\0`` errors; a
malformed request, and any other exception (a bug, logged), close the connection
without a byte, which the official client reports as an empty response. Unlike
qubesd, a request over 64 KiB is answered with a ProtocolError (read to its end and
dropped, up to MAX_DISCARD bytes) so the caller learns why.

Speed: every connection carries one call, so per-connection overhead is most of the
cost of a call. asyncio's transports spend about three times the CPU of the calls
themselves (a task per accepted socket, handles, protocol callbacks), so this server
drives non-blocking sockets from the event loop directly: sockets waiting for their
request sit in one epoll set that is itself a reader of the loop, and a call whose
handler returns at once (reads served from memory) is answered inside that callback.
Handlers that await, and event streams, run in a task of their own, so no connection
waits for another. The common call costs little more than its system calls: accepted
sockets are wrapped without any other call, read into one shared buffer with
``MSG_DONTWAIT`` (they are made non-blocking only when a task takes them over), and a
request already answered is answered again from the dispatcher's response cache
(``backend.api.cache``) without being parsed.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import os
import select
import shutil
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, cast

from backend.api.dispatch import Outcome
from backend.api.events import EventStreamOverflow
from backend.api.registry import Event, Result
from backend.errors import PermissionDenied, ProtocolError, QubesException
from backend.protocol import (
    CONNECTION_ESTABLISHED,
    MAX_REQUEST_SIZE,
    FramingError,
    Request,
    encode_error,
    encode_event,
    encode_ok,
    parse_request,
)

log = logging.getLogger("backend.api")

_ANSWERED = (QubesException, PermissionDenied, ProtocolError)
_ACCEPT_PAUSE = 1.0  # seconds without accepting after running out of descriptors
_ACCEPT_BATCH = 64  # connections taken per wake-up, so streams and tasks get their turn
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# per-call non-blocking reads and sends; where the flag is missing, sockets are made
# non-blocking when accepted instead
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


#: beyond this many bytes past the limit, an oversized request is cut off unanswered
MAX_DISCARD = 16 * 1024 * 1024


class SupportsDispatch(Protocol):
    def cached(self, raw: bytes) -> bytes | None: ...

    def dispatch(self, request: Request, raw: bytes | None = None) -> Outcome: ...


class AdminServer:
    """Serves the Admin API on a Unix socket; ``async with`` starts and closes it."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        dispatcher: SupportsDispatch,
        *,
        debug: bool = False,
        mode: int = 0o660,
        group: str | None = None,
        backlog: int = 1024,
    ) -> None:
        self.path = os.fspath(socket_path)
        self.dispatcher = dispatcher
        self.debug = debug
        self._mode = mode
        self._group = group
        self._backlog = backlog
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: socket.socket | None = None
        self._identity: tuple[int, int] | None = None
        self._poller: _Poller | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # every request is read into this buffer first: one buffer, not one per read
        self._recv_buffer = memoryview(bytearray(MAX_REQUEST_SIZE))

    async def __aenter__(self) -> AdminServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def serving(self) -> bool:
        return self._listener is not None

    async def start(self) -> None:
        """Listen on the socket; a stale socket file is replaced, a live one refused."""
        if self._listener is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        await _remove_stale_socket(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.path)
            try:
                # Set the mode between bind() and listen(): until listen() every
                # connect() is refused, so there is no window with the default mode,
                # and no process-wide umask change racing other threads' files.
                os.chmod(self.path, self._mode)
                if self._group is not None:
                    shutil.chown(self.path, group=self._group)
                listener.setblocking(False)
                listener.listen(self._backlog)
                info = os.stat(self.path)
            except BaseException:
                os.unlink(self.path)
                raise
        except BaseException:
            listener.close()
            raise
        self._loop = loop
        self._listener = listener
        self._identity = (info.st_dev, info.st_ino)
        self._poller = _Poller(loop)
        loop.add_reader(listener.fileno(), self._accept)
        log.info("listening on %s", self.path)

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop listening, end event streams, give running calls ``grace`` seconds."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        assert self._loop is not None and self._poller is not None
        self._loop.remove_reader(listener.fileno())
        listener.close()
        self._unlink_own_socket()
        for connection in list(self._connections):
            connection.shutdown()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for connection in list(self._connections):
            connection.abort()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        self._poller.close()
        log.info("closed %s", self.path)

    def _unlink_own_socket(self) -> None:
        # only our socket: a newer daemon may already have replaced it
        try:
            info = os.stat(self.path)
            if (info.st_dev, info.st_ino) == self._identity:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _accept(self) -> None:
        listener = self._listener
        if listener is None:
            return
        # the C-level accept (of _socket.socket, so in every CPython): socket.accept()
        # also turns family and type into enums and asks for the timeout, each time
        accept = listener._accept  # type: ignore[attr-defined]
        for _ in range(_ACCEPT_BATCH):
            try:
                fd, _ = accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.error("cannot accept connections (%s), pausing", exc)
                    self._pause_accepting()
                    return
                log.warning("accept failed: %s", exc)  # e.g. the caller gave up already
                continue
            # left blocking: reads and sends pass MSG_DONTWAIT, and _Connection._start
            # makes it non-blocking for the loop's sock_sendall
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)
            if not _DONTWAIT:
                sock.setblocking(False)
            connection = _Connection(self, sock)
            self._connections.add(connection)
            connection.read()  # often the whole request is there already

    def _pause_accepting(self) -> None:
        assert self._loop is not None and self._listener is not None
        self._loop.remove_reader(self._listener.fileno())
        self._loop.call_later(_ACCEPT_PAUSE, self._resume_accepting)

    def _resume_accepting(self) -> None:
        if self._loop is not None and self._listener is not None:
            self._loop.add_reader(self._listener.fileno(), self._accept)

    def _start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _remove_stale_socket(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise FileExistsError(errno.EEXIST, f"not a socket: {path!r}")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        async with asyncio.timeout(2.0):
            await asyncio.get_running_loop().sock_connect(probe, path)
    except ConnectionRefusedError:
        log.info("removing stale socket %s", path)
        os.unlink(path)
        return
    except FileNotFoundError:
        return
    except (TimeoutError, OSError):
        pass  # someone is there, only too busy to accept: not stale
    finally:
        probe.close()
    raise FileExistsError(errno.EEXIST, f"socket already exists: {path!r}")


class _Poller:
    """Readiness callbacks for many sockets, through one epoll set read by the event loop.

    Also reports hang-ups: after the caller's half-close its socket stays readable
    (EOF) for ever, but epoll still signals EPOLLHUP once the caller closes its end,
    which ends event streams of callers that went away while nothing was written.
    Without epoll (not Linux) sockets are the loop's readers and hang-ups are noticed
    at the next write.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        if self._epoll is not None:
            loop.add_reader(self._epoll.fileno(), self._ready)

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        if self._epoll is None:
            self._loop.add_reader(fd, callback)
        else:
            self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def add_hangup(self, fd: int, callback: Callable[[], None]) -> bool:
        if self._epoll is None:
            return False
        if fd in self._callbacks:
            return True
        self._epoll.register(fd, 0)  # EPOLLHUP and EPOLLERR are always reported
        self._callbacks[fd] = callback
        return True

    def remove(self, fd: int) -> None:
        if self._callbacks.pop(fd, None) is None:
            return
        if self._epoll is None:
            self._loop.remove_reader(fd)
        else:
            self._epoll.unregister(fd)

    def _ready(self) -> None:
        assert self._epoll is not None
        for fd, _ in self._epoll.poll(0):
            callback = self._callbacks.get(fd)
            if callback is None:
                continue  # closed by an earlier callback of this round
            try:
                callback()
            except Exception:
                log.exception("connection callback failed")

    def close(self) -> None:
        if self._epoll is not None:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
        else:
            for fd in self._callbacks:
                self._loop.remove_reader(fd)
        self._callbacks.clear()


def _is_event_stream(result: object) -> bool:
    return hasattr(result, "__anext__")


class _Connection:
    """One caller: read the request to EOF, answer it, close.

    The socket is closed by whoever owns it: the read callback while no task runs,
    else the task (``abort`` cancels the task, whose ``finally`` closes), so a
    socket is never closed under a pending ``sock_sendall``.
    """

    __slots__ = (
        "_server",
        "_sock",
        "_fd",
        "_buffer",
        "_discarded",
        "_reading",
        "_answering",
        "_request",
        "_task",
        "_streaming",
        "_closed",
    )

    def __init__(self, server: AdminServer, sock: socket.socket) -> None:
        self._server = server
        self._sock = sock
        self._fd = sock.fileno()
        self._buffer = bytearray()
        self._discarded = 0  # bytes past the size limit, read and dropped
        self._reading = False
        self._answering = False  # the request is in: parsed, or answered from the cache
        self._request: Request | None = None
        self._task: asyncio.Task[None] | None = None
        self._streaming = False
        self._closed = False

    @property
    def _poller(self) -> _Poller:
        assert self._server._poller is not None
        return self._server._poller

    # --- life cycle

    def shutdown(self) -> None:
        """Server closing: drop callers still sending, end streams, let calls finish."""
        if not self._answering or self._streaming:
            self.abort()

    def abort(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        else:
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # unregister before closing: the descriptor number is reused at once
        self._poller.remove(self._fd)
        self._sock.close()
        self._server._connections.discard(self)

    # --- reading the request

    def read(self) -> None:
        buffer = self._buffer
        chunk = self._server._recv_buffer
        recv_into = self._sock.recv_into
        while True:
            try:
                size = recv_into(chunk, MAX_REQUEST_SIZE, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                if not self._reading:
                    self._reading = True
                    self._poller.add_reader(self._fd, self.read)
                return
            except OSError:
                self._close()
                return
            if not size:
                break
            if self._discarded or len(buffer) + size > MAX_REQUEST_SIZE:
                # read on to the caller's end so it can read our answer
                self._discarded += size
                if self._discarded > MAX_DISCARD:
                    log.warning("request far too long, connection dropped")
                    self._close()
                    return
                continue
            buffer += chunk[:size]
        if self._reading:
            self._reading = False
            self._poller.remove(self._fd)
        if self._discarded:
            log.warning("request too long, refused")
            self._reply(encode_error(ProtocolError(
                f"request too long: at most {MAX_REQUEST_SIZE} bytes are accepted"
            )))
            return
        raw = bytes(buffer)
        dispatcher = self._server.dispatcher
        reply = dispatcher.cached(raw)
        if reply is not None:
            self._answering = True
            self._reply(reply)
            return
        try:
            request = parse_request(raw)
        except FramingError as exc:
            log.warning("framing error: %s", exc)
            self._close()
            return
        self._request = request
        self._answering = True
        self._respond(dispatcher, request, raw)

    # --- answering

    def _respond(self, dispatcher: SupportsDispatch, request: Request, raw: bytes) -> None:
        try:
            outcome = dispatcher.dispatch(request, raw)
        except _ANSWERED as exc:
            self._log_answered(exc)
            self._reply(encode_error(exc, debug=self._server.debug))
            return
        except Exception:
            self._log_failure("unhandled exception")
            self._close()
            return
        result = outcome.result
        if outcome.reply is not None:
            self._reply(outcome.reply)
        elif result is None or type(result) is str:
            self._reply(encode_ok(result))
        elif _is_event_stream(result):
            self._streaming = True
            self._start(self._stream(cast(AsyncIterator[Event], result)), watch=True)
        elif inspect.isawaitable(result):
            self._start(self._finish(result), watch=outcome.cancellable)
        elif isinstance(result, str):  # a str subclass
            self._reply(encode_ok(result))
        else:
            self._log_failure(f"handler returned {type(result).__name__}", exc_info=False)
            self._close()

    def _reply(self, data: bytes) -> None:
        """Answer without a task when the socket takes the whole answer at once."""
        try:
            sent = self._sock.send(data, _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # the caller is gone
            self._close()
            return
        if sent == len(data):
            self._close()
        else:
            self._start(self._send_rest(memoryview(data)[sent:]), watch=False)

    def _start(self, coro: Coroutine[Any, Any, None], *, watch: bool) -> None:
        self._sock.setblocking(False)  # for the loop's sock_sendall
        self._task = self._server._start(coro)
        if watch:
            self._watch_hangup()

    def _watch_hangup(self) -> None:
        if not self._closed:
            self._poller.add_hangup(self._fd, self._on_hangup)

    def _on_hangup(self) -> None:
        self._poller.remove(self._fd)
        self.abort()

    async def _send_rest(self, data: memoryview) -> None:
        try:
            await self._sock_sendall(data)
        except OSError:
            pass
        finally:
            self._close()

    async def _finish(self, awaitable: Awaitable[Result]) -> None:
        try:
            try:
                result = await awaitable
            except _ANSWERED as exc:
                self._log_answered(exc)
                await self._send(encode_error(exc, debug=self._server.debug))
                return
            except Exception:
                self._log_failure("unhandled exception")
                return
            if _is_event_stream(result):
                self._streaming = True
                self._watch_hangup()
                await self._stream(cast(AsyncIterator[Event], result))
            elif result is None or isinstance(result, str):
                await self._send(encode_ok(result))
            else:
                self._log_failure(f"handler returned {type(result).__name__}", exc_info=False)
        except OSError:
            pass  # the caller is gone
        finally:
            self._close()

    async def _stream(self, events: AsyncIterator[Event]) -> None:
        try:
            await self._send(encode_event(None, CONNECTION_ESTABLISHED, {}))
            async for subject, event, kwargs in events:
                await self._send(encode_event(subject, event, kwargs))
        except OSError:
            pass  # the caller is gone
        except EventStreamOverflow as exc:
            self._log_failure(f"caller dropped: {exc!r}", level=logging.WARNING, exc_info=False)
        except Exception:
            self._log_failure("event stream failed")
        finally:
            await _aclose(events)
            self._close()

    async def _send(self, data: bytes) -> None:
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            await self._sock_sendall(memoryview(data)[sent:])

    async def _sock_sendall(self, data: memoryview) -> None:
        assert self._server._loop is not None
        await self._server._loop.sock_sendall(self._sock, data)

    # --- logging

    def _log_answered(self, exc: BaseException) -> None:
        if not isinstance(exc, QubesException):
            self._log_failure(type(exc).__name__, level=logging.WARNING, exc_info=False)
        elif self._server.debug:
            self._log_failure(repr(exc), level=logging.DEBUG)

    def _log_failure(
        self, reason: str, *, level: int = logging.ERROR, exc_info: bool = True
    ) -> None:
        request = self._request
        if request is None:
            log.log(level, "failed call: %s", reason, exc_info=exc_info)
            return
        log.log(
            level,
            "failed call %s+%s (%s -> %s) with payload of %d bytes: %s",
            request.method,
            request.arg,
            request.source,
            request.dest,
            len(request.payload),
            reason,
            exc_info=exc_info,
        )


async def _aclose(events: AsyncIterator[Event]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.exception("closing event stream %r failed", events)
