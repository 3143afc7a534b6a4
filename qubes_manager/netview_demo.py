# SPDX-License-Identifier: GPL-2.0-or-later
"""A small window with the network view and the selected qube's CPU/memory history.

``python -m qubes_manager.netview_demo [--socket PATH] [--screenshot FILE]
[--select QUBE]``: it is where the widgets are tried and photographed before the
Qube Manager window takes them in.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from backend.client import SystemCache
from qubes_manager.app import AppContext, run_gui
from widgets.networkview import NetworkView
from widgets.stats_plot import HistoryPlot
from widgets.statshistory import StatsHistory


class NetworkWindow(QSplitter):
    """The graph on the left; on the right the selected qube's name and history.

    Signals:
        loaded(): the graph shows the system.
    """

    loaded = pyqtSignal()

    def __init__(self, context: AppContext, select: str | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setWindowTitle(context.window_title(self.tr("Qube network")))
        self.is_loaded = False
        self._select = select
        self._cache = SystemCache(context.client)
        self._history = StatsHistory(context.client, self._cache, parent=self)
        self._view: NetworkView | None = None
        self._title = QLabel(self.tr("Click a qube to see its CPU and memory use."))
        self._title.setWordWrap(True)
        self._plot = HistoryPlot(self._history)
        self._tasks: set[asyncio.Task[None]] = set()
        self._init_layout()
        self.resize(1180, 640)
        task = asyncio.get_running_loop().create_task(self._load(), name="network window load")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _init_layout(self) -> None:
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.addWidget(self._title)
        layout.addWidget(self._plot)
        layout.addStretch(1)
        self.addWidget(QWidget())  # the view's place until the cache is loaded
        self.addWidget(side)
        self.setStretchFactor(0, 1)

    def _connect_signals(self) -> None:
        assert self._view is not None
        self._view.qube_selected.connect(self.on_view_qube_selected)

    async def _load(self) -> None:
        await self._cache.start()
        self._view = NetworkView(self._cache)
        self.replaceWidget(0, self._view)
        self.setSizes([860, 320])
        self._connect_signals()
        self._history.start()
        if self._select and self._view.select(self._select):
            self.on_view_qube_selected(self._select)
        self.is_loaded = True
        self.loaded.emit()

    def on_view_qube_selected(self, name: str) -> None:
        self._title.setText(name)
        self._plot.set_qube(name)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._view is not None:
            self._view.close_view()
        await self._history.aclose()
        await self._cache.close()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", metavar="QUBE", help="select this qube at start")


def main(argv: Sequence[str] | None = None) -> int:
    def factory(context: AppContext) -> NetworkWindow:
        return NetworkWindow(context, context.options.extra.select)

    return run_gui(factory, argv, app_name="qubes-network-view",
                   description="The network connections of the qubes",
                   add_arguments=_add_arguments)


if __name__ == "__main__":
    sys.exit(main())
