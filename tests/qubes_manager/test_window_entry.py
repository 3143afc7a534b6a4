"""``qubes-qube-manager`` as a program: ``main()`` with ``--screenshot``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QImage

from qubes_manager.manager import main
from tests.backend.daemon.conftest import RunningDaemon


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


def test_screenshot_is_saved_once_the_table_is_filled(qapp: Any, running: RunningDaemon,
                                                      tmp_path: Path) -> None:
    # the window's QSettings() must not write into the home directory of whoever tests
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    png = tmp_path / "manager.png"
    assert main(["qubes-qube-manager", "--socket", str(running.socket_path),
                 "--screenshot", str(png)]) == 0
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 400
    assert (tmp_path / "config" / "qubes-os" / "qubes-qube-manager.conf").exists()


def test_closing_the_window_ends_the_program(qapp: Any, running: RunningDaemon,
                                             tmp_path: Path) -> None:
    from qubes_manager.app import AppContext, run_gui
    from qubes_manager.mainwindow import ManagerWindow

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    windows: list[ManagerWindow] = []

    def factory(context: AppContext) -> ManagerWindow:
        window = ManagerWindow(context)
        window.loaded.connect(window.close)  # as if the user closed it at once
        windows.append(window)
        return window

    assert run_gui(factory, ["qubes-qube-manager", "--socket", str(running.socket_path)]) == 0
    (window,) = windows
    assert not window.tasks.tasks  # every task of the window ended with it
