#!/usr/bin/env python3
"""The qrexec service ``admin.vm.volume.Import`` / ``ImportWithSize`` for our daemon.

Behaves like upstream's ``/etc/qubes-rpc/admin.vm.volume.Import``: the target qube
comes from ``QREXEC_REQUESTED_TARGET``, the caller from ``QREXEC_REMOTE_DOMAIN``
(default dom0), the volume name is the first argument and the data is stdin. For
``ImportWithSize`` (run under that name, or with ``--with-size``) the first line of
stdin is the size in bytes. It asks the daemon for a file to write into
(``admin.backend.volume.ImportBegin``), copies exactly that many bytes (holes where the
data is zeros), refuses a stream that is shorter or longer, and reports the outcome
(``admin.backend.volume.ImportEnd``), whose reply it prints in the Admin API wire
format. The daemon's socket is ``QUBESD_SOCKET`` (default /var/run/qubesd.sock).

Standard library only, so it can be installed on its own.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import BinaryIO

BEGIN_METHOD = "admin.backend.volume.ImportBegin"
END_METHOD = "admin.backend.volume.ImportEnd"
WITH_SIZE_SERVICE = "admin.vm.volume.ImportWithSize"
DEFAULT_SOCKET = "/var/run/qubesd.sock"
CHUNK = 1 << 20
ZERO_GRAIN = 64 << 10
MAX_SIZE_LINE = 32


class ImportFailed(Exception):
    """The data could not be copied; the message goes to ImportEnd."""


def query(socket_path: str, method: str, source: str, dest: str, arg: str,
          payload: bytes = b"") -> bytes:
    """One Admin API call; returns the raw response."""
    header = f"{method}+{arg} {source} name {dest}".encode("ascii") + b"\0"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(socket_path)
        sock.sendall(header + payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def error_response(message: str, exc_class: str = "QubesException") -> bytes:
    """An answer in the wire format for failures found before the daemon is asked."""
    text = message.replace("%", "%%").replace("\0", " ")
    return b"2\0" + exc_class.encode("ascii") + b"\0\0" + text.encode("utf-8", "replace") + b"\0"


def read_size_line(stdin: BinaryIO) -> bytes:
    """The first line of stdin (ImportWithSize), without its newline."""
    line = stdin.readline(MAX_SIZE_LINE)
    return line.rstrip(b"\n")


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data = data[written:]
        offset += written


def write_nonzero(fd: int, buffer: bytearray, length: int, offset: int) -> None:
    """Write ``buffer[:length]`` at ``offset``, leaving all-zero blocks as holes (the
    import file was created sparse, so they already read as zeros)."""
    view = memoryview(buffer)
    start = None  # first block of the current run of data
    for pos in range(0, length, ZERO_GRAIN):
        end = min(pos + ZERO_GRAIN, length)
        if buffer.count(0, pos, end) == end - pos:
            if start is not None:
                _write_all(fd, view[start:pos], offset + start)
                start = None
        elif start is None:
            start = pos
    if start is not None:
        _write_all(fd, view[start:length], offset + start)


def copy_exactly(stdin: BinaryIO, path: str, size: int) -> None:
    """Copy exactly ``size`` bytes of stdin into the existing file ``path``."""
    buffer = bytearray(min(CHUNK, max(size, 1)))
    view = memoryview(buffer)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        offset = 0
        while offset < size:
            want = min(len(buffer), size - offset)
            got = stdin.readinto(view[:want])  # type: ignore[attr-defined]
            if not got:
                raise ImportFailed(f"not enough data: got {offset} bytes of {size}")
            write_nonzero(fd, buffer, got, offset)
            offset += got
        if stdin.read(1):
            raise ImportFailed(f"too much data: more than the {size} bytes announced")
        os.fdatasync(fd)
    except OSError as exc:
        raise ImportFailed(f"cannot write the data: {exc}") from exc
    finally:
        os.close(fd)


def run(volume: str, with_size: bool, stdin: BinaryIO, env: dict[str, str]) -> bytes:
    socket_path = env.get("QUBESD_SOCKET") or DEFAULT_SOCKET
    source = env.get("QREXEC_REMOTE_DOMAIN") or "dom0"
    target = env.get("QREXEC_REQUESTED_TARGET")
    if not target:
        return error_response("QREXEC_REQUESTED_TARGET is not set: no qube to import into")
    payload = read_size_line(stdin) if with_size else b""
    if with_size and not payload:
        # an empty payload would mean "the volume's current size" to the daemon
        return error_response("Invalid value for size of new data: the first line of the "
                              "data must be the size in bytes", "ProtocolError")
    reply = query(socket_path, BEGIN_METHOD, source, target, volume, payload)
    if not reply.startswith(b"0\0"):
        return reply
    size_text, _, path = reply[2:].decode("utf-8").partition(" ")
    status = b"ok"
    try:
        copy_exactly(stdin, path, int(size_text))
    except ImportFailed as exc:
        status = b"fail\n" + str(exc).encode("ascii", "replace")
    except BaseException:
        query(socket_path, END_METHOD, source, target, volume, b"fail\ninterrupted")
        raise
    return query(socket_path, END_METHOD, source, target, volume, status)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    service = os.environ.get("QREXEC_SERVICE_FULL_NAME", "")
    with_size = (
        os.path.basename(args[0]) == WITH_SIZE_SERVICE
        or service.split("+", 1)[0] == WITH_SIZE_SERVICE
    )
    rest = args[1:]
    if rest and rest[0] == "--with-size":
        with_size = True
        rest = rest[1:]
    if len(rest) != 1 or not rest[0]:
        reply = error_response("usage: import_volume.py [--with-size] VOLUME < DATA")
    else:
        try:
            reply = run(rest[0], with_size, sys.stdin.buffer, dict(os.environ))
        except OSError as exc:
            reply = error_response(f"Cannot reach the qubes daemon: {exc}")
    sys.stdout.buffer.write(reply)
    sys.stdout.buffer.flush()
    return 0 if reply.startswith(b"0\0") else 1


if __name__ == "__main__":
    sys.exit(main())
