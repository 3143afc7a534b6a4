"""The side panels of the Qube Manager: network view, CPU and memory history.

Both follow the window's ``SystemCache``; the history takes its samples from the
window's own ``admin.vm.Stats`` stream (``window.stats.stats_received``), so no second
stream is opened. Clicking a qube in the network view selects it in the table, and
the history shows the qube selected in the table.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QCoreApplication, Qt
from PyQt6.QtWidgets import QDockWidget, QMenu, QWidget

from widgets.networkview import NetworkView
from widgets.stats_plot import HistoryPlot
from widgets.statshistory import StatsHistory


class Panels:
    """The docks, their widgets and their entries in the View menu."""

    def __init__(self, window: Any, view_menu: QMenu) -> None:
        tr = QCoreApplication.translate
        self.window = window
        self.network = NetworkView(window.cache, window)
        self.history = StatsHistory(window.context.client, window.cache, parent=window)
        self.plot = HistoryPlot(self.history, window)
        self.docks: dict[str, QDockWidget] = {}
        view_menu.addSeparator()
        for key, title, widget, area in (
            ("network", tr("Panels", "Network view"), self.network,
             Qt.DockWidgetArea.RightDockWidgetArea),
            ("history", tr("Panels", "CPU and memory history"), self.plot,
             Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            self.docks[key] = self._dock(key, title, widget, area, view_menu)
        self._connect_signals()

    def _dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea,
              view_menu: QMenu) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        dock.hide()
        view_menu.addAction(dock.toggleViewAction())
        return dock

    def _connect_signals(self) -> None:
        self.network.qube_selected.connect(self.on_network_qube_selected)
        self.window.stats.stats_received.connect(self.history.add)
        self.history.follow()

    def on_network_qube_selected(self, name: str) -> None:
        self.window.select(name)

    def on_selection_changed(self, names: list[str]) -> None:
        """The table's selection changed: show the first selected qube."""
        name = names[0] if names else None
        self.plot.set_qube(name)
        if name is not None:
            self.network.select(name)

    def close(self) -> None:
        self.network.close_view()
        self.history.stop()
