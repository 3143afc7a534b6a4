# SPDX-License-Identifier: GPL-2.0-or-later
"""``SparklineDelegate``: a qube's recent CPU use as a sparkline in a table cell."""

from __future__ import annotations

from PyQt6 import sip
from PyQt6.QtCore import QModelIndex, QObject, QRectF, QSize, Qt, QTimer
from PyQt6.QtGui import QPainter, QPalette, QPen
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from widgets.stats_paint import Series, cpu_text, series_color, series_path, with_alpha
from widgets.statshistory import StatsHistory

_TEXT_GAP = 6.0


class SparklineDelegate(QStyledItemDelegate):
    """Draws the CPU history of the qube named by the index's ``UserRole`` data, with
    the latest value as text; cells of qubes without a history paint as usual.

    The delegate never asks the backend anything: it reads the ``StatsHistory``. Call
    :meth:`watch` with the view to repaint it when samples arrive (or let the model
    emit ``dataChanged`` for the column).
    """

    def __init__(self, history: StatsHistory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._history = history
        self._views: list[QAbstractItemView] = []
        # one repaint per batch of samples (admin.Stats sends all qubes at once)
        self._repaint_timer = QTimer(self)
        self._repaint_timer.setSingleShot(True)
        self._repaint_timer.setInterval(0)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._repaint_timer.timeout.connect(self._repaint_views)

    def watch(self, view: QAbstractItemView) -> None:
        """Repaint ``view`` (its visible cells only) after each batch of samples."""
        if not self._views:
            self._history.updated.connect(self.on_history_updated)
            self._history.dropped.connect(self.on_history_updated)
        self._views.append(view)
        view.destroyed.connect(self._forget_views)

    def on_history_updated(self, _name: str) -> None:
        self._repaint_timer.start()

    def _forget_views(self) -> None:
        self._views = [view for view in self._views if not sip.isdeleted(view)]

    def _repaint_views(self) -> None:
        for view in self._views:
            viewport = view.viewport()
            if viewport is not None:
                viewport.update()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 96), hint.height())

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        if painter is None:
            return
        name = index.data(Qt.ItemDataRole.UserRole)
        values = self._history.cpu_series(name) if isinstance(name, str) else []
        if not values:
            super().paint(painter, option, index)
            return
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        widget = item.widget
        style = widget.style() if widget is not None else QApplication.style()
        if style is not None:  # background and selection, as for any other cell
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        self._paint_sparkline(painter, item, values)

    def _paint_sparkline(self, painter: QPainter, item: QStyleOptionViewItem,
                         values: list[float]) -> None:
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        palette = item.palette
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = palette.color(role)
        line_color = text_color if selected else series_color(Series.CPU, palette)
        cell = QRectF(item.rect).adjusted(4, 3, -4, -3)
        text = cpu_text(values[-1])
        metrics = item.fontMetrics
        text_width = metrics.horizontalAdvance(cpu_text(100))
        spark = QRectF(cell.left(), cell.top() + 1, cell.width() - text_width - _TEXT_GAP,
                       cell.height() - 2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if spark.width() >= 12:
            slots = self._history.capacity
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(with_alpha(line_color, 0.18))
            painter.drawPath(series_path(values, 100.0, spark, slots, closed=True))
            pen = QPen(line_color, 1.3)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(series_path(values, 100.0, spark, slots))
        painter.setPen(text_color)
        painter.setFont(item.font)
        painter.drawText(cell, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         text)
        painter.restore()
