"""Qube Manager on 1,000 qubes: launch to full table, Admin API calls, event to repaint.

Starts a demo daemon with ``--demo --qubes N`` on a temporary state dir, then the
window as a separate process (``python -m qubes_manager.manager --socket S`` with
``QUBES_MANAGER_BENCH=1``, which makes it print timing lines, see
``qubes_manager/benchprobe.py``), and measures:

* ``seconds``: from launching the process to the first paint of the filled table;
* ``calls_per_qube``: Admin API calls the daemon counted (``admin.backend.CallCounts``)
  from the launch until the window has settled (table, features, stats stream, disk
  usage of the rows on screen), divided by N;
* ``event_to_row_ms``: median, over ~20 label changes of qubes on screen made through
  the socket, from the ``Set`` call to the repainted row.

The last line printed is
``manager_load qubes=N seconds=S calls_per_qube=C event_to_row_ms=L``.
Targets (DESIGN.md): under 1.5 s, at most 2 calls per qube, under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.protocol import decode_response, encode_request  # noqa: E402

LABELS = ("red", "orange", "yellow", "green", "gray", "blue", "purple", "black")
#: after the table is filled, how long to let the window finish its start-up work
SETTLE_SECONDS = 2.0
LINE_TIMEOUT = 60.0


def call(sock_path: Path, method: str, dest: str = "dom0", arg: str = "",
         payload: bytes = b"") -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(sock_path))
        sock.sendall(encode_request(method, dest, arg, payload))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(262144):
            chunks.append(chunk)
    return decode_response(b"".join(chunks))


def call_counts(sock_path: Path) -> int:
    lines = call(sock_path, "admin.backend.CallCounts").splitlines()
    return sum(int(line.rsplit(" ", 1)[1]) for line in lines if line.strip())


def start_daemon(state: Path, sock: Path, qubes: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "--demo", "--qubes", str(qubes),
         "--state-dir", str(state), "--socket", str(sock)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("qubes-backend: ready"):
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc
    raise RuntimeError("the daemon did not start")


class Window:
    """The manager process; its benchmark lines arrive in a queue."""

    def __init__(self, sock: Path, config: Path) -> None:
        env = dict(os.environ, QUBES_MANAGER_BENCH="1", XDG_CONFIG_HOME=str(config),
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   PYTHONPATH=str(ROOT))
        self.launched = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qubes_manager.manager", "--socket", str(sock)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("manager-bench "):
                self.lines.put(line.strip())

    def next_line(self, kinds: str, qube: str | None = None,
                  since: float = 0.0) -> dict[str, str]:
        """The next line of one of ``kinds`` (``a|b``), about ``qube``, stamped after
        ``since`` (earlier ones are repaints the window did for other reasons)."""
        deadline = time.monotonic() + LINE_TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            fields = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
            kind = line.split()[1]
            if kind in kinds.split("|") and (qube is None or fields.get("qube") == qube) \
                    and float(fields.get("t", "0")) >= since:
                fields["kind"] = kind
                return fields

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(qubes: int, changes: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        state, sock = Path(tmp) / "state", Path(tmp) / "qubesd.sock"
        daemon = start_daemon(state, sock, qubes)
        try:
            before = call_counts(sock)
            window = Window(sock, Path(tmp) / "config")
            try:
                populated = window.next_line("populated")
                seconds = float(populated["t"]) - window.launched
                shown = int(populated["qubes"])
                visible = [n for n in populated["visible"].split(",") if n and n != "dom0"]
                time.sleep(SETTLE_SECONDS)  # let the start-up reads finish, then count
                calls = call_counts(sock) - before - 1  # not the CallCounts call itself
                print(f"manager_load: {shown} qubes in the table after {seconds:.3f} s; "
                      f"{calls} Admin API calls; {len(visible)} rows on screen", flush=True)
                latencies = event_latencies(sock, window, visible, changes)
            finally:
                window.stop()
        finally:
            daemon.terminate()
            daemon.wait(30)
    median = statistics.median(latencies) if latencies else float("nan")
    return (f"manager_load qubes={qubes} seconds={seconds:.3f} "
            f"calls_per_qube={calls / qubes:.3f} event_to_row_ms={median:.1f}")


def event_latencies(sock: Path, window: Window, visible: list[str], count: int) -> list[float]:
    rng = random.Random(4)
    result = []
    for _ in range(count):
        name = rng.choice(visible)
        label = rng.choice(LABELS)
        current = call(sock, "admin.vm.property.Get", name, "label").split()[-1]
        while label == current:
            label = rng.choice(LABELS)
        sent = time.time()
        call(sock, "admin.vm.property.Set", name, "label", label.encode())
        seen = window.next_line("repainted|updated", name, since=sent)
        if seen["kind"] == "repainted":
            result.append((float(seen["t"]) - sent) * 1000)
        time.sleep(0.05)
    if result:
        print(f"manager_load: event to repainted row over {len(result)} changes: "
              f"min {min(result):.1f} ms, median {statistics.median(result):.1f} ms, "
              f"max {max(result):.1f} ms", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubes", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    print(measure(args.qubes, args.changes), flush=True)


if __name__ == "__main__":
    main()
