"""``QubeTableModel``: one row per qube, columns from ``widgets.columns``.

Rows are immutable :class:`~widgets.quberow.QubeRow` snapshots. A change swaps one
row and emits ``dataChanged`` for that row only, over the columns whose cells
changed; qubes come and go with ``beginInsertRows``/``beginRemoveRows``. ``data()``
reads the row and nothing else. The Backup checkbox is the only editable cell: the
model does not write it, it emits ``backup_toggled`` for the window to do so.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from PyQt6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    pyqtSignal,
)
from PyQt6.QtGui import QColor, QFont, QIcon

from backend.client import QubeStats
from widgets.columns import COLUMNS, Column, ColumnSpec, cpu_percent, has_template, tr
from widgets.labelicons import label_icon
from widgets.quberow import QubeRow

ModelIndex = QModelIndex | QPersistentModelIndex
_ROLE_BASE = Qt.ItemDataRole.UserRole.value


class Role(enum.IntEnum):
    """Our data roles."""

    #: the QubeRow of the index's row
    ROW = _ROLE_BASE
    #: the column's sort key (without the dom0-first rule and the name tie-breaker)
    SORT = _ROLE_BASE + 1
    #: a fraction 0…1 for bar delegates (CPU), None when there is nothing to show
    USAGE = _ROLE_BASE + 2


_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_CHECK = Qt.ItemDataRole.CheckStateRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_FONT = Qt.ItemDataRole.FontRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole


class QubeTableModel(QAbstractTableModel):
    """The qubes, one row each, in the order they were added.

    Signals:
        backup_toggled(str, bool): the user ticked or cleared the Backup box of a qube.
    """

    backup_toggled = pyqtSignal(str, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[QubeRow] = []
        self._index: dict[str, int] = {}
        self._italic = QFont()
        self._italic.setItalic(True)
        self._grey = QColor("gray")

    # --- reading ---------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def row_at(self, row: int) -> QubeRow:
        return self._rows[row]

    def row_of(self, name: str) -> QubeRow | None:
        position = self._index.get(name)
        return None if position is None else self._rows[position]

    def position_of(self, name: str) -> int | None:
        return self._index.get(name)

    @property
    def rows(self) -> Sequence[QubeRow]:
        return tuple(self._rows)

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        spec = COLUMNS[index.column()]
        if role == _DISPLAY:
            return spec.display(row)
        if role == Role.ROW:
            return row
        if role == Role.SORT:
            return spec.sort(row)
        return self._decoration(row, spec, role)

    def _decoration(self, row: QubeRow, spec: ColumnSpec, role: int) -> Any:
        column = spec.column
        if role == _ALIGN:
            return spec.align.value
        if role == _TOOLTIP:
            return spec.tooltip(row) or None if spec.tooltip is not None else None
        if role == _DECORATION and column is Column.LABEL:
            return self._label_icon(row)
        if role == _CHECK and column is Column.BACKUP:
            checked = row.qube.bool_prop("include_in_backups")
            return (Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked).value
        if column is Column.TEMPLATE and not has_template(row):
            if role == _FONT:
                return self._italic
            if role == _FOREGROUND:
                return self._grey
        if role == Role.USAGE and column is Column.CPU:
            percent = cpu_percent(row)
            return None if percent is None else min(max(percent, 0), 100) / 100.0
        return None

    @staticmethod
    def _label_icon(row: QubeRow) -> QIcon | None:
        if row.label is None:
            return None
        return label_icon(row.qube.prop_or("icon", "appvm-" + row.label.name), row.label.rgb)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = _DISPLAY) -> Any:
        if orientation is not Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        spec = COLUMNS[section]
        if role == _DISPLAY:
            return tr(spec.header if spec.header is not None else spec.title)
        if role == _TOOLTIP:
            return tr(spec.title)
        if role == _ALIGN and spec.align & Qt.AlignmentFlag.AlignRight:
            return spec.align.value
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == Column.BACKUP:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: ModelIndex, value: Any,  # noqa: N802
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Only the Backup box: reported, not stored (the change comes back as an event)."""
        if not index.isValid() or index.column() != Column.BACKUP or role != _CHECK:
            return False
        checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value)
        self.backup_toggled.emit(self._rows[index.row()].name, checked)
        return True

    # --- changing ----------------------------------------------------------------------
    def reset_rows(self, rows: Iterable[QubeRow]) -> None:
        """Replace everything (the first load)."""
        self.beginResetModel()
        self._rows = list(rows)
        self._reindex()
        self.endResetModel()

    def add_row(self, row: QubeRow) -> None:
        if row.name in self._index:
            self.update_row(row)
            return
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(row)
        self._index[row.name] = position
        self.endInsertRows()

    def remove_row(self, name: str) -> None:
        position = self._index.get(name)
        if position is None:
            return
        self.beginRemoveRows(QModelIndex(), position, position)
        del self._rows[position]
        self._reindex()
        self.endRemoveRows()

    def update_row(self, row: QubeRow) -> bool:
        """Swap in a new row; emits dataChanged over the changed columns of that row.

        Returns whether anything visible changed.
        """
        position = self._index.get(row.name)
        if position is None:
            self.add_row(row)
            return True
        old = self._rows[position]
        if old == row:
            return False
        self._rows[position] = row
        changed = changed_columns(old, row)
        if not changed:
            return False
        self.dataChanged.emit(self.index(position, changed[0]),
                              self.index(position, changed[-1]))
        return True

    def set_stats(self, name: str, stats: QubeStats | None) -> None:
        row = self.row_of(name)
        if row is not None and row.stats != stats:
            self.update_row(replace(row, stats=stats))

    def _reindex(self) -> None:
        self._index = {row.name: position for position, row in enumerate(self._rows)}


def changed_columns(old: QubeRow, new: QubeRow) -> list[Column]:
    """The columns whose text, sort key or decoration differ between two rows."""
    if old.qube == new.qube and old.label == new.label \
            and old.template_running == new.template_running:
        return [c for c in (Column.CPU, Column.MEMORY)
                if COLUMNS[c].display(old) != COLUMNS[c].display(new)
                or COLUMNS[c].sort(old) != COLUMNS[c].sort(new)]
    changed = [spec.column for spec in COLUMNS
               if spec.display(old) != spec.display(new) or spec.sort(old) != spec.sort(new)
               or _tooltip(spec, old) != _tooltip(spec, new)]
    if old.label != new.label or old.qube.prop("icon") != new.qube.prop("icon"):
        changed.append(Column.LABEL)
    return sorted(set(changed))


def _tooltip(spec: ColumnSpec, row: QubeRow) -> str:
    return spec.tooltip(row) if spec.tooltip is not None else ""
