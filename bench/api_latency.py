"""Admin API latency under load: 32 concurrent clients on a 1,000-qube demo daemon.

Prints one line per method:
``api_latency method=M clients=32 calls_per_s=X p50_ms=Y p99_ms=Z``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def worker(sock_path: str, requests: list[bytes], duration: float, start_at: float,
           out: mp.Queue) -> None:  # type: ignore[type-arg]
    latencies = []
    errors = 0
    while time.time() < start_at:
        pass
    end = start_at + duration
    i = 0
    while time.time() < end:
        req = requests[i % len(requests)]
        i += 1
        t0 = time.perf_counter()
        try:
            reply = one_call(sock_path, req)
            if not reply.startswith(b"0\0"):
                errors += 1
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - t0)
    out.put((latencies, errors))


def measure(sock_path: str, method: str, arg: str, names: list[str], clients: int,
            duration: float) -> str:
    from backend.protocol import encode_request

    if method == "admin.vm.List":
        requests = [encode_request(method, "dom0")]
    else:
        requests = [encode_request(method, name, arg) for name in names]
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 0.5
    procs = [mp.Process(target=worker, args=(sock_path, requests[i::clients] or requests,
                                             duration, start_at, out))
             for i in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qubes", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state, sock = Path(tmp) / "state", Path(tmp) / "qubesd.sock"
        daemon = start_daemon(state, sock, args.qubes)
        try:
            listing = one_call(str(sock), b"admin.vm.List+ dom0 name dom0\0")
            names = [line.split(" ", 1)[0] for line in listing[2:].decode().splitlines()
                     if line and not line.startswith("dom0 ")]
            for method, arg in METHODS:
                print(measure(str(sock), method, arg, names, args.clients, args.seconds),
                      flush=True)
        finally:
            daemon.terminate()
            daemon.wait(30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
