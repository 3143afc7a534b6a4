# SPDX-License-Identifier: GPL-2.0-or-later
"""The scene items of the network view: qube nodes, groups of qubes and netvm edges."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from backend.client.model import QubeSnapshot
from widgets.network_graph import NODE_H, NODE_W, GroupPlace, Rect
from widgets.network_style import (
    GraphStyle,
    NodeState,
    luminance,
    mix,
    node_state,
    state_text,
    tr,
    trn,
)

#: below this zoom, nodes are drawn as plain boxes without text
DETAIL_THRESHOLD = 0.45
_RADIUS = 7.0
_RING = 4.0
_STRIPE = 6.0


def _rounded(rect: QRectF, radius: float = _RADIUS) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(rect, radius, radius)
    return path


def _detail(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


class QubeNodeItem(QGraphicsItem):
    """One qube: a rounded box in its label's colour, filled while it runs.

    Attributes:
        name: the qube's name.
        snapshot: the qube as last drawn.
    """

    def __init__(self, name: str, style: GraphStyle) -> None:
        super().__init__()
        self.name = name
        self.snapshot: QubeSnapshot | None = None
        self._style = style
        self._label = QColor("#888888")
        self._clients = 0
        self._marked = False
        self._hovered = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(2)

    def __repr__(self) -> str:
        return f"<QubeNodeItem {self.name}>"

    # --- state ---------------------------------------------------------------------
    def set_qube(self, snapshot: QubeSnapshot, label_color: QColor, clients: int) -> bool:
        """Show ``snapshot``; repaints (and returns True) only if what is drawn changed."""
        old = self.snapshot
        if (old is not None and old.state == snapshot.state and label_color == self._label
                and clients == self._clients
                and old.prop("netvm") == snapshot.prop("netvm")
                and old.klass == snapshot.klass):
            self.snapshot = snapshot
            return False
        self.snapshot = snapshot
        self._label = label_color
        self._clients = clients
        self.setToolTip(self._tooltip())
        self.update()
        return True

    def set_style(self, style: GraphStyle) -> None:
        self._style = style
        self.update()

    def set_marked(self, marked: bool) -> None:
        """Draw (or stop drawing) the selection ring."""
        if marked != self._marked:
            self._marked = marked
            self.update()

    @property
    def is_marked(self) -> bool:
        return self._marked

    @property
    def state(self) -> NodeState:
        return node_state(self.snapshot.state) if self.snapshot else NodeState.HALTED

    def fill_color(self) -> QColor:
        """The box's background: a tint of the label while running, the base when not."""
        accent = self._style.accent(self._label)
        if not self.state.is_filled:
            return self._style.base
        if self._style.dark:
            return mix(self._style.base, accent, 0.3)
        # a black or gray label would make a dark box: tint it less
        return mix(self._style.base, accent, 0.2 if luminance(accent) > 0.08 else 0.12)

    def border_color(self) -> QColor:
        return self._style.accent(self._label)

    def _tooltip(self) -> str:
        snapshot = self.snapshot
        assert snapshot is not None
        netvm = snapshot.prop("netvm")
        lines = [f"<b>{self.name}</b>",
                 tr("%1, %2").replace("%1", snapshot.klass.value)
                 .replace("%2", state_text(snapshot.state))]
        if netvm:
            lines.append(tr("Network: %1").replace("%1", netvm))
        elif netvm is not None:
            lines.append(tr("No network"))
        if self._clients:
            lines.append(trn("Provides network to %Ln qube", "Provides network to %Ln qubes",
                              self._clients))
        return "<br>".join(lines)

    # --- painting ------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-_RING, -_RING, NODE_W + 2 * _RING, NODE_H + 2 * _RING)

    def shape(self) -> QPainterPath:
        return _rounded(QRectF(0, 0, NODE_W, NODE_H))

    def paint(self, painter: QPainter | None, option: QStyleOptionGraphicsItem | None,
              widget: QWidget | None = None) -> None:
        if painter is None or option is None:
            return
        style = self._style
        accent = self.border_color()
        state = self.state
        box = QRectF(0, 0, NODE_W, NODE_H)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if _detail(option, painter) < DETAIL_THRESHOLD:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(accent if state.is_filled else mix(style.base, accent, 0.3))
            painter.drawRoundedRect(box, _RADIUS, _RADIUS)
            if self._marked:
                painter.setPen(QPen(style.highlight, 8))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(box, _RADIUS, _RADIUS)
            return
        self._paint_box(painter, box, accent, state)
        self._paint_text(painter, box, state)
        self._paint_state_dot(painter, QPointF(NODE_W - 15, NODE_H / 2), state)
        if self._marked or self._hovered:
            ring = box.adjusted(-2.5, -2.5, 2.5, 2.5)
            color = QColor(style.highlight)
            if not self._marked:
                color.setAlphaF(0.45)
            painter.setPen(QPen(color, 2.5 if self._marked else 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(ring, _RADIUS + 2, _RADIUS + 2)

    def _paint_box(self, painter: QPainter, box: QRectF, accent: QColor,
                   state: NodeState) -> None:
        outline = _rounded(box.adjusted(0.5, 0.5, -0.5, -0.5))
        painter.fillPath(outline, self.fill_color())
        if state is NodeState.PAUSED:
            hatch = QColor(accent)
            hatch.setAlphaF(0.22)
            painter.fillPath(outline, QBrush(hatch, Qt.BrushStyle.BDiagPattern))
        painter.save()
        painter.setClipPath(outline)
        stripe = QColor(accent)
        if not state.is_filled:
            stripe.setAlphaF(0.55)
        painter.fillRect(QRectF(box.left(), box.top(), _STRIPE, box.height()), stripe)
        painter.restore()
        border = QColor(accent)
        if not state.is_filled:
            border.setAlphaF(0.8)
        pen = QPen(border, 1.8 if state.is_filled else 1.2)
        if state is NodeState.TRANSIENT:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(outline)

    def _paint_text(self, painter: QPainter, box: QRectF, state: NodeState) -> None:
        style = self._style
        left = _STRIPE + 10
        width = box.width() - left - 30
        snapshot = self.snapshot
        name_metrics = QFontMetricsF(style.name_font)
        small_metrics = QFontMetricsF(style.small_font)
        gap = 2.0
        total = name_metrics.height() + gap + small_metrics.height()
        top = (box.height() - total) / 2
        painter.setFont(style.name_font)
        painter.setPen(style.text if state.is_filled else style.secondary)
        painter.drawText(QRectF(left, top, width, name_metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         name_metrics.elidedText(self.name, Qt.TextElideMode.ElideMiddle, width))
        subtitle = state_text(snapshot.state) if snapshot else ""
        if self._clients:
            subtitle = trn("%1 · %Ln client", "%1 · %Ln clients",
                            self._clients).replace("%1", subtitle)
        painter.setFont(style.small_font)
        painter.setPen(style.secondary)
        painter.drawText(QRectF(left, top + name_metrics.height() + gap, width,
                                small_metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         small_metrics.elidedText(subtitle, Qt.TextElideMode.ElideRight, width))

    def _paint_state_dot(self, painter: QPainter, center: QPointF, state: NodeState) -> None:
        color = self._style.state_colors[state]
        radius = 5.0
        if state is NodeState.HALTED:
            painter.setPen(QPen(color, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(center, radius - 0.5, radius - 0.5)
            return
        if state is NodeState.TRANSIENT:
            painter.setPen(QPen(color, 2.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawArc(QRectF(center.x() - radius, center.y() - radius, 2 * radius,
                                   2 * radius), 90 * 16, -270 * 16)
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(center, radius, radius)
        if state is NodeState.PAUSED:
            painter.setBrush(self._style.base)
            for dx in (-2.2, 1.0):
                painter.drawRect(QRectF(center.x() + dx, center.y() - 2.5, 1.4, 5.0))

    # --- hovering ------------------------------------------------------------------
    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent | None) -> None:
        self._hovered = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent | None) -> None:
        self._hovered = False
        self.update()


class GroupItem(QGraphicsItem):
    """A group of leaf qubes: a stacked "+N qubes" box, or an open frame with a header.

    Clicking the box, or the header of the frame, toggles it.
    """

    def __init__(self, place: GroupPlace, style: GraphStyle) -> None:
        super().__init__()
        self.place = place
        self._style = style
        self._running = 0
        self._rect = QRectF()
        self.setZValue(0)
        self.set_place(place, 0)

    def __repr__(self) -> str:
        return f"<GroupItem {self.place.key} {len(self.place.members)}>"

    @property
    def key(self) -> str:
        return self.place.key

    def set_place(self, place: GroupPlace, running: int) -> None:
        if place.rect != self.place.rect or place.expanded != self.place.expanded:
            self.prepareGeometryChange()
        self.place = place
        self._running = running
        rect = place.rect
        self.setPos(rect.x, rect.y)
        self._rect = QRectF(0, 0, rect.w, rect.h)
        self.setCursor(Qt.CursorShape.PointingHandCursor if not place.expanded
                       else Qt.CursorShape.ArrowCursor)
        self.setToolTip(tr("Click to show these qubes") if not place.expanded else "")
        self.update()

    def set_running(self, running: int) -> None:
        if running != self._running:
            self._running = running
            self.update()

    def set_style(self, style: GraphStyle) -> None:
        self._style = style
        self.update()

    def toggles_at(self, scene_pos: QPointF) -> bool:
        """Whether a click at ``scene_pos`` toggles the group (its box, or its header)."""
        local = self.mapFromScene(scene_pos)
        if not self._rect.contains(local):
            return False
        return not self.place.expanded or local.y() <= NODE_H

    def title(self) -> str:
        count = len(self.place.members)
        if self.place.parent is None:
            return trn("No network · %Ln qube", "No network · %Ln qubes", count)
        if not self.place.expanded:
            return trn("+%Ln qube", "+%Ln qubes", count)
        return trn("%Ln client of %1", "%Ln clients of %1", count).replace(
            "%1", self.place.parent)

    def subtitle(self) -> str:
        if self.place.expanded:
            return tr("%Ln running · collapse", self._running)
        return tr("%Ln running · show all", self._running)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 7, 7)

    def paint(self, painter: QPainter | None, option: QStyleOptionGraphicsItem | None,
              widget: QWidget | None = None) -> None:
        if painter is None or option is None:
            return
        style = self._style
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.place.expanded:
            frame = self._rect.adjusted(0.5, 0.5, -0.5, -0.5)
            painter.setPen(QPen(style.frame, 1.2))
            painter.setBrush(mix(style.base, style.text, 0.035))
            painter.drawRoundedRect(frame, _RADIUS + 3, _RADIUS + 3)
        else:
            for offset in (6.0, 3.0):
                card = self._rect.translated(offset, offset).adjusted(0.5, 0.5, -0.5, -0.5)
                painter.setPen(QPen(style.frame, 1.0))
                painter.setBrush(mix(style.base, style.text, 0.03 + offset / 200))
                painter.drawRoundedRect(card, _RADIUS, _RADIUS)
            painter.setPen(QPen(style.line, 1.2))
            painter.setBrush(style.base)
            painter.drawRoundedRect(self._rect.adjusted(0.5, 0.5, -0.5, -0.5),
                                    _RADIUS, _RADIUS)
        if _detail(option, painter) < DETAIL_THRESHOLD:
            return
        self._paint_header(painter)

    def _paint_header(self, painter: QPainter) -> None:
        style = self._style
        header = QRectF(0, 0, self._rect.width(), NODE_H)
        left = 14.0
        width = header.width() - left - 28
        name_metrics = QFontMetricsF(style.name_font)
        small_metrics = QFontMetricsF(style.small_font)
        gap = 2.0
        top = (NODE_H - name_metrics.height() - gap - small_metrics.height()) / 2
        painter.setFont(style.name_font)
        painter.setPen(style.text)
        painter.drawText(QRectF(left, top, width, name_metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         name_metrics.elidedText(self.title(), Qt.TextElideMode.ElideRight,
                                                 width))
        painter.setFont(style.small_font)
        painter.setPen(style.secondary)
        painter.drawText(QRectF(left, top + name_metrics.height() + gap, width,
                                small_metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         small_metrics.elidedText(self.subtitle(),
                                                  Qt.TextElideMode.ElideRight, width))
        self._paint_chevron(painter, QPointF(header.width() - 16, NODE_H / 2))

    def _paint_chevron(self, painter: QPainter, center: QPointF) -> None:
        path = QPainterPath()
        if self.place.expanded:  # pointing up: collapse
            path.moveTo(center.x() - 4, center.y() + 2)
            path.lineTo(center.x(), center.y() - 2)
            path.lineTo(center.x() + 4, center.y() + 2)
        else:  # pointing right: expand
            path.moveTo(center.x() - 2, center.y() - 4)
            path.lineTo(center.x() + 2, center.y())
            path.lineTo(center.x() - 2, center.y() + 4)
        pen = QPen(self._style.secondary, 1.6)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)


class EdgeItem(QGraphicsItem):
    """A netvm link: a curve from the network qube's right side to its client's left.

    Solid while both ends run (traffic can flow), dashed otherwise.
    """

    def __init__(self, target: str, style: GraphStyle) -> None:
        super().__init__()
        self.target = target
        self.source = ""
        self._style = style
        self._ends: tuple[float, float, float, float] | None = None
        self._active = False
        self._path = QPainterPath()
        self.setZValue(1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def __repr__(self) -> str:
        return f"<EdgeItem {self.source} -> {self.target}>"

    def set_ends(self, source: str, start: QPointF, end: QPointF) -> None:
        """Route the edge from ``start`` (on ``source``) to ``end``; no-op if unchanged."""
        self.source = source
        ends = (start.x(), start.y(), end.x(), end.y())
        if ends == self._ends:
            return
        self.prepareGeometryChange()
        self._ends = ends
        path = QPainterPath(start)
        bend = max((end.x() - start.x()) * 0.5, 24.0)
        path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()),
                     end)
        self._path = path

    def set_active(self, active: bool) -> None:
        if active != self._active:
            self._active = active
            self.update()

    @property
    def is_active(self) -> bool:
        return self._active

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def set_style(self, style: GraphStyle) -> None:
        self._style = style
        self.update()

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def paint(self, painter: QPainter | None, option: QStyleOptionGraphicsItem | None,
              widget: QWidget | None = None) -> None:
        if painter is None or self._ends is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(self._style.line if self._active else self._style.frame)
        pen = QPen(color, 1.8 if self._active else 1.4)
        if not self._active:
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setDashPattern([4.0, 3.0])
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)


def node_anchor_out(rect: Rect) -> QPointF:
    """Where edges leave a node: the middle of its right side."""
    return QPointF(rect.right, rect.y + NODE_H / 2)


def node_anchor_in(rect: Rect) -> QPointF:
    """Where an edge reaches a node or group: its left side, at a node's mid-height."""
    return QPointF(rect.x, rect.y + NODE_H / 2)
