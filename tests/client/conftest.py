"""A real daemon (demo system, libvirt test driver) for the client, and asyncio helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backend.client import AdminClient, CacheListener, QubeSnapshot, UnixTransport
from backend.client.model import PropertyValue
from tests.backend.daemon.conftest import RunningDaemon

T = TypeVar("T")

#: how long any single wait in these tests may take before it counts as a failure
TIMEOUT = 30.0


def run(coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run a test coroutine on a fresh event loop, failing it after ``timeout``."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


def make_client(daemon: RunningDaemon, **kwargs: Any) -> AdminClient:
    return AdminClient(UnixTransport(daemon.socket_path), **kwargs)


class Recorder(CacheListener):
    """Records every callback; tests wait for a condition on what was recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        self._changed.set()

    def loaded(self) -> None:
        self._record("loaded")

    def details_loaded(self) -> None:
        self._record("details_loaded")

    def qube_added(self, qube: QubeSnapshot) -> None:
        self._record("qube_added", qube)

    def qube_removed(self, qube: QubeSnapshot) -> None:
        self._record("qube_removed", qube)

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        self._record("qube_changed", old, new)

    def global_property_changed(self, name: str, old: PropertyValue | None,
                                new: PropertyValue | None) -> None:
        self._record("global_property_changed", name, old, new)

    def labels_changed(self) -> None:
        self._record("labels_changed")

    def connection_changed(self, connected: bool) -> None:
        self._record("connection_changed", connected)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for call, args in self.calls if call == name]

    def changed_qubes(self) -> list[str]:
        return [args[1].name for args in self.named("qube_changed")]

    def clear(self) -> None:
        self.calls.clear()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wait until ``condition()`` holds, re-checking after each callback."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
