# SPDX-License-Identifier: GPL-2.0-or-later
"""``NetworkView``: the netvm chains of the qubes as a left-to-right graph."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from PyQt6 import sip
from PyQt6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PyQt6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView, QWidget

from backend.client import CacheListener, QubeSnapshot, SystemCache
from widgets.network_graph import Layout, Link, compute_layout, shows_in_graph
from widgets.network_items import (
    EdgeItem,
    GroupItem,
    QubeNodeItem,
    node_anchor_in,
    node_anchor_out,
)
from widgets.network_style import GraphStyle

log = logging.getLogger("gui")

_MARGIN = 24.0
_MIN_ZOOM = 0.08
_MAX_ZOOM = 3.0
_ZOOM_STEP = 1.2
#: the colour of a qube whose label is not known (yet)
_NO_LABEL = QColor("#888a85")


class _ViewListener(CacheListener):
    """Forwards the cache's callbacks to a view for as long as the view lives."""

    def __init__(self, view: NetworkView) -> None:
        self._view = weakref.ref(view)

    def _target(self) -> NetworkView | None:
        view = self._view()
        return None if view is None or sip.isdeleted(view) else view

    def loaded(self) -> None:
        if view := self._target():
            view.on_cache_loaded()

    def qube_added(self, qube: QubeSnapshot) -> None:
        if view := self._target():
            view.on_cache_qube_added(qube)

    def qube_removed(self, qube: QubeSnapshot) -> None:
        if view := self._target():
            view.on_cache_qube_removed(qube)

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        if view := self._target():
            view.on_cache_qube_changed(old, new)

    def labels_changed(self) -> None:
        if view := self._target():
            view.on_cache_labels_changed()


