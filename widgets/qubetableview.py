"""``QubeTableView``: the table of qubes, set up as upstream's (whole rows, several at
once, alternating colours, no grid), with Home/End, and signals about what it shows."""

from __future__ import annotations

from PyQt6.QtCore import QAbstractItemModel, QModelIndex, QRect, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QIcon, QKeyEvent, QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from widgets.columns import COLUMNS, Column
from widgets.qubefilter import QubeFilterProxy

#: how long the view waits after a scroll or a change before telling what it shows
VISIBLE_ROWS_DELAY_MS = 120
#: rows measured when sizing columns to their contents (all rows: slow with 1,000)
RESIZE_PRECISION = 200
#: narrowest widths, so that cells filled later (stats, disk usage) are not clipped
MIN_WIDTHS = {Column.LABEL: 34, Column.STATE: 76, Column.DISK: 96, Column.CPU: 90,
              Column.MEMORY: 84, Column.NAME: 140}
#: columns as wide as their minimum: icons only
FIXED_COLUMNS = (Column.LABEL, Column.STATE)
#: room for things beside the text: check box, the usage bar
EXTRA_WIDTHS = {Column.BACKUP: 28, Column.CPU: 46}
PADDING = 18
SORT_INDICATOR = 22


class CenteredIconDelegate(QStyledItemDelegate):
    """An icon alone in its cell, in the middle (the Label column)."""

    ICON_SIZE = 16

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        if painter is None:
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        icon = QIcon(opt.icon)  # a copy: the option's own is cleared below
        opt.icon = QIcon()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        size = self.ICON_SIZE
        rect = QRect(opt.rect.center().x() - size // 2 + 1, opt.rect.center().y() - size // 2 + 1,
                     size, size)
        icon.paint(painter, rect, Qt.AlignmentFlag.AlignCenter)


class QubeTableView(QTableView):
    """Signals:
        painted(QRect): the viewport painted this rectangle (benchmarks watch it).
        visible_rows_changed(int, int): after a scroll, a resize or a model change, the
            first and last proxy rows on screen (-1, -1 when empty); sent once things
            have settled, not on every scrolled pixel.
    """

    painted = pyqtSignal(QRect)
    visible_rows_changed = pyqtSignal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSortingEnabled(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.verticalHeader()
        assert vertical is not None
        vertical.hide()
        # every row equally tall: Qt then never measures rows one by one
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(max(26, self.fontMetrics().height() + 10))
        header = self.horizontalHeader()
        assert header is not None
        header.setHighlightSections(False)
        header.setSectionsMovable(True)  # users asked for it (qubes-issues#8873)
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(VISIBLE_ROWS_DELAY_MS)
        self._visible_timer.timeout.connect(self._emit_visible_rows)
        self.setItemDelegateForColumn(Column.LABEL, CenteredIconDelegate(self))
        scroll = self.verticalScrollBar()
        assert scroll is not None
        scroll.valueChanged.connect(self._visible_timer.start)

    def setModel(self, model: QAbstractItemModel | None) -> None:  # noqa: N802
        super().setModel(model)
        if model is not None:
            for signal in (model.layoutChanged, model.modelReset, model.rowsInserted,
                           model.rowsRemoved):
                signal.connect(self._visible_timer.start)

    def fit_columns(self, sample: int = RESIZE_PRECISION) -> None:
        """Size the columns to their texts (the rows on screen and the first ``sample``
        rows), never below their minimum; measured with the font, without asking the
        model for every role of every cell as ``resizeColumnsToContents`` does."""
        model = self.model()
        header = self.horizontalHeader()
        if not isinstance(model, QubeFilterProxy) or header is None:
            return
        first, last = self.visible_rows()
        indexes = set(range(min(sample, model.rowCount())))
        if first >= 0:
            indexes.update(range(first, last + 1))
        rows = [model.row_at(i) for i in sorted(indexes)]
        metrics = self.fontMetrics()
        header_metrics = header.fontMetrics()
        for spec in COLUMNS:
            if self.isColumnHidden(spec.column) or spec.column in FIXED_COLUMNS:
                width = MIN_WIDTHS.get(spec.column, 0)
            else:
                title = model.headerData(spec.column, Qt.Orientation.Horizontal) or ""
                texts = {spec.display(row) for row in rows}
                width = max([header_metrics.horizontalAdvance(str(title)) + SORT_INDICATOR,
                             *(metrics.horizontalAdvance(text) for text in texts)])
                width += PADDING + EXTRA_WIDTHS.get(spec.column, 0)
            if not self.isColumnHidden(spec.column):
                header.resizeSection(spec.column, max(width, MIN_WIDTHS.get(spec.column, 0)))

    def visible_rows(self) -> tuple[int, int]:
        """The first and last proxy rows on screen; (-1, -1) when there are none."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return (-1, -1)
        viewport = self.viewport()
        assert viewport is not None
        first = self.rowAt(0)
        last = self.rowAt(viewport.height() - 1)
        if first < 0:
            return (-1, -1)
        return (first, model.rowCount() - 1 if last < 0 else last)

    def _emit_visible_rows(self) -> None:
        self.visible_rows_changed.emit(*self.visible_rows())

    # --- Qt --------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        super().paintEvent(event)
        if event is not None:
            self.painted.emit(event.rect())

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._visible_timer.start()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802
        model = self.model()
        if event is not None and model is not None and model.rowCount() > 0 \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier \
                and event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End):
            row = 0 if event.key() == Qt.Key.Key_Home else model.rowCount() - 1
            self.selectRow(row)
            self.scrollTo(model.index(row, 0))
            return
        super().keyPressEvent(event)
