"""``StatsFeed``: CPU and memory of the running qubes, from ``admin.vm.Stats``, into the
table (the CPU and Memory cells of that qube's row only)."""

from __future__ import annotations

import logging

from PyQt6.QtCore import QObject, pyqtSignal

from backend.client import AdminClient, qube_stats
from widgets.qubetable import QubeTableModel

log = logging.getLogger("gui")


class StatsFeed(QObject):
    """Reads the stats stream while :meth:`run` runs (a task of the window).

    Signals:
        stats_received(QubeStats): a record arrived (for other views of the same
            stream, e.g. a history of CPU and memory use).
    """

    stats_received = pyqtSignal(object)

    def __init__(self, client: AdminClient, model: QubeTableModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._model = model
        self.records = 0

    async def run(self) -> None:
        """Follow the stream until cancelled (it reconnects by itself)."""
        async for stats in qube_stats(self._client):
            self.records += 1
            row = self._model.row_of(stats.name)
            # a record can still be on its way when the qube halts: only running rows
            if row is not None and row.qube.is_running:
                self._model.set_stats(stats.name, stats)
            self.stats_received.emit(stats)
