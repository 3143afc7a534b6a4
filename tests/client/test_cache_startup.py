"""Startup order: the stream is open before the load, so nothing that happens is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.client import (
    AdminClient,
    QubesDaemonCommunicationError,
    SystemCache,
    UnixTransport,
)
from backend.client.transport import StreamContext
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, run


class StaleAnswers:
    """Reads the answer of ``method`` and holds it back until ``release`` is set."""

    def __init__(self, inner: UnixTransport, method: str) -> None:
        self.inner = inner
        self.method = method
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    def describe(self) -> str:
        return "stale"

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        response = await self.inner.request(method, dest, arg, payload)
        if method == self.method and dest in ("work", "dom0"):
            self.answered.set()
            await self.release.wait()
        return response

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        return self.inner.stream(method, dest, arg)


@pytest.mark.parametrize(("bulk", "method"), [
    (True, "admin.backend.GetAllData"),
    (False, "admin.vm.property.GetAll"),
])
def test_change_during_the_load_is_not_lost(running: RunningDaemon, bulk: bool,
                                            method: str) -> None:
    async def main() -> None:
        transport = StaleAnswers(UnixTransport(running.socket_path), method)
        cache = SystemCache(AdminClient(transport), bulk=bulk)
        recorder = Recorder()
        cache.add_listener(recorder)
        starting = asyncio.ensure_future(cache.start())
        await transport.answered.wait()  # the load has read vcpus=2 for work...
        await asyncio.to_thread(running.call, "admin.vm.property.Set", "work", "vcpus", b"5")
        transport.release.set()  # ...and only now gets that stale answer
        await starting
        await recorder.wait_for(lambda: cache.qubes["work"].prop("vcpus") == "5")
        await cache.close()

    run(main())


def test_start_fails_when_the_daemon_is_unreachable(tmp_path: Path) -> None:
    async def main() -> SystemCache:
        cache = SystemCache(AdminClient(UnixTransport(tmp_path / "nobody.sock")))
        with pytest.raises(QubesDaemonCommunicationError):
            await cache.start()
        await cache.close()
        return cache

    cache = run(main())
    assert not cache.is_loaded and cache.qubes == {}


def test_start_twice_is_refused(running: RunningDaemon) -> None:
    async def main() -> None:
        cache = SystemCache(AdminClient(UnixTransport(running.socket_path)))
        await cache.start()
        with pytest.raises(RuntimeError):
            await cache.start()
        await cache.close()

    run(main())
