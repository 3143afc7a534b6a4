"""``DiskUsageLoader``: disk usage for the qubes on screen, read in the background.

Upstream reads every volume of every qube before showing the window (§2.12, most of
its ~11 calls per qube). Here the table appears first; then the volumes of the rows
on screen are read (``SystemCache.load_volumes``: one ``volume.List`` and one
``volume.Info`` per volume, cached until an event invalidates them), a few at a time.
Sorting by disk usage asks for all of them. Running qubes' usage changes as they
write, so the rows on screen are read again every minute while the window is active,
every five minutes otherwise (as upstream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from PyQt6.QtCore import QObject, QTimer

from backend.client import QubeClass, SystemCache
from qubes_manager.tasks import EXPECTED
from widgets.qubefilter import QubeFilterProxy

log = logging.getLogger("gui")

PARALLEL = 8
#: rows above and below the screen read ahead, so that a short scroll finds them ready
MARGIN_ROWS = 10
ACTIVE_REFRESH_MS = 60_000
IDLE_REFRESH_MS = 300_000

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class DiskUsageLoader(QObject):
    def __init__(self, cache: SystemCache, proxy: QubeFilterProxy, spawn: Spawn,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._proxy = proxy
        self._spawn = spawn
        self._slots = asyncio.Semaphore(PARALLEL)
        self._pending: set[str] = set()
        self._visible: tuple[int, int] = (-1, -1)
        self.enabled = True
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(IDLE_REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh_running)

    def set_active(self, active: bool) -> None:
        """The window was activated (refresh now and every minute) or deactivated."""
        self.refresh_timer.setInterval(ACTIVE_REFRESH_MS if active else IDLE_REFRESH_MS)
        if active:
            self.refresh_running()

    def on_visible_rows(self, first: int, last: int) -> asyncio.Task[Any] | None:
        """Read what the rows on screen (and a few around) lack; returns the reading
        task, if there is anything to read."""
        self._visible = (first, last)
        if first < 0:
            return None
        count = self._proxy.rowCount()
        rows = range(max(0, first - MARGIN_ROWS), min(count, last + MARGIN_ROWS + 1))
        return self.request(self._proxy.row_at(row).name for row in rows)

    def request_all(self) -> None:
        self.request(list(self._cache.qubes))

    def refresh_running(self) -> None:
        first, last = self._visible
        if first < 0:
            return
        names = [self._proxy.row_at(row).name for row in range(first, last + 1)
                 if row < self._proxy.rowCount()]
        running = [n for n in names if (q := self._cache.get(n)) is not None and q.is_running]
        self.request(running, refresh=True)

    def request(self, names: Iterable[str], *,
                refresh: bool = False) -> asyncio.Task[Any] | None:
        """Read the volumes of ``names`` that are not known (all: ``refresh``), a few at
        a time, as one task of the window; None when there is nothing to read."""
        if not self.enabled:
            return None
        wanted = []
        for name in names:
            qube = self._cache.get(name)
            if qube is None or qube.klass is QubeClass.ADMIN_VM or name in self._pending:
                continue
            if qube.volumes is None or refresh:
                wanted.append(name)
        if not wanted:
            return None
        self._pending.update(wanted)
        return self._spawn(self._load(wanted, refresh), "Reading disk usage")

    async def _load(self, names: list[str], refresh: bool) -> None:
        try:
            await asyncio.gather(*(self._load_one(name, refresh) for name in names))
        finally:
            self._pending.difference_update(names)

    async def _load_one(self, name: str, refresh: bool) -> None:
        async with self._slots:
            try:
                await self._cache.load_volumes(name, refresh=refresh)
            except EXPECTED as exc:  # removed meanwhile, or hidden by policy: no usage
                log.debug("no disk usage for %s: %s", name, exc)
