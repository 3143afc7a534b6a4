"""``TableFeed``: keeps the table model in step with the cache, one row per change.

The cache tells what changed (a qube added, removed, or its new snapshot); the feed
builds that qube's new row and hands it to the model, which emits ``dataChanged``
for that row only. A template's power change also touches the running qubes based on
it (their "to be outdated" icon); a new label colour, the rows with that label.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from backend.client import CacheListener, QubeSnapshot, SystemCache
from widgets.quberow import QubeRow
from widgets.qubetable import QubeTableModel

log = logging.getLogger("gui")


class TableFeed(CacheListener):
    """Rows from snapshots. ``on_loaded`` runs after the first load has filled the model."""

    def __init__(self, cache: SystemCache, model: QubeTableModel) -> None:
        self._cache = cache
        self._model = model
        self.remove = cache.add_listener(self)

    def make_row(self, qube: QubeSnapshot) -> QubeRow:
        template = self._cache.get(qube.prop("template") or "")
        stats = None
        if qube.is_running:
            old = self._model.row_of(qube.name)
            stats = old.stats if old is not None else None
        return QubeRow(qube, self._cache.label_of(qube),
                       template_running=template is not None and template.is_running,
                       stats=stats)

    def fill(self) -> None:
        """Every qube, at once (the first load)."""
        rows = [self.make_row(qube) for qube in self._cache.qubes.values()]
        self._model.reset_rows(rows)
        log.debug("table filled with %d qubes", len(rows))

    # --- CacheListener ----------------------------------------------------------------
    def loaded(self) -> None:
        if self._model.rowCount() == 0:
            self.fill()

    def qube_added(self, qube: QubeSnapshot) -> None:
        self._model.add_row(self.make_row(qube))

    def qube_removed(self, qube: QubeSnapshot) -> None:
        self._model.remove_row(qube.name)

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        self._model.update_row(self.make_row(new))
        if old.is_running != new.is_running:
            for row in self._model.rows:
                if row.qube.prop("template") == new.name:
                    self._model.update_row(replace(row, template_running=new.is_running))

    def labels_changed(self) -> None:
        for row in self._model.rows:
            label = self._cache.label_of(row.qube)
            if label != row.label:
                self._model.update_row(replace(row, label=label))
