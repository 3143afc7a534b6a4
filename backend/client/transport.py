"""How one Admin API request reaches qubesd: a Unix socket, or qrexec from a qube.

Both transports carry one request per connection and hand back the raw response
bytes (``reference/admin-api.md`` §1.1–1.3); decoding is the caller's business.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol, TypeAlias

from backend.protocol import QubesDaemonCommunicationError, encode_request

log = logging.getLogger("backend.client")

#: the Admin API socket of a real dom0
SYSTEM_SOCKET = Path("/var/run/qubesd.sock")
#: the program a GUI qube calls Admin API methods with
QREXEC_CLIENT_VM = "qrexec-client-vm"

#: connect() errors worth another try: a busy listener, or one being replaced
_RETRYABLE = frozenset({errno.ENOTCONN, errno.ECONNREFUSED, errno.EAGAIN})
_CONNECT_TRIES = 5
_CONNECT_BACKOFF = 0.02  # seconds, doubled after each failed try
_READ_SIZE = 65536

#: ``async with transport.stream(...) as chunks``: the response bytes as they arrive
StreamContext: TypeAlias = AbstractAsyncContextManager[AsyncIterator[bytes]]


class Transport(Protocol):
    """One request per connection; ``stream`` keeps the connection open (events)."""

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        """Send one request and return the whole raw response."""

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        """Open a request whose response does not end: ``async with`` gives its chunks."""

    def describe(self) -> str:
        """Where requests go, for messages and logs."""


class UnixTransport:
    """The Admin API socket in dom0 (or our daemon's socket anywhere)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def describe(self) -> str:
        return self.path

    async def _connect(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        delay = _CONNECT_BACKOFF
        for attempt in range(_CONNECT_TRIES):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, self.path)
                return sock
            except OSError as exc:
                sock.close()
                if exc.errno not in _RETRYABLE or attempt == _CONNECT_TRIES - 1:
                    raise QubesDaemonCommunicationError(
                        f"Cannot connect to qubesd at {self.path}: {exc.strerror or exc}"
                    ) from exc
                log.debug("connect to %s failed (%s), retrying", self.path, exc)
            # a short back-off inside the library, never in the GUI thread's way
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _send(self, sock: socket.socket, data: bytes) -> None:
        try:
            await asyncio.get_running_loop().sock_sendall(sock, data)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            # the server may drop an oversized or malformed request before reading it;
            # what it answered (nothing) is read below
            log.debug("sending to %s failed: %s", self.path, exc)

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        data = encode_request(method, dest, arg, payload)
        loop = asyncio.get_running_loop()
        sock = await self._connect()
        try:
            await self._send(sock, data)
            chunks: list[bytes] = []
            while True:
                try:
                    chunk = await loop.sock_recv(sock, _READ_SIZE)
                except ConnectionResetError:
                    break  # an aborted connection is an empty (or cut) response
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            sock.close()

    @asynccontextmanager
    async def _stream(self, method: str, dest: str,
                      arg: str) -> AsyncIterator[AsyncIterator[bytes]]:
        data = encode_request(method, dest, arg, b"")
        sock = await self._connect()
        try:
            await self._send(sock, data)
            yield self._chunks(sock)
        finally:
            sock.close()

    @staticmethod
    async def _chunks(sock: socket.socket) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        while True:
            try:
                chunk = await loop.sock_recv(sock, _READ_SIZE)
            except ConnectionResetError:
                return
            if not chunk:
                return
            yield chunk

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        return self._stream(method, dest, arg)


class QrexecTransport:
    """Calls from a GUI qube: ``qrexec-client-vm DEST METHOD+ARG`` with the payload on stdin.

    qrexec adds the header (with the calling qube as source) and dom0's policy decides;
    the program's output is the raw qubesd response.
    """

    def __init__(self, program: str = QREXEC_CLIENT_VM) -> None:
        self.program = program

    def describe(self) -> str:
        return f"{self.program} (qrexec)"

    async def _spawn(self, method: str, dest: str, arg: str) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                self.program, dest, f"{method}+{arg}",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            raise QubesDaemonCommunicationError(
                f"Cannot run {self.program}: {exc.strerror or exc}"
            ) from exc

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        encode_request(method, dest, arg, payload)  # the same framing rules as the socket
        process = await self._spawn(method, dest, arg)
        try:
            output, _ = await process.communicate(payload)
        except BaseException:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        if process.returncode != 0 and not output:
            log.debug("%s %s+%s exited with %s", self.program, method, arg, process.returncode)
        return output

    @asynccontextmanager
    async def _stream(self, method: str, dest: str,
                      arg: str) -> AsyncIterator[AsyncIterator[bytes]]:
        encode_request(method, dest, arg, b"")
        process = await self._spawn(method, dest, arg)
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.close()
            yield self._chunks(process.stdout)
        finally:
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
            await process.wait()

    @staticmethod
    async def _chunks(stdout: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while chunk := await stdout.read(_READ_SIZE):
            yield chunk

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        return self._stream(method, dest, arg)


def default_transport(socket_path: str | os.PathLike[str] | None = None) -> Transport:
    """The socket given, else the system socket if present, else qrexec if available.

    Raises QubesDaemonCommunicationError when none of them can be used.
    """
    if socket_path is not None:
        return UnixTransport(socket_path)
    if SYSTEM_SOCKET.exists():
        return UnixTransport(SYSTEM_SOCKET)
    program = shutil.which(QREXEC_CLIENT_VM)
    if program is not None:
        return QrexecTransport(program)
    raise QubesDaemonCommunicationError(
        f"No qubesd socket at {SYSTEM_SOCKET} and no {QREXEC_CLIENT_VM} on PATH"
    )
