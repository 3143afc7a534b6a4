"""``BenchProbe``: machine-readable timing lines for ``bench/manager_load.py``.

Enabled by ``QUBES_MANAGER_BENCH=1``. It prints, on stdout, flushed:

* ``manager-bench populated t=<epoch> qubes=<n> visible=<a,b,…>`` after the first
  paint of the table once every qube is in it;
* ``manager-bench repainted qube=<name> t=<epoch>`` when a row that changed has been
  painted again (``updated`` instead of ``repainted`` when the row is not on screen,
  so there is nothing to paint).

Times are ``time.time()``, so the benchmark compares them with its own clock.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from PyQt6.QtCore import QModelIndex, QObject, QRect

from widgets.qubefilter import QubeFilterProxy
from widgets.qubetable import QubeTableModel
from widgets.qubetableview import QubeTableView

BENCH_ENV = "QUBES_MANAGER_BENCH"
PREFIX = "manager-bench"


def enabled() -> bool:
    return os.environ.get(BENCH_ENV, "") not in ("", "0")


class BenchProbe(QObject):
    def __init__(self, model: QubeTableModel, proxy: QubeFilterProxy, view: QubeTableView,
                 out: TextIO | None = None) -> None:
        super().__init__(view)
        self._model = model
        self._proxy = proxy
        self._view = view
        self._out = out or sys.stdout
        self._populated = False
        self._filled = False
        self._pending: set[str] = set()
        model.modelReset.connect(self._on_model_reset)
        model.dataChanged.connect(self._on_data_changed)
        view.painted.connect(self._on_painted)

    def _print(self, text: str) -> None:
        print(f"{PREFIX} {text}", file=self._out, flush=True)

    def _on_model_reset(self) -> None:
        self._filled = self._model.rowCount() > 0

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        if not self._populated:
            return
        for row in range(top_left.row(), bottom_right.row() + 1):
            name = self._model.row_at(row).name
            if self._row_rect(name) is None:
                self._print(f"updated qube={name} t={time.time():.6f}")
            else:
                self._pending.add(name)

    def _row_rect(self, name: str) -> QRect | None:
        proxy_row = self._proxy.proxy_row_of(name)
        if proxy_row is None:
            return None
        first, last = self._view.visible_rows()
        if not first <= proxy_row <= last:
            return None
        rect = self._view.visualRect(self._proxy.index(proxy_row, 0))
        viewport = self._view.viewport()
        assert viewport is not None
        return QRect(0, rect.top(), viewport.width(), rect.height())

    def _on_painted(self, rect: QRect) -> None:
        now = time.time()
        if not self._populated:
            if self._filled:
                self._populated = True
                first, last = self._view.visible_rows()
                names = [self._proxy.row_at(r).name for r in range(first, last + 1)] \
                    if first >= 0 else []
                self._print(f"populated t={now:.6f} qubes={self._model.rowCount()} "
                            f"visible={','.join(names)}")
            return
        for name in list(self._pending):
            row_rect = self._row_rect(name)
            if row_rect is None or row_rect.intersects(rect):
                self._pending.discard(name)
                self._print(f"repainted qube={name} t={now:.6f}")
