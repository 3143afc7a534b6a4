"""Fixtures for the virt tests: a private, empty libvirt test-driver world per test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from backend.virt.states import LifecycleEvent, LifecycleKind

T = TypeVar("T")
TIMEOUT = 10.0  # seconds; only ever reached when something is broken


@pytest.fixture
def world_uri(tmp_path: Path) -> str:
    """``test:///<file>`` with an empty node: every open() parses it into a new world.

    ``test:///default`` would share its domains with every connection in the process.
    """
    node = tmp_path / "node.xml"
    node.write_text("<node/>\n")
    return f"test://{node}"


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), TIMEOUT)

    return asyncio.run(bounded())


async def next_events(queue: asyncio.Queue[LifecycleEvent], count: int) -> list[LifecycleEvent]:
    return [await asyncio.wait_for(queue.get(), TIMEOUT) for _ in range(count)]


async def expect(
    queue: asyncio.Queue[LifecycleEvent], *kinds: LifecycleKind
) -> list[LifecycleEvent]:
    events = await next_events(queue, len(kinds))
    assert [e.kind for e in events] == list(kinds)
    return events
