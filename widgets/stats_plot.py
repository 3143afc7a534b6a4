# SPDX-License-Identifier: GPL-2.0-or-later
"""``HistoryPlot``: one qube's CPU and memory history, as two small stacked charts."""

from __future__ import annotations

from PyQt6.QtCore import QLineF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPalette, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from widgets.stats_paint import (
    Series,
    cpu_text,
    memory_scale,
    memory_text,
    series_color,
    series_path,
    with_alpha,
)
from widgets.statshistory import StatsHistory

_GRID_LINES = 4
_PAD = 10.0
_PANEL_GAP = 12.0


class HistoryPlot(QWidget):
    """CPU (0–100 %) above, memory below, newest sample at the right; repaints only
    when a sample of its own qube arrives."""

    def __init__(self, history: StatsHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history = history
        self._qube: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(self.tr("CPU and memory history"))
        self._connect_signals()

    def __repr__(self) -> str:
        return f"<HistoryPlot {self._qube}>"

    def _connect_signals(self) -> None:
        self._history.updated.connect(self.on_history_updated)
        self._history.dropped.connect(self.on_history_updated)

    def set_qube(self, name: str | None) -> None:
        """Show the history of ``name`` (None: nothing)."""
        if name != self._qube:
            self._qube = name
            self.update()

    def qube(self) -> str | None:
        return self._qube

    def on_history_updated(self, name: str) -> None:
        if name == self._qube:
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 190)

    def minimumSizeHint(self) -> QSize:
        return QSize(180, 110)

    # --- painting ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        area = QRectF(self.rect()).adjusted(_PAD, _PAD, -_PAD, -_PAD)
        samples = self._history.history(self._qube) if self._qube else ()
        if not samples:
            self._paint_empty(painter, area, palette)
            return
        half = (area.height() - _PANEL_GAP) / 2
        cpu_area = QRectF(area.left(), area.top(), area.width(), half)
        memory_area = QRectF(area.left(), area.top() + half + _PANEL_GAP, area.width(), half)
        cpu = [sample.cpu_percent for sample in samples]
        memory = [float(sample.memory_kib) for sample in samples]
        top = memory_scale(max(memory))
        self._paint_panel(painter, cpu_area, Series.CPU, self.tr("CPU"), cpu, 100.0,
                          cpu_text(cpu[-1]), cpu_text(100))
        self._paint_panel(painter, memory_area, Series.MEMORY, self.tr("Memory"), memory, top,
                          memory_text(memory[-1]), memory_text(top))

    def _paint_empty(self, painter: QPainter, area: QRectF, palette: QPalette) -> None:
        text = self.tr("No statistics: the qube is not running") if self._qube \
            else self.tr("No qube selected")
        painter.setPen(self._secondary(palette))
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _paint_panel(self, painter: QPainter, area: QRectF, series: Series, title: str,
                     values: list[float], top: float, current: str, top_text: str) -> None:
        palette = self.palette()
        color = series_color(series, palette)
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.5))
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        header_height = QFontMetricsF(bold).height()
        # header: the series' name on the left, its current value on the right
        header = QRectF(area.left(), area.top(), area.width(), header_height)
        painter.setFont(self.font())
        painter.setPen(self._secondary(palette))
        painter.drawText(header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         title)
        painter.setFont(bold)
        painter.setPen(color)
        painter.drawText(header, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         current)
        chart = QRectF(area.left(), header.bottom() + 4, area.width(),
                       area.height() - header_height - 4)
        if chart.height() < 8:
            return
        self._paint_grid(painter, chart, palette, small, top_text)
        slots = self._history.capacity
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(with_alpha(color, 0.16))
        painter.drawPath(series_path(values, top, chart, slots, closed=True))
        pen = QPen(color, 1.8)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(series_path(values, top, chart, slots))

    def _paint_grid(self, painter: QPainter, chart: QRectF, palette: QPalette, small: QFont,
                    top_text: str) -> None:
        text = palette.color(QPalette.ColorRole.Text)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(chart, 3, 3)
        painter.setPen(QPen(with_alpha(text, 0.09), 1.0))
        for index in range(1, _GRID_LINES):
            y = round(chart.top() + chart.height() * index / _GRID_LINES) + 0.5
            painter.drawLine(QLineF(chart.left(), y, chart.right(), y))
        painter.setPen(QPen(with_alpha(text, 0.22), 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(chart.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        painter.setFont(small)
        painter.setPen(self._secondary(palette))
        painter.drawText(chart.adjusted(4, 2, -4, -2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, top_text)

    @staticmethod
    def _secondary(palette: QPalette) -> QColor:
        return with_alpha(palette.color(QPalette.ColorRole.Text), 0.62)
