"""Pictures of the network view on the demo system, light and dark.

They go to a temporary directory; with ``QUBES_SCREENSHOT_DIR=docs`` they are
written there, for the documentation.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import QSize
from PyQt6.QtGui import QColor, QImage, QPalette
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from backend.client import AdminClient, PowerState, SystemCache, UnixTransport, actions
from tests.backend.daemon.conftest import RunningDaemon
from tests.client.conftest import Recorder
from tests.widgets.qtasync import run_qt
from widgets.network_graph import group_key
from widgets.networkview import NetworkView


async def settled(view: NetworkView, timeout: float = 10.0) -> None:
    """Let Qt deliver the resize of a newly shown view, which drops its scroll bars."""
    async with asyncio.timeout(timeout):
        while view.viewport().size() != view.size() - QSize(2, 2):
            await asyncio.sleep(0)  # one turn of the loop, not a delay


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = os.environ.get("QUBES_SCREENSHOT_DIR")
    return Path(directory) if directory else tmp_path


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#242424"),
                        (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.Button, "#303030"),
                        (QPalette.ColorRole.Text, "#eeeeee"),
                        (QPalette.ColorRole.WindowText, "#eeeeee"),
                        (QPalette.ColorRole.ButtonText, "#eeeeee"),
                        (QPalette.ColorRole.Highlight, "#3584e4")):
        palette.setColor(role, QColor(color))
    return palette


def colours(image: QImage, step: int = 3) -> int:
    """How many different colours a sample of the image's pixels has."""
    return len({image.pixel(x, y) for y in range(0, image.height(), step)
                for x in range(0, image.width(), step)})


async def lively_demo(daemon: RunningDaemon) -> SystemCache:
    """The demo with a few qubes running and one paused, as on a working day."""
    cache = SystemCache(AdminClient(UnixTransport(daemon.socket_path)))
    recorder = Recorder()
    cache.add_listener(recorder)
    await cache.start()
    for name in ("work", "anon-whonix", "vault"):
        await actions.start(cache.client, name)
    await actions.pause(cache.client, "vault")
    await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.PAUSED and all(
        cache.qubes[name].state is PowerState.RUNNING
        for name in ("sys-net", "sys-firewall", "sys-whonix", "anon-whonix", "work")))
    return cache


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshot_of_the_demo_network(qapp: QApplication, qtbot: QtBot,
                                        running: RunningDaemon, shots: Path,
                                        dark: bool) -> None:
    async def main() -> None:
        cache = await lively_demo(running)
        view = NetworkView(cache)
        qtbot.addWidget(view)
        if dark:
            view.setPalette(dark_palette())
        view.resize(1100, 620)
        view.show()
        await settled(view)
        view.select("work")
        view.reset_zoom()
        view.horizontalScrollBar().setValue(0)
        view.verticalScrollBar().setValue(0)
        image = view.grab().toImage()
        assert colours(image) > 40
        name = "networkview-dark.png" if dark else "networkview.png"
        assert image.save(str(shots / name))
        view.close_view()
        await cache.close()

    run_qt(qapp, main())


def test_screenshot_of_a_thousand_qubes(qapp: QApplication, qtbot: QtBot,
                                        tmp_path: Path, shots: Path) -> None:
    daemon = RunningDaemon(tmp_path / "big", tmp_path / "big.sock", extra_qubes=1000)

    async def main() -> None:
        cache = await lively_demo(daemon)
        view = NetworkView(cache)
        qtbot.addWidget(view)
        view.resize(1100, 520)
        view.show()
        await settled(view)
        collapsed = view.grab().toImage()
        assert colours(collapsed) > 20
        assert collapsed.save(str(shots / "networkview-1000.png"))
        view.set_group_expanded(group_key("sys-firewall"), True)
        view.zoom_to_fit()
        overview = view.grab().toImage()
        assert colours(overview) > 10
        assert overview.save(str(shots / "networkview-1000-overview.png"))
        view.close_view()
        await cache.close()

    try:
        run_qt(qapp, main())
    finally:
        daemon.close()
