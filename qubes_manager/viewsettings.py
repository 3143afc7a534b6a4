"""What the window remembers between runs (QSettings, upstream's keys, §2.11).

``columns/<column>``, ``view/sort_column`` (a column name; the old numeric form is
converted as upstream does), ``view/sort_order``, ``view/menubar_visible``,
``view/toolbar_visible``, ``view/compactview``, ``show/<category>``,
``show/internal``, ``window_size``; and ours: ``view/column_order`` (column names
from left to right) and ``window_geometry`` (position and size, as Qt saves them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PyQt6.QtCore import QByteArray, QSettings, QSize, Qt

from widgets.columns import COLUMNS, Column, by_key
from widgets.qubefilter import Show

DEFAULT_SIZE = QSize(1100, 600)
#: upstream's 13 columns in its order, with CPU and memory beside the state
DEFAULT_ORDER = (Column.LABEL, Column.NAME, Column.STATE, Column.CPU, Column.MEMORY,
                 Column.TEMPLATE, Column.NETVM, Column.DISK, Column.INTERNAL, Column.IP,
                 Column.BACKUP, Column.LAST_BACKUP, Column.DEFAULT_DISPVM,
                 Column.DVM_TEMPLATE, Column.VIRT_MODE)
_SHOW_FLAGS = (Show.RUNNING, Show.HALTED, Show.NETWORK, Show.TEMPLATES, Show.STANDALONE,
               Show.USER, Show.ALL)


class SettingsError(ValueError):
    """A stored value could not be read; the message names it."""


@dataclass
class ViewSettings:
    hidden: set[Column] = field(default_factory=set)
    sort_column: Column = Column.NAME
    sort_order: Qt.SortOrder = Qt.SortOrder.AscendingOrder
    show: Show = field(default_factory=Show.everything)
    show_internal: bool = False
    menubar_visible: bool = True
    toolbar_visible: bool = True
    compact: bool = False
    #: the columns from left to right (the user may drag them)
    order: list[Column] = field(default_factory=lambda: list(DEFAULT_ORDER))
    size: QSize = field(default_factory=lambda: QSize(DEFAULT_SIZE))
    geometry: QByteArray | None = None


def _bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, None)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise SettingsError(f"{key}: {value!r} is not true or false")


def load(settings: QSettings) -> tuple[ViewSettings, list[str]]:
    """The stored settings, and a problem per value that could not be read (that
    value then keeps its default)."""
    view = ViewSettings()
    problems: list[str] = []

    def flag(key: str, default: bool) -> bool:
        try:
            return _bool(settings, key, default)
        except SettingsError as exc:
            problems.append(str(exc))
            return default

    view.hidden = {spec.column for spec in COLUMNS
                   if spec.hideable and not flag(f"columns/{spec.key}", True)}
    view.show = Show.NONE
    for category in _SHOW_FLAGS:
        if flag(f"show/{category.key}", True):
            view.show |= category
    view.show_internal = flag("show/internal", False)
    view.menubar_visible = flag("view/menubar_visible", True)
    view.toolbar_visible = flag("view/toolbar_visible", True)
    view.compact = flag("view/compactview", False)
    for read in (_read_sort, _read_size, _read_order):
        try:
            read(settings, view)
        except (SettingsError, ValueError, TypeError) as exc:
            problems.append(str(exc))
    geometry = settings.value("window_geometry", None)
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        view.geometry = geometry
    return view, problems


def _read_sort(settings: QSettings, view: ViewSettings) -> None:
    name = settings.value("view/sort_column", "Name")
    text = str(name or "Name")
    if text.isnumeric():  # before 4.3 the column was stored by number, with a Type column
        column: Column | None = Column(max(0, int(text) - 1)) \
            if int(text) - 1 < len(COLUMNS) else None
    else:
        column = by_key(text)
    if column is None:
        raise SettingsError(f"view/sort_column: no column {text!r}")
    view.sort_column = column
    order = settings.value("view/sort_order", 0)
    value = order.value if isinstance(order, Qt.SortOrder) else int(str(order))
    view.sort_order = Qt.SortOrder(value)


def _read_order(settings: QSettings, view: ViewSettings) -> None:
    value = settings.value("view/column_order", None)
    if value is None:
        return
    keys = [value] if isinstance(value, str) else list(value)
    columns = [by_key(str(key)) for key in keys]
    if None in columns or sorted(c for c in columns if c is not None) != list(Column):
        raise SettingsError(f"view/column_order: {keys!r} is not an order of the columns")
    view.order = [c for c in columns if c is not None]


def _read_size(settings: QSettings, view: ViewSettings) -> None:
    size = settings.value("window_size", None)
    if size is None:
        return
    if not isinstance(size, QSize) or not size.isValid():
        raise SettingsError(f"window_size: {size!r} is not a size")
    view.size = size


def save(settings: QSettings, view: ViewSettings) -> None:
    for spec in COLUMNS:
        if spec.hideable:
            settings.setValue(f"columns/{spec.key}", spec.column not in view.hidden)
    settings.setValue("view/sort_column", COLUMNS[view.sort_column].key)
    settings.setValue("view/sort_order", view.sort_order.value)
    for flag in _SHOW_FLAGS:
        settings.setValue(f"show/{flag.key}", flag in view.show)
    settings.setValue("show/internal", view.show_internal)
    settings.setValue("view/menubar_visible", view.menubar_visible)
    settings.setValue("view/toolbar_visible", view.toolbar_visible)
    settings.setValue("view/compactview", view.compact)
    settings.setValue("view/column_order", [COLUMNS[c].key for c in view.order])
    settings.setValue("window_size", view.size)
    if view.geometry is not None:
        settings.setValue("window_geometry", view.geometry)
    settings.sync()
