# SPDX-License-Identifier: GPL-2.0-or-later
"""``StatsHistory``: the last CPU and memory samples of every running qube.

It reads ``admin.vm.Stats`` (``backend.client.qube_stats``) in a task of its own,
keeps a bounded ring of samples per qube and forgets a qube when it halts or goes
away. ``HistoryPlot`` (``stats_plot``) and ``SparklineDelegate`` (``stats_sparkline``)
draw what it holds.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from PyQt6 import sip
from PyQt6.QtCore import QObject, pyqtSignal

from backend.client import AdminClient, CacheListener, QubeSnapshot, QubeStats, SystemCache
from backend.client.stats import qube_stats

log = logging.getLogger("gui")

#: samples kept per qube: with upstream's default ``stats_interval`` of 3 s, 3 minutes
DEFAULT_CAPACITY = 60

#: makes a fresh stream of stats records (the default reads ``admin.vm.Stats``)
StatsSource = Callable[[], AsyncIterator[QubeStats]]


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One reading of one qube."""

    #: CPU use in percent of the qube's vCPUs, 0–100
    cpu_percent: float
    memory_kib: int
    #: ``time.monotonic()`` when it arrived
    time: float


class _HaltListener(CacheListener):
    """Drops a qube's history when the cache sees it halt or go away."""

    def __init__(self, history: StatsHistory) -> None:
        self._history = weakref.ref(history)

    def _target(self) -> StatsHistory | None:
        history = self._history()
        return None if history is None or sip.isdeleted(history) else history

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        if not new.is_running and (history := self._target()):
            history.drop(new.name)

    def qube_removed(self, qube: QubeSnapshot) -> None:
        if history := self._target():
            history.drop(qube.name)


class StatsHistory(QObject):
    """A ring of the last ``capacity`` samples per running qube.

    ``source`` is the client whose ``admin.vm.Stats`` to read, or a function that
    makes a stream of :class:`QubeStats` (tests, other feeds). With a ``cache``, a
    qube's history is dropped when it halts or is removed, and samples of a qube the
    cache knows as halted are ignored (a record can still be on its way).

    Signals:
        updated(str): a sample of this qube arrived.
        dropped(str): the history of this qube was dropped.
        failed(str): reading stopped on an unexpected error (its message); the
            histories are kept, and ``start()`` tries again.
    """

    updated = pyqtSignal(str)
    dropped = pyqtSignal(str)
    failed = pyqtSignal(str)

    def __init__(self, source: AdminClient | StatsSource, cache: SystemCache | None = None,
                 *, capacity: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        if isinstance(source, AdminClient):
            client = source
            self._source: StatsSource = lambda: qube_stats(client)
        else:
            self._source = source
        self._cache = cache
        self._capacity = capacity
        self._rings: dict[str, collections.deque[StatsSample]] = {}
        self._task: asyncio.Task[None] | None = None
        self._remove_listener: Callable[[], None] | None = None

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<StatsHistory {state}, {len(self._rings)} qubes>"

    # --- running ---------------------------------------------------------------------
    def start(self) -> None:
        """Start reading statistics (on the current event loop); no-op if running."""
        if self.is_running:
            return
        self.follow()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called before the qasync loop runs
            loop = asyncio.get_event_loop()
        self._task = loop.create_task(self._read(), name="stats history")
        self._task.add_done_callback(self._task_done)

    def follow(self) -> None:
        """Follow the cache only (drop halted qubes), for samples fed with :meth:`add`
        from a stats stream someone else reads; no-op without a cache."""
        if self._cache is not None and self._remove_listener is None:
            self._remove_listener = self._cache.add_listener(_HaltListener(self))

    def stop(self) -> None:
        """Stop reading (the histories are kept) and stop following the cache."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    async def aclose(self) -> None:
        """Stop, and wait until the reading task has ended."""
        task = self._task
        self.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    @property
    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _read(self) -> None:
        stream = self._source()
        try:
            async for stats in stream:
                self.add(stats)
        finally:
            aclose: Any = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("reading the qubes' statistics failed", exc_info=exc)
            self.failed.emit(str(exc) or type(exc).__name__)

    # --- samples ---------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, stats: QubeStats) -> None:
        """Record one sample (what the reading task does for every record)."""
        if self._cache is not None:
            snapshot = self._cache.get(stats.name)
            if snapshot is not None and not snapshot.is_running:
                return
        ring = self._rings.get(stats.name)
        if ring is None:
            ring = self._rings[stats.name] = collections.deque(maxlen=self._capacity)
        cpu = float(min(max(stats.cpu_usage, 0), 100))
        ring.append(StatsSample(cpu, max(stats.memory_kb, 0), time.monotonic()))
        self.updated.emit(stats.name)

    def drop(self, name: str) -> None:
        """Forget the history of ``name`` (emits ``dropped`` if there was one)."""
        if self._rings.pop(name, None) is not None:
            log.debug("stats history of %s dropped", name)
            self.dropped.emit(name)

    def clear(self) -> None:
        for name in list(self._rings):
            self.drop(name)

    def names(self) -> set[str]:
        """The qubes with a history."""
        return set(self._rings)

    def latest(self, name: str) -> StatsSample | None:
        ring = self._rings.get(name)
        return ring[-1] if ring else None

    def history(self, name: str) -> tuple[StatsSample, ...]:
        """The samples of ``name``, oldest first (empty when it has none)."""
        return tuple(self._rings.get(name, ()))

    def cpu_series(self, name: str) -> list[float]:
        return [sample.cpu_percent for sample in self._rings.get(name, ())]
