"""Label icons drawn from the label's colour, shaped by the qube's kind.

A qube's ``icon`` property names its icon the upstream way, ``<kind>-<label>``
(``appvm-red``, ``templatevm-black``, ``dispvm-blue``…). The desktop theme's icon of
that name is used when the theme has one (a Qubes dom0 ships them); otherwise we
draw one: the kind gives the shape, the label's colour fills it.
"""

from __future__ import annotations

import enum
import functools

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SIZES = (16, 22, 24, 32, 48)


class QubeKind(enum.StrEnum):
    """The first part of an ``icon`` property."""

    APP = "appvm"
    TEMPLATE = "templatevm"
    DISPOSABLE = "dispvm"
    STANDALONE = "standalonevm"
    SERVICE = "servicevm"
    ADMIN = "adminvm"

    @classmethod
    def of_icon(cls, icon_name: str) -> QubeKind:
        kind, _, _ = icon_name.partition("-")
        try:
            return cls(kind)
        except ValueError:
            return cls.APP


def label_icon(icon_name: str, rgb: int) -> QIcon:
    """The icon for a qube's ``icon`` property and its label's colour (cached)."""
    return _label_icon(icon_name, rgb)


@functools.cache
def _label_icon(icon_name: str, rgb: int) -> QIcon:
    if icon_name and QIcon.hasThemeIcon(icon_name):
        return QIcon.fromTheme(icon_name)
    kind = QubeKind.of_icon(icon_name)
    result = QIcon()
    for size in SIZES:
        result.addPixmap(_draw(kind, QColor(rgb), size))
    return result


def _draw(kind: QubeKind, color: QColor, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16.0
    box = QRectF(1.5 * unit, 1.5 * unit, 13 * unit, 13 * unit)
    edge = QPen(color.darker(140) if color.lightness() > 40 else QColor(110, 110, 110),
                max(1.0, unit))
    painter.setPen(edge)
    painter.setBrush(color)
    mark = QColor(255, 255, 255, 235)
    if kind is QubeKind.STANDALONE:
        painter.drawEllipse(box)
    elif kind is QubeKind.ADMIN:
        painter.drawPolygon(_hexagon(box))
    elif kind is QubeKind.DISPOSABLE:
        dashed = QPen(edge)
        dashed.setColor(color if color.lightness() > 40 else edge.color())
        dashed.setWidthF(1.6 * unit)
        dashed.setDashPattern([2.0, 1.4])
        painter.setPen(dashed)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(box.adjusted(unit / 2, unit / 2, -unit / 2, -unit / 2),
                                3 * unit, 3 * unit)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(box.center(), 3.4 * unit, 3.4 * unit)
    else:
        painter.drawRoundedRect(box, 3 * unit, 3 * unit)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(mark)
    if kind is QubeKind.TEMPLATE:  # a "T": templates are what other qubes are made from
        painter.drawRect(QRectF(4.5 * unit, 4.5 * unit, 7 * unit, 2 * unit))
        painter.drawRect(QRectF(7 * unit, 4.5 * unit, 2 * unit, 7 * unit))
    elif kind is QubeKind.SERVICE:  # a ring: a service qube (sys-net, sys-usb…)
        ring = QPainterPath()
        ring.addEllipse(box.center(), 3.6 * unit, 3.6 * unit)
        ring.addEllipse(box.center(), 1.6 * unit, 1.6 * unit)
        painter.drawPath(ring)
    painter.end()
    return pixmap


def _hexagon(box: QRectF) -> QPolygonF:
    center, radius = box.center(), box.width() / 2
    offsets = ((0.0, -1.0), (0.87, -0.5), (0.87, 0.5), (0.0, 1.0), (-0.87, 0.5), (-0.87, -0.5))
    return QPolygonF([QPointF(center.x() + dx * radius, center.y() + dy * radius)
                      for dx, dy in offsets])
