"""Pictures of the history plot and the sparkline with made-up samples, light and dark.

They go to a temporary directory; with ``QUBES_SCREENSHOT_DIR=docs`` they are
written there, for the documentation.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage, QPalette, QStandardItem, QStandardItemModel
from PyQt6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from backend.client import QubeStats
from widgets.stats_plot import HistoryPlot
from widgets.stats_sparkline import SparklineDelegate
from widgets.statshistory import StatsHistory


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = os.environ.get("QUBES_SCREENSHOT_DIR")
    return Path(directory) if directory else tmp_path


async def _no_stream() -> AsyncIterator[QubeStats]:
    return
    yield  # an async generator that ends at once


def synthetic_history() -> StatsHistory:
    """Three qubes with plausible curves: a busy spell, a quiet one, an oscillating one."""
    history = StatsHistory(_no_stream)
    rng = random.Random(3)
    for i in range(48):
        busy = 40 if 30 < i < 36 else 0
        cpu = 18 + 14 * math.sin(i / 5) + rng.uniform(-6, 6) + busy
        memory = (1400 + 300 * math.sin(i / 9) + i * 6) * 1024
        history.add(QubeStats("work", int(memory), 0, int(max(cpu, 0))))
        history.add(QubeStats("sys-net", 400 * 1024, 0,
                              int(abs(5 * math.sin(i / 3)) + rng.uniform(0, 3))))
        history.add(QubeStats("personal", 900 * 1024, 0, int(60 + 30 * math.sin(i / 4))))
    return history


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#242424"),
                        (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.AlternateBase, "#2a2a2a"),
                        (QPalette.ColorRole.Button, "#303030"),
                        (QPalette.ColorRole.Text, "#eeeeee"),
                        (QPalette.ColorRole.WindowText, "#eeeeee"),
                        (QPalette.ColorRole.ButtonText, "#eeeeee"),
                        (QPalette.ColorRole.Highlight, "#3584e4"),
                        (QPalette.ColorRole.HighlightedText, "#ffffff")):
        palette.setColor(role, QColor(color))
    return palette


def colours(image: QImage) -> int:
    return len({image.pixel(x, y) for y in range(image.height()) for x in range(image.width())})


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshot_of_the_history_plot(qtbot: QtBot, shots: Path, dark: bool) -> None:
    plot = HistoryPlot(synthetic_history())
    qtbot.addWidget(plot)
    if dark:
        plot.setPalette(dark_palette())
        plot.setAutoFillBackground(True)
    plot.resize(380, 200)
    plot.set_qube("work")
    image = plot.grab().toImage()
    assert colours(image) > 30
    assert image.save(str(shots / ("historyplot-dark.png" if dark else "historyplot.png")))


def test_screenshot_of_the_sparkline_column(qtbot: QtBot, shots: Path) -> None:
    history = synthetic_history()
    model = QStandardItemModel(4, 2)
    model.setHorizontalHeaderLabels(["Name", "CPU"])
    for row, name in enumerate(("work", "sys-net", "personal", "vault")):
        model.setItem(row, 0, QStandardItem(name))
        cell = QStandardItem("–")
        cell.setData(name, Qt.ItemDataRole.UserRole)
        model.setItem(row, 1, cell)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(1, SparklineDelegate(history, view))
    view.setColumnWidth(0, 120)
    view.setColumnWidth(1, 140)
    view.verticalHeader().hide()
    view.resize(264, 150)
    view.selectRow(2)
    view.show()
    image = view.grab().toImage()
    assert colours(image) > 30
    assert image.save(str(shots / "sparkline.png"))
