"""Fixtures for the Qube Manager window tests: a real daemon, the one qasync loop, and
a real window on it. (No tests here; the window tests import these.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QAbstractButton, QApplication, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from backend.client import UnixTransport
from qubes_manager.app import AppContext, MessageBridge, parse_options
from qubes_manager.backend_connect import BackendConnection, BackendKind
from qubes_manager.mainwindow import ManagerWindow
from qubes_manager.tools import Tool, Tools
from tests.backend.daemon.conftest import RunningDaemon
from widgets.quberow import QubeRow

TIMEOUT_MS = 30_000


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The qasync loop, marked running for the whole test.

    Tests are plain functions that wait with ``qtbot.waitUntil``; while Qt processes
    events there, the loop's callbacks run, as they do under ``run_gui``.
    """
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.events._set_running_loop(None)
        # WORKAROUND: QEventLoop.stop() calls QApplication.exit(), which would end the
        # event loops of later tests; mark it stopped without that
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "qubes-qube-manager.conf"), QSettings.Format.IniFormat)


def no_tools() -> Tools:
    return Tools(paths={tool: None for tool in Tool})


class WindowEnv:
    """A window on a running daemon, and helpers to drive it."""

    def __init__(self, qtbot: QtBot, running: RunningDaemon, window: ManagerWindow) -> None:
        self.qtbot = qtbot
        self.running = running
        self.window = window

    @property
    def bridge(self) -> MessageBridge:
        return self.window.bridge

    def wait(self, condition: Callable[[], Any], timeout: int = TIMEOUT_MS) -> None:
        self.qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)

    def finish(self, coro: Any, timeout: int = TIMEOUT_MS) -> Any:
        """Run a coroutine on the loop until it is done; its result."""
        task = asyncio.ensure_future(coro)
        self.wait(task.done, timeout)
        return task.result()

    def row(self, name: str) -> QubeRow:
        row = self.window.model.row_of(name)
        assert row is not None, name
        return row

    def state(self, name: str) -> str:
        qube = self.window.model.row_of(name)
        return "" if qube is None else qube.qube.state.value

    def call(self, method: str, dest: str = "dom0", arg: str = "", payload: bytes = b"") -> str:
        return self.running.call(method, dest, arg, payload)

    def daemon_state(self, name: str) -> str:
        return str(self.running.in_loop(
            lambda: self.running.app.domains[name].power_state.value))

    # --- dialogs ---------------------------------------------------------------------------
    def next_box(self) -> QMessageBox:
        self.wait(lambda: self.bridge.open_boxes)
        return self.bridge.open_boxes[0]

    def answer(self, button: QMessageBox.StandardButton | str) -> str:
        """Click a button of the first open box (a standard button, or by its text);
        returns the box's text."""
        box = self.next_box()
        text = box.text()
        if isinstance(button, str):
            clicked: QAbstractButton | None = next(
                b for b in box.buttons() if b.text().replace("&", "") == button)
        else:
            clicked = box.button(button)
        assert clicked is not None
        clicked.click()
        self.wait(lambda: box not in self.bridge.open_boxes)
        return text

    def type_into_dialog(self, text: str | None) -> str:
        """Answer the open text question (None: cancel); returns its label."""
        self.wait(lambda: any(isinstance(d, QInputDialog) for d in self.bridge.open_dialogs))
        dialog = next(d for d in self.bridge.open_dialogs if isinstance(d, QInputDialog))
        label = dialog.labelText()
        if text is None:
            dialog.reject()
        else:
            dialog.setTextValue(text)
            dialog.accept()
        self.wait(lambda: dialog not in self.bridge.open_dialogs)
        return label


def make_window(qtbot: QtBot, running: RunningDaemon, settings: QSettings, *,
                kind: BackendKind = BackendKind.SOCKET, tools: Tools | None = None,
                show_boxes: bool = True) -> ManagerWindow:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    connection = BackendConnection(kind, UnixTransport(running.socket_path))
    context = AppContext(app, MessageBridge(show_boxes=show_boxes), connection,
                         connection.client(), parse_options(["qubes-qube-manager"]),
                         asyncio.get_event_loop().create_future())
    window = ManagerWindow(context, settings=settings,
                           tools=tools if tools is not None else no_tools())
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=TIMEOUT_MS)
    return window


def close_window(qtbot: QtBot, window: ManagerWindow) -> None:
    for box in window.bridge.open_dialogs:
        box.close()
    task = asyncio.ensure_future(window.aclose())
    qtbot.waitUntil(task.done, timeout=TIMEOUT_MS)
    task.result()
    window.close()
    window.deleteLater()


@pytest.fixture
def env(qtbot: QtBot, qloop: qasync.QEventLoop, running: RunningDaemon,
        settings: QSettings) -> Iterator[WindowEnv]:
    window = make_window(qtbot, running, settings)
    try:
        yield WindowEnv(qtbot, running, window)
    finally:
        close_window(qtbot, window)
