"""``UsageBarDelegate``: a cell's text with a small bar of its usage (``Role.USAGE``)."""

from __future__ import annotations

from PyQt6.QtCore import QModelIndex, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from widgets.qubetable import Role

BAR_WIDTH = 36
BAR_HEIGHT = 6
MARGIN = 5


class UsageBarDelegate(QStyledItemDelegate):
    """Text as usual (right-aligned by the model) and, on its left, a bar 0…100 %."""

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        if painter is None:
            return
        super().paint(painter, option, index)
        usage = index.data(Role.USAGE)
        if not isinstance(usage, float):
            return
        rect = option.rect
        track = QRectF(rect.left() + MARGIN, rect.center().y() - BAR_HEIGHT / 2 + 0.5,
                       BAR_WIDTH, BAR_HEIGHT)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text = palette.highlightedText() if selected else palette.text()
        track_color = QColor(text.color())
        track_color.setAlphaF(0.15)
        fill = QColor("#2f9e44") if usage < 0.5 else QColor("#f08c00") if usage < 0.85 \
            else QColor("#c92a2a")
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track_color)
        painter.drawRoundedRect(track, 2, 2)
        if usage > 0:
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(track.left(), track.top(),
                                           max(2.0, track.width() * usage), track.height()),
                                    2, 2)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + BAR_WIDTH + 2 * MARGIN, hint.height())
