"""Admin API latency under load: 32 concurrent clients on a 1,000-qube demo daemon.

Prints one line per method:
``api_latency method=M clients=32 calls_per_s=X p50_ms=Y p99_ms=Z``

How it measures: the daemon (``--demo --qubes 1000``) runs in its own process. The
load comes from ``--procs`` client processes that together keep ``--clients`` calls
in flight at every moment: each drives its share over raw Unix sockets with one epoll
set, and starts the next call on a slot as soon as the previous one ended. A call is
what the official client does: a new connection, the request, a half-close, the
answer read to EOF; its latency runs from just before the socket is created to the
EOF. ``calls_per_s`` counts the calls completed inside the ``--seconds`` window
(calls still in flight at its end are dropped), over all processes; the percentiles
are over those calls; an answer that does not start with ``0\\0`` counts in
``errors=``. ``Get`` and ``GetAll`` start on a daemon that has not answered them yet,
so the first call for each qube (nothing cached) is measured too.

Multiplexing keeps the clients' own cost, and their context switches, low: they share
the machine's cores with the daemon they measure. The daemon serves from one thread,
so by default it keeps one core and the clients get the others (on 2 cores, one
client process; a second would only take CPU from the daemon).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

METHODS = (
    ("admin.vm.property.Get", "netvm"),
    ("admin.vm.property.GetAll", ""),
    ("admin.vm.List", ""),
)


def start_daemon(state: Path, sock: Path, qubes: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "--demo", "--qubes", str(qubes),
         "--state-dir", str(state), "--socket", str(sock)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("qubes-backend: ready"):
            return proc
    raise RuntimeError("the daemon did not start")


def one_call(sock_path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(sock_path)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(262144):
            chunks.append(chunk)
    return b"".join(chunks)


def worker(sock_path: str, requests: list[bytes], slots: int, duration: float,
           start_at: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Keep ``slots`` calls in flight until the window ends; report latencies, errors."""
    af_unix, sock_stream, shut_wr = socket.AF_UNIX, socket.SOCK_STREAM, socket.SHUT_WR
    dontwait = socket.MSG_DONTWAIT
    # EPOLLRDHUP: the daemon has closed, so one read takes the whole rest of the answer
    watch, closed = select.EPOLLIN | select.EPOLLRDHUP, select.EPOLLRDHUP
    new_socket, clock = socket.socket, time.perf_counter
    poller = select.epoll()
    register, poll = poller.register, poller.poll
    # answers are read into one buffer and only their first bytes looked at
    buffer = bytearray(1 << 20)
    size = len(buffer)
    #: fd -> [socket, start time, the answer's first two bytes]
    calls: dict[int, list[Any]] = {}
    latencies: list[float] = []
    record = latencies.append
    errors = 0
    count = len(requests)
    sent = 0

    def launch() -> None:
        nonlocal sent, errors
        while clock() < end:
            request = requests[sent % count]
            sent += 1
            t0 = clock()
            sock = new_socket(af_unix, sock_stream)
            try:
                sock.connect(sock_path)
                sock.send(request)  # a few dozen bytes: the socket buffer takes them at once
                sock.shutdown(shut_wr)
            except OSError:
                sock.close()
                errors += 1
                continue
            fd = sock.fileno()
            register(fd, watch)
            calls[fd] = [sock, t0, b""]
            return

    time.sleep(max(0.0, start_at - time.time()))
    end = clock() + duration
    for _ in range(slots):
        launch()
    running = True
    while calls:
        for fd, events in poll():
            call = calls[fd]
            sock = call[0]
            while True:
                try:
                    n = sock.recv_into(buffer, size, dontwait)
                except BlockingIOError:
                    break
                except OSError:  # reset: counted as an error
                    n, call[2] = 0, b""
                if n:
                    head: bytes = call[2]
                    if len(head) < 2:
                        call[2] = head + buffer[:min(n, 2 - len(head))]
                    if n < size and events & closed:
                        n = 0  # nothing more can come: the EOF is next
                if not n:
                    now = clock()
                    del calls[fd]
                    sock.close()  # closing also takes it out of the epoll set
                    if call[2] != b"0\0":
                        errors += 1
                    elif running:
                        record(now - call[1])
                    if running and now < end:
                        launch()
                    else:
                        running = False
                    break
    poller.close()
    out.put((latencies, errors))


def measure(sock_path: str, method: str, arg: str, names: list[str], clients: int,
            duration: float, procs: int) -> str:
    from backend.protocol import encode_request

    if method == "admin.vm.List":
        requests = [encode_request(method, "dom0")]
    else:
        requests = [encode_request(method, name, arg) for name in names]
    procs = max(1, min(procs, clients))
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 0.5
    workers = [
        mp.Process(target=worker, args=(sock_path, requests[i::procs] or requests,
                                        clients // procs + (i < clients % procs),
                                        duration, start_at, out))
        for i in range(procs)
    ]
    for p in workers:
        p.start()
    results = [out.get() for _ in workers]
    for p in workers:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    n = len(latencies)
    p50 = latencies[n // 2] * 1000 if n else float("nan")
    p99 = latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan")
    line = (f"api_latency method={method} clients={clients} calls_per_s={n / duration:.0f} "
            f"p50_ms={p50:.2f} p99_ms={p99:.2f}")
    if errors:
        line += f" errors={errors}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qubes", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32, help="calls kept in flight")
    parser.add_argument("--procs", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="client processes sharing those calls (default: cores - 1)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--method", action="append", choices=[m for m, _ in METHODS],
                        help="measure only this method (repeatable)")
    args = parser.parse_args()
    methods = [(m, a) for m, a in METHODS if not args.method or m in args.method]
    with tempfile.TemporaryDirectory() as tmp:
        state, sock = Path(tmp) / "state", Path(tmp) / "qubesd.sock"
        daemon = start_daemon(state, sock, args.qubes)
        try:
            listing = one_call(str(sock), b"admin.vm.List+ dom0 name dom0\0")
            names = [line.split(" ", 1)[0] for line in listing[2:].decode().splitlines()
                     if line and not line.startswith("dom0 ")]
            for method, arg in methods:
                print(measure(str(sock), method, arg, names, args.clients, args.seconds,
                              args.procs), flush=True)
        finally:
            daemon.terminate()
            daemon.wait(30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
