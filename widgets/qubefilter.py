"""``QubeFilterProxy``: the search box, the Show checkboxes and upstream's sort rules.

Filtering follows upstream (``qubes-manager.md`` §2.6): internal qubes are hidden
unless asked for, whatever else is ticked; otherwise a qube is shown when it falls in
any ticked category. Sorting uses the column's sort key; dom0 comes first in
ascending order, and ties are broken by the lower-cased name.

The proxy is dynamic: when the source changes one row (``dataChanged``), Qt
re-filters and re-sorts that row alone. Changing the criteria re-filters the rows
(``beginFilterChange``/``endFilterChange``), never by invalidating the proxy.
"""

from __future__ import annotations

import enum
from typing import Any

from PyQt6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
)

from backend.client import QubeClass
from widgets.columns import COLUMNS, is_dom0_first
from widgets.quberow import Power, QubeRow, is_internal, is_user_qube, power
from widgets.qubetable import QubeTableModel

ModelIndex = QModelIndex | QPersistentModelIndex


class Show(enum.Flag):
    """The Show checkboxes; the values' names are the settings keys (``show/<name>``)."""

    NONE = 0
    RUNNING = enum.auto()
    HALTED = enum.auto()
    NETWORK = enum.auto()
    TEMPLATES = enum.auto()
    STANDALONE = enum.auto()
    USER = enum.auto()
    ALL = enum.auto()

    @classmethod
    def everything(cls) -> Show:
        return (cls.RUNNING | cls.HALTED | cls.NETWORK | cls.TEMPLATES | cls.STANDALONE
                | cls.USER | cls.ALL)

    @property
    def key(self) -> str:
        """The settings key of a single flag."""
        assert self.name is not None
        return self.name.lower()


def shown(row: QubeRow, show: Show, show_internal: bool) -> bool:
    """Whether the Show settings let ``row`` through (upstream's rule, in its order)."""
    if not show_internal and is_internal(row):
        return False
    qube = row.qube
    state = power(row)
    return bool(
        (Show.USER in show and is_user_qube(row))
        or Show.ALL in show
        or (Show.RUNNING in show and state not in (Power.HALTED, Power.BLOCKED))
        or (Show.HALTED in show and state is Power.HALTED)
        or (Show.NETWORK in show and qube.bool_prop("provides_network"))
        or (Show.TEMPLATES in show and qube.klass is QubeClass.TEMPLATE_VM)
        or (Show.STANDALONE in show and qube.klass is QubeClass.STANDALONE_VM)
    )


class QubeFilterProxy(QSortFilterProxyModel):
    """Filters and sorts a :class:`QubeTableModel` (set with :meth:`setSourceModel`)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._search = ""
        self._show = Show.everything()
        self._show_internal = False
        #: column → id(row) → (row, key); the row is kept so that its id stays its own
        self._keys: dict[int, dict[int, tuple[QubeRow, tuple[Any, ...]]]] = {}
        self._source: QubeTableModel | None = None
        self.setDynamicSortFilter(True)

    # --- criteria ----------------------------------------------------------------------
    @property
    def search(self) -> str:
        return self._search

    @property
    def show(self) -> Show:
        return self._show

    @property
    def show_internal(self) -> bool:
        return self._show_internal

    def set_search(self, text: str) -> None:
        """Show only qubes whose name contains ``text`` (case-insensitive)."""
        text = text.strip().lower()
        if text != self._search:
            self.beginFilterChange()
            self._search = text
            self._end_filter_change()

    def set_show(self, show: Show) -> None:
        if show != self._show:
            self.beginFilterChange()
            self._show = show
            self._end_filter_change()

    def set_show_internal(self, show_internal: bool) -> None:
        if show_internal != self._show_internal:
            self.beginFilterChange()
            self._show_internal = show_internal
            self._end_filter_change()

    def _end_filter_change(self) -> None:
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    # --- reading -------------------------------------------------------------------------
    def row_at(self, proxy_row: int) -> QubeRow:
        source = self.mapToSource(self.index(proxy_row, 0))
        return self._model().row_at(source.row())

    def proxy_row_of(self, name: str) -> int | None:
        position = self._model().position_of(name)
        if position is None:
            return None
        index = self.mapFromSource(self._model().index(position, 0))
        return index.row() if index.isValid() else None

    def setSourceModel(self, model: QAbstractItemModel | None) -> None:  # noqa: N802
        if model is not None and not isinstance(model, QubeTableModel):
            raise TypeError("QubeFilterProxy filters a QubeTableModel")
        self._source = model
        super().setSourceModel(model)

    def _model(self) -> QubeTableModel:
        assert self._source is not None
        return self._source

    # --- Qt ------------------------------------------------------------------------------
    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:  # noqa: N802
        assert self._source is not None
        row = self._source.row_at(source_row)
        if self._search and self._search not in row.name.lower():
            return False
        return shown(row, self._show, self._show_internal)

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:  # noqa: N802
        model = self._source
        assert model is not None
        column = left.column()
        return self._key(model.row_at(left.row()), column) \
            < self._key(model.row_at(right.row()), column)

    def _key(self, row: QubeRow, column: int) -> tuple[Any, ...]:
        """The full sort key of a row: dom0 first, the column's key, then the name.

        Sorting 1,000 rows compares about 10,000 pairs; each key is computed once per
        row object (rows are immutable: a changed qube is a new row, hence a new key).
        """
        cache = self._keys.setdefault(column, {})
        entry = cache.get(id(row))
        if entry is not None and entry[0] is row:
            return entry[1]
        if len(cache) > 2048 and len(cache) > 2 * self._model().rowCount():
            cache.clear()  # forget the keys of rows that were replaced
        key: tuple[Any, ...] = (0,) if is_dom0_first(row) else \
            (1, COLUMNS[column].sort(row), row.name.lower())
        cache[id(row)] = (row, key)
        return key