class NetworkView(QGraphicsView):
    """The netvm trees (sys-net → sys-firewall → its clients …) left to right.

    Qubes with no netvm that give no network to others are drawn apart, in a group
    below the trees. A network qube with more than ``fanout_limit`` plain clients
    shows them as one "+N qubes" box that opens into a grid on click. The view follows
    the cache: a state or label change repaints one node; a topology change (a netvm,
    ``provides_network``, a qube added or removed) re-places the existing items, once
    per burst of events.

    Ctrl+wheel or +/- zoom, 0 resets the zoom; dragging pans.

    Signals:
        qube_selected(str): the user clicked the node of this qube.
        layout_changed(): the items were (re)placed after a change of the topology.
    """

    qube_selected = pyqtSignal(str)
    layout_changed = pyqtSignal()

    def __init__(self, cache: SystemCache, parent: QWidget | None = None, *,
                 fanout_limit: int = 16) -> None:
        super().__init__(parent)
        self._cache = cache
        self._fanout_limit = fanout_limit
        self._graph = QGraphicsScene(self)
        self._style = GraphStyle.from_palette(self.palette(), self.font())
        self._links: dict[str, Link] = {}
        self._layout = Layout()
        self._nodes: dict[str, QubeNodeItem] = {}
        self._groups: dict[str, GroupItem] = {}
        self._edges: dict[str, EdgeItem] = {}
        #: network qube → targets of its edges (to restyle them when its state changes)
        self._edges_from: dict[str, list[str]] = {}
        #: group expansion the user chose (overrides the fan-out rule)
        self._expanded: dict[str, bool] = {}
        self._selected: str | None = None
        self._press_pos: QPoint | None = None
        self._placed_once = False
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(0)
        self._init_view()
        self._connect_signals()
        self._remove_listener: Callable[[], None] | None = cache.add_listener(
            _ViewListener(self))
        if cache.is_loaded:
            self.on_cache_loaded()
            self.relayout()

    def __repr__(self) -> str:
        return f"<NetworkView {len(self._links)} qubes, {len(self._nodes)} nodes>"

    def _init_view(self) -> None:
        self.setScene(self._graph)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # top-left, so that a relayout that changes the scene's size does not make it jump
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(self._style.base)
        self.setMinimumSize(240, 160)
        self.setAccessibleName(self.tr("Network connections of the qubes"))

    def _connect_signals(self) -> None:
        self._layout_timer.timeout.connect(self.relayout)

    # --- public API ------------------------------------------------------------------
    def select(self, name: str) -> bool:
        """Highlight the node of ``name``, opening its group if needed, and centre it
        unless it is in sight already (so that the graph does not jump under the user).

        Returns False (and changes nothing) when the qube is not in the graph.
        """
        self._flush_layout()
        if name not in self._links:
            return False
        key = self._layout.group_of.get(name)
        if name not in self._nodes and key is not None:
            self._expanded[key] = True
            self.relayout()
        item = self._nodes.get(name)
        if item is None:
            return False
        self._mark(name)
        viewport = self.viewport()
        in_sight = viewport is not None and self.mapToScene(viewport.rect()).boundingRect() \
            .contains(item.sceneBoundingRect())
        if not in_sight:
            self.centerOn(item)
        return True

    def selected_qube(self) -> str | None:
        return self._selected

    def close_view(self) -> None:
        """Stop following the cache (idempotent); the lead calls it when the window closes."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        self._layout_timer.stop()

    def set_group_expanded(self, key: str, expanded: bool) -> None:
        """Open or close a group of qubes (keys: ``network_graph.group_key``)."""
        self._flush_layout()
        if key not in self._groups:
            return
        self._expanded[key] = expanded
        self.relayout()

    def toggle_group(self, key: str) -> None:
        group = self._groups.get(key)
        if group is not None:
            self.set_group_expanded(key, not group.place.expanded)

    # --- what is shown (for the window's status line and for tests) -----------------------
    def node_names(self) -> set[str]:
        """The qubes drawn as nodes (not those inside a collapsed group)."""
        return set(self._nodes)

    def qube_names(self) -> set[str]:
        """Every qube in the graph, whether drawn or inside a collapsed group."""
        return set(self._links)

    def edges(self) -> dict[str, str]:
        """Each edge's target (a qube or a group key) → the network qube it comes from."""
        return {target: edge.source for target, edge in self._edges.items()}

    def node_item(self, name: str) -> QubeNodeItem | None:
        return self._nodes.get(name)

    def edge_item(self, target: str) -> EdgeItem | None:
        return self._edges.get(target)

    def group_item(self, key: str) -> GroupItem | None:
        return self._groups.get(key)

    def group_keys(self) -> set[str]:
        return set(self._groups)

    @property
    def layout_pending(self) -> bool:
        """A topology change is waiting for the next relayout."""
        return self._layout_timer.isActive()

    # --- zoom ------------------------------------------------------------------------
    def zoom_in(self) -> None:
        self._zoom_by(_ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom_by(1 / _ZOOM_STEP)

    def reset_zoom(self) -> None:
        self.resetTransform()

    def zoom_to_fit(self) -> None:
        """Show the whole graph (never magnified beyond 100 %)."""
        self.fitInView(self._graph.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.0:
            self.resetTransform()

    def zoom(self) -> float:
        return self.transform().m11()

    def _zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom() * factor, _MIN_ZOOM), _MAX_ZOOM)
        factor = target / self.zoom()
        self.scale(factor, factor)

    # --- cache callbacks -------------------------------------------------------------------
    def on_cache_loaded(self) -> None:
        """First load or reconcile: take every qube again, then re-place."""
        links = {name: Link.of(qube) for name, qube in self._cache.qubes.items()
                 if shows_in_graph(qube)}
        if links != self._links:
            self._links = links
            self._schedule_layout()
        for name, item in self._nodes.items():
            snapshot = self._cache.get(name)
            if snapshot is not None:
                self._show_qube(item, snapshot)

    def on_cache_qube_added(self, qube: QubeSnapshot) -> None:
        if shows_in_graph(qube):
            self._links[qube.name] = Link.of(qube)
            self._schedule_layout()

    def on_cache_qube_removed(self, qube: QubeSnapshot) -> None:
        if self._links.pop(qube.name, None) is not None:
            self._schedule_layout()

    def on_cache_qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        name = new.name
        if name not in self._links:
            return
        link = Link.of(new)
        if link != self._links[name]:
            self._links[name] = link
            self._schedule_layout()
        if old.state != new.state:
            self._restyle_edges_of(name)
            self._recount_group_of(name)
        item = self._nodes.get(name)
        if item is not None:
            self._show_qube(item, new)

    def on_cache_labels_changed(self) -> None:
        for name, item in self._nodes.items():
            snapshot = self._cache.get(name)
            if snapshot is not None:
                self._show_qube(item, snapshot)

    # --- layout ----------------------------------------------------------------------------
    def _schedule_layout(self) -> None:
        """Re-place once after the current burst of events (a reconcile sends many)."""
        if self._remove_listener is not None:
            self._layout_timer.start()

    def _flush_layout(self) -> None:
        if self._layout_timer.isActive():
            self._layout_timer.stop()
            self.relayout()

    def relayout(self) -> None:
        """Compute the layout and move, add and remove items to match it."""
        self._layout_timer.stop()
        layout = compute_layout(self._links.values(), self._expanded, self._fanout_limit)
        # a group the user opened that fell under the fan-out limit starts afresh
        self._expanded = {key: value for key, value in self._expanded.items()
                          if key in layout.groups}
        self._layout = layout
        self._place_nodes(layout)
        self._place_groups(layout)
        self._place_edges(layout)
        self._graph.setSceneRect(QRectF(-_MARGIN, -_MARGIN, layout.width + 2 * _MARGIN,
                                        layout.height + 2 * _MARGIN))
        if self._selected is not None and self._selected not in self._nodes:
            self._selected = None
        if not self._placed_once and layout.nodes:
            self._placed_once = True
            self.ensureVisible(QRectF(-_MARGIN, -_MARGIN, 1, 1), 0, 0)
        log.debug("network view: %d nodes, %d groups, %d edges", len(self._nodes),
                  len(self._groups), len(self._edges))
        self.layout_changed.emit()

    def _place_nodes(self, layout: Layout) -> None:
        for name in [n for n in self._nodes if n not in layout.nodes]:
            self._graph.removeItem(self._nodes.pop(name))
        for name, rect in layout.nodes.items():
            item = self._nodes.get(name)
            if item is None:
                item = self._nodes[name] = QubeNodeItem(name, self._style)
                item.set_marked(name == self._selected)
                self._graph.addItem(item)
            if item.pos() != QPointF(rect.x, rect.y):
                item.setPos(rect.x, rect.y)
            snapshot = self._cache.get(name)
            if snapshot is not None:
                self._show_qube(item, snapshot, layout)

    def _place_groups(self, layout: Layout) -> None:
        for key in [k for k in self._groups if k not in layout.groups]:
            self._graph.removeItem(self._groups.pop(key))
        for key, place in layout.groups.items():
            item = self._groups.get(key)
            if item is None:
                item = self._groups[key] = GroupItem(place, self._style)
                self._graph.addItem(item)
            item.set_place(place, self._running_count(place.members))

    def _place_edges(self, layout: Layout) -> None:
        for target in [t for t in self._edges if t not in layout.edges]:
            self._graph.removeItem(self._edges.pop(target))
        self._edges_from = {}
        for target, source in layout.edges.items():
            item = self._edges.get(target)
            if item is None:
                item = self._edges[target] = EdgeItem(target, self._style)
                self._graph.addItem(item)
            end = layout.nodes.get(target) or layout.groups[target].rect
            item.set_ends(source, node_anchor_out(layout.nodes[source]), node_anchor_in(end))
            item.set_active(self._edge_active(source, target))
            self._edges_from.setdefault(source, []).append(target)

    # --- state -----------------------------------------------------------------------------
    def _show_qube(self, item: QubeNodeItem, snapshot: QubeSnapshot,
                   layout: Layout | None = None) -> None:
        label = self._cache.label_of(snapshot)
        color = QColor.fromRgb(label.rgb) if label is not None else _NO_LABEL
        clients = (layout or self._layout).clients.get(snapshot.name, 0)
        item.set_qube(snapshot, color, clients)

    def _is_running(self, name: str) -> bool:
        snapshot = self._cache.get(name)
        return snapshot is not None and snapshot.is_running

    def _running_count(self, members: tuple[str, ...]) -> int:
        return sum(1 for name in members if self._is_running(name))

    def _edge_active(self, source: str, target: str) -> bool:
        if not self._is_running(source):
            return False
        group = self._layout.groups.get(target)
        if group is not None:
            return self._running_count(group.members) > 0
        return self._is_running(target)

    def _restyle_edges_of(self, name: str) -> None:
        targets = list(self._edges_from.get(name, ()))
        key = self._layout.group_of.get(name)
        targets.append(key if key is not None and key in self._edges else name)
        for target in targets:
            edge = self._edges.get(target)
            if edge is not None:
                edge.set_active(self._edge_active(edge.source, target))

    def _recount_group_of(self, name: str) -> None:
        key = self._layout.group_of.get(name)
        item = self._groups.get(key) if key is not None else None
        if item is not None:
            item.set_running(self._running_count(item.place.members))

    def _mark(self, name: str | None) -> None:
        if self._selected is not None and self._selected in self._nodes:
            self._nodes[self._selected].set_marked(False)
        self._selected = name
        if name is not None and name in self._nodes:
            self._nodes[name].set_marked(True)

    def _restyle(self) -> None:
        self._style = GraphStyle.from_palette(self.palette(), self.font())
        self.setBackgroundBrush(self._style.base)
        items: list[QubeNodeItem | GroupItem | EdgeItem] = [
            *self._nodes.values(), *self._groups.values(), *self._edges.values()]
        for item in items:
            item.set_style(self._style)

    # --- events ----------------------------------------------------------------------------
    def changeEvent(self, event: QEvent | None) -> None:
        super().changeEvent(event)
        if event is not None and event.type() in (QEvent.Type.PaletteChange,
                                                  QEvent.Type.FontChange):
            self._restyle()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        super().mouseReleaseEvent(event)
        if event is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position().toPoint()
        press, self._press_pos = self._press_pos, None
        if press is not None and (pos - press).manhattanLength() \
                < QApplication.startDragDistance():
            self._click(self.mapToScene(pos))
            event.accept()

    def _click(self, scene_pos: QPointF) -> None:
        for item in self._graph.items(scene_pos):
            if isinstance(item, QubeNodeItem):
                self._mark(item.name)
                self.qube_selected.emit(item.name)
                return
            if isinstance(item, GroupItem) and item.toggles_at(scene_pos):
                self.toggle_group(item.key)
                return

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is not None and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self._zoom_by(_ZOOM_STEP ** steps)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        key = event.key() if event is not None else None
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.reset_zoom()
        else:
            super().keyPressEvent(event)
