"""Which backend a GUI talks to, and the demo daemon started when there is none.

The rule of DESIGN.md, in order:

1. ``--socket PATH`` or ``$QUBESD_SOCKET``: that socket, and nothing else;
2. the system socket ``/var/run/qubesd.sock`` if it answers (dom0);
3. ``qrexec-client-vm`` on PATH with no system socket: we are in a GUI qube;
4. otherwise the demo system: a demo daemon some other program of ours already
   started, or ``python -m backend --demo`` on a private socket under
   ``$XDG_RUNTIME_DIR``, stopped again when this program exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import backend.client
from backend.client import (
    QREXEC_CLIENT_VM,
    SYSTEM_SOCKET,
    AdminClient,
    QrexecTransport,
    QubesDaemonCommunicationError,
    Transport,
    UnixTransport,
)
from backend.client.client import DEFAULT_MAX_IN_FLIGHT

log = logging.getLogger("gui")

SOCKET_ENV = "QUBESD_SOCKET"
READY_PREFIX = "qubes-backend: ready"
#: private directories of demo daemons under the runtime directory
DEMO_DIR_PREFIX = "qubes-backend-demo-"
DEMO_SOCKET = "qubesd.sock"
DEMO_LOG = "daemon.log"
#: how long a demo daemon may take to build the demo system and start
DEMO_START_TIMEOUT = 120.0
DEMO_STOP_TIMEOUT = 15.0
PROBE_TIMEOUT = 5.0
#: the directory that holds the ``backend`` package, for the daemon's PYTHONPATH
_PACKAGE_ROOT = Path(backend.client.__file__).resolve().parents[2]


class BackendKind(enum.Enum):
    """Where the backend came from."""

    SOCKET = "socket"  # given with --socket or QUBESD_SOCKET
    SYSTEM = "system"  # the system's qubesd (dom0)
    QREXEC = "qrexec"  # dom0's qubesd, from a GUI qube
    DEMO = "demo"  # our demo daemon


class BackendError(Exception):
    """No backend could be reached or started; the message is for the user."""


async def socket_answers(path: str | os.PathLike[str], timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a daemon answers on ``path`` (any answer, even an error, counts)."""
    if not Path(path).exists():
        return False
    client = AdminClient(UnixTransport(path), max_in_flight=1)
    try:
        async with asyncio.timeout(timeout):
            await client.call("admin.label.List")
    except (QubesDaemonCommunicationError, TimeoutError):
        return False
    except Exception:  # noqa: BLE001 - refused or odd, but somebody answered
        return True
    return True


@dataclass
class DemoDaemon:
    """A demo daemon process this program started; :meth:`stop` ends it."""

    process: asyncio.subprocess.Process
    socket_path: Path
    private_dir: Path
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(cls, runtime_dir: Path, env: Mapping[str, str], *,
                    timeout: float = DEMO_START_TIMEOUT,
                    extra_args: Sequence[str] = ()) -> DemoDaemon:
        private = _private_dir(runtime_dir)
        sock = private / DEMO_SOCKET
        child_env = dict(env)
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        log_path = private / DEMO_LOG
        with open(log_path, "wb") as log_file:  # the child keeps its own descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "backend", "--demo", "--socket", str(sock), *extra_args,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=log_file, env=child_env,
            )
        daemon = cls(process, sock, private)
        try:
            async with asyncio.timeout(timeout):
                await daemon._wait_ready()
        except BaseException as exc:
            await daemon.stop()
            if isinstance(exc, TimeoutError):
                raise BackendError(f"The demo backend did not start within {timeout:.0f} s"
                                   f"{_log_tail(log_path)}") from None
            raise
        daemon._drain = asyncio.ensure_future(daemon._drain_stdout())
        log.info("started the demo backend (pid %s) on %s", process.pid, sock)
        return daemon

    async def _wait_ready(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            if line.decode("utf-8", "replace").startswith(READY_PREFIX):
                return
        await self.process.wait()
        raise BackendError(
            f"The demo backend exited with status {self.process.returncode}"
            f"{_log_tail(self.private_dir / DEMO_LOG)}")

    async def _drain_stdout(self) -> None:
        # keep reading so that the daemon never blocks on a full pipe
        assert self.process.stdout is not None
        while await self.process.stdout.read(65536):
            pass

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def stop(self, timeout: float = DEMO_STOP_TIMEOUT) -> None:
        """SIGTERM (the daemon saves and closes), SIGKILL if it takes too long."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                log.warning("the demo backend did not stop, killing it")
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        shutil.rmtree(self.private_dir, ignore_errors=True)
        log.info("stopped the demo backend")


def _private_dir(runtime_dir: Path) -> Path:
    """A new directory only we can enter (mode 0700), under the runtime dir if usable."""
    try:
        return Path(tempfile.mkdtemp(prefix=DEMO_DIR_PREFIX, dir=runtime_dir))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=DEMO_DIR_PREFIX))


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return ":\n" + "\n".join(tail) if tail else ""


def runtime_dir(env: Mapping[str, str]) -> Path:
    value = env.get("XDG_RUNTIME_DIR")
    if value and Path(value).is_dir() and os.access(value, os.W_OK | os.X_OK):
        return Path(value)
    return Path(tempfile.gettempdir())


async def find_running_demo(base: Path) -> Path | None:
    """The socket of a demo daemon another program of ours started, if one answers."""
    try:
        candidates = sorted(base.glob(f"{DEMO_DIR_PREFIX}*/{DEMO_SOCKET}"))
    except OSError:
        return None
    for sock in candidates:
        if sock.parent.stat().st_uid == os.getuid() and await socket_answers(sock):
            return sock
    return None


@dataclass
class BackendConnection:
    """The backend a program talks to; :meth:`close` stops a demo daemon we started."""

    kind: BackendKind
    transport: Transport
    demo: DemoDaemon | None = None

    @property
    def is_demo(self) -> bool:
        """True on the demo system (window titles say so)."""
        return self.kind is BackendKind.DEMO

    @property
    def description(self) -> str:
        return self.transport.describe()

    def client(self, *, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> AdminClient:
        """A new client of this backend."""
        return AdminClient(self.transport, max_in_flight=max_in_flight)

    async def close(self) -> None:
        if self.demo is not None:
            await self.demo.stop()


async def connect_backend(
    socket_path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    system_socket: Path = SYSTEM_SOCKET,
    demo_timeout: float = DEMO_START_TIMEOUT,
) -> BackendConnection:
    """Apply the connection rule; raises BackendError when nothing can be used."""
    env = os.environ if env is None else env
    explicit = socket_path if socket_path is not None else env.get(SOCKET_ENV) or None
    if explicit is not None:
        if not await socket_answers(explicit):
            raise BackendError(f"Nothing answers on the socket {os.fspath(explicit)}")
        return BackendConnection(BackendKind.SOCKET, UnixTransport(explicit))
    if await socket_answers(system_socket):
        return BackendConnection(BackendKind.SYSTEM, UnixTransport(system_socket))
    qrexec = shutil.which(QREXEC_CLIENT_VM, path=env.get("PATH"))
    if qrexec is not None and not system_socket.exists():
        return BackendConnection(BackendKind.QREXEC, QrexecTransport(qrexec))
    base = runtime_dir(env)
    running = await find_running_demo(base)
    if running is not None:
        log.info("using the demo backend already running on %s", running)
        return BackendConnection(BackendKind.DEMO, UnixTransport(running))
    demo = await DemoDaemon.start(base, env, timeout=demo_timeout)
    return BackendConnection(BackendKind.DEMO, UnixTransport(demo.socket_path), demo)
