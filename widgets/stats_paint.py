# SPDX-License-Identifier: GPL-2.0-or-later
"""Colours, scales and value texts shared by the statistics plot and sparkline."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from PyQt6.QtCore import QCoreApplication, QPointF, QRectF
from PyQt6.QtGui import QColor, QPainterPath, QPalette

_CONTEXT = "StatsHistory"


class Series(enum.Enum):
    CPU = "cpu"
    MEMORY = "memory"


_COLORS = {
    # (light palette, dark palette): clear on white and on near-black alike
    Series.CPU: ("#1c71d8", "#62a0ea"),
    Series.MEMORY: ("#9141ac", "#c061cb"),
}


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5


def series_color(series: Series, palette: QPalette) -> QColor:
    light, dark = _COLORS[series]
    return QColor(dark if is_dark(palette) else light)


def with_alpha(color: QColor, alpha: float) -> QColor:
    result = QColor(color)
    result.setAlphaF(alpha)
    return result


def cpu_text(percent: float) -> str:
    return QCoreApplication.translate(_CONTEXT, "%1 %").replace("%1", f"{percent:.0f}")


_UNITS = ("KiB", "MiB", "GiB", "TiB")


def memory_text(kib: float) -> str:
    """``512 MiB``, ``1.5 GiB``: three significant digits at most."""
    value, unit = float(kib), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    number = f"{value:.0f}" if value >= 100 or unit == 0 else f"{value:.1f}".rstrip("0") \
        .rstrip(".")
    return QCoreApplication.translate(_CONTEXT, "%1 %2").replace("%1", number) \
        .replace("%2", _UNITS[unit])


def memory_scale(peak_kib: float) -> float:
    """The top of the memory axis: the power of two above ``peak_kib`` with some room."""
    peak = max(peak_kib * 1.1, 64 * 1024.0)
    top = 1024.0
    while top < peak:
        top *= 2
    return top


def series_path(values: Sequence[float], top: float, area: QRectF, slots: int,
                *, closed: bool = False) -> QPainterPath:
    """The polyline of ``values`` (scaled to 0..``top``), newest at the right edge.

    ``slots`` is how many samples fit across ``area``: a short history starts part
    way along, so the time axis stays the same while it fills up. ``closed`` closes
    the line down to the bottom edge, for a filled area.
    """
    path = QPainterPath()
    if not values or top <= 0:
        return path
    step = area.width() / max(slots - 1, 1)
    start = area.right() - step * (len(values) - 1)

    def point(index: int, value: float) -> QPointF:
        ratio = min(max(value / top, 0.0), 1.0)
        return QPointF(start + index * step, area.bottom() - ratio * area.height())

    path.moveTo(point(0, values[0]))
    for index, value in enumerate(values[1:], 1):
        path.lineTo(point(index, value))
    if len(values) == 1:  # one sample: a short flat line so that something shows
        path.lineTo(point(0, values[0]) + QPointF(min(step, 3.0), 0))
    if closed:
        last = path.currentPosition()
        path.lineTo(last.x(), area.bottom())
        path.lineTo(start, area.bottom())
        path.closeSubpath()
    return path
