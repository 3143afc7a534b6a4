"""The daemon as a process: SIGKILL loses no acknowledged change; a damaged store
stops it with a message naming the file, and the file is left untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend.errors import QubesException
from backend.protocol import decode_response, encode_request

ROOT = Path(__file__).resolve().parents[3]


def start(state: Path, sock: Path, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "--state-dir", str(state), "--socket", str(sock),
         *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("qubes-backend: ready"):
            return proc
    proc.wait(30)
    raise AssertionError(f"daemon did not start: {proc.stderr.read() if proc.stderr else ''}")


def call(sock: Path, method: str, dest: str, arg: str = "", payload: bytes = b"") -> str:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(str(sock))
        conn.sendall(encode_request(method, dest, arg, payload))
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return decode_response(b"".join(chunks))


def test_sigkill_loses_no_acknowledged_change(tmp_path: Path) -> None:
    state, sock = tmp_path / "state", tmp_path / "qubesd.sock"
    for round_ in range(3):
        proc = start(state, sock, "--demo")
        acked: list[int] = []
        enough = threading.Event()

        def burst(
            round_: int = round_, acked: list[int] = acked, enough: threading.Event = enough
        ) -> None:
            for i in range(10_000):
                try:
                    call(sock, "admin.vm.feature.Set", "work", f"r{round_}-{i}", b"v%d" % i)
                except (OSError, QubesException):
                    return
                acked.append(i)
                if len(acked) == 25 + 10 * round_:
                    enough.set()

        thread = threading.Thread(target=burst)
        thread.start()
        assert enough.wait(120)
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: more calls are in flight
        thread.join(60)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        proc = start(state, sock, "--demo")
        try:
            for i in acked:
                assert call(sock, "admin.vm.feature.Get", "work", f"r{round_}-{i}") == f"v{i}"
        finally:
            proc.terminate()
            proc.wait(30)


@pytest.mark.parametrize("content", [b"", b"<qubes><labels>", b"garbage\x00\xff",
                                     b"<notqubes/>"])
def test_damaged_store_stops_the_daemon_and_is_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    store = state / "qubes.xml"
    store.write_bytes(content)
    before = store.stat()
    proc = subprocess.run(
        [sys.executable, "-m", "backend", "--state-dir", str(state),
         "--socket", str(tmp_path / "s.sock")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert str(store) in proc.stderr
    assert "left untouched" in proc.stderr
    assert store.read_bytes() == content
    assert store.stat().st_mtime_ns == before.st_mtime_ns
