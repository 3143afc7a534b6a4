"""``run_gui``: options, the loop, the window's lifetime, screenshots, errors."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import QLocale, pyqtSignal
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QLabel

from backend.client import SystemCache, UnixTransport
from qubes_manager.app import (
    AppContext,
    Message,
    MessageBridge,
    MessageLevel,
    install_translators,
    parse_options,
    run_gui,
)
from qubes_manager.backend_connect import BackendConnection, BackendKind
from tests.backend.daemon.conftest import RunningDaemon


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()


class CountWindow(QLabel):
    """A tiny main window: loads the cache, shows how many qubes there are."""

    loaded = pyqtSignal()

    def __init__(self, context: AppContext, quit_with: int | None = None) -> None:
        super().__init__()
        self.context = context
        self.setWindowTitle(context.window_title("Count"))
        self.cache = SystemCache(context.client)
        self.is_loaded = False
        self.closed = False
        self.quit_with = quit_with
        self._task = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        await self.cache.start()
        self.setText(f"{len(self.cache.qubes)} qubes")
        self.resize(320, 120)
        self.is_loaded = True
        self.loaded.emit()
        if self.quit_with is not None:
            self.context.quit(self.quit_with)

    async def aclose(self) -> None:
        self._task.cancel()
        await self.cache.close()
        self.closed = True


def test_options_are_parsed_and_the_rest_is_left_to_qt(tmp_path: Path) -> None:
    def extra(parser: object) -> None:
        parser.add_argument("--qube")  # type: ignore[attr-defined]

    options = parse_options(["qubes-qube-manager", "--socket", "/s.sock", "--screenshot",
                             str(tmp_path / "a.png"), "-style", "fusion", "--qube", "work"],
                            add_arguments=extra)
    assert options.socket == "/s.sock" and options.screenshot == tmp_path / "a.png"
    assert options.extra.qube == "work"
    assert options.qt_args == ["qubes-qube-manager", "-style", "fusion"]


def test_window_title_says_when_it_is_the_demo(qapp: QApplication) -> None:
    loop = asyncio.new_event_loop()

    def context(kind: BackendKind) -> AppContext:
        connection = BackendConnection(kind, UnixTransport("/nowhere"))
        return AppContext(qapp, MessageBridge(show_boxes=False), connection,
                          connection.client(), parse_options(["x"]), loop.create_future())

    try:
        assert context(BackendKind.SYSTEM).window_title("Qube Manager") == "Qube Manager"
        assert context(BackendKind.DEMO).window_title("Qube Manager") \
            == "Qube Manager (demo system)"
    finally:
        loop.close()


def test_qt_translations_for_the_locale_are_installed(qapp: QApplication,
                                                      tmp_path: Path) -> None:
    translators = install_translators(qapp, tmp_path / "missing", QLocale("de_DE"))
    try:
        assert len(translators) == 1  # Qt's own; ours are not there, which is fine
        assert QApplication.translate("QPlatformTheme", "Cancel") == "Abbrechen"
    finally:
        for translator in translators:
            qapp.removeTranslator(translator)
    assert QApplication.translate("QPlatformTheme", "Cancel") == "Cancel"


def test_screenshot_is_saved_once_the_window_has_loaded(
    qapp: QApplication, running: RunningDaemon, tmp_path: Path,
) -> None:
    windows: list[CountWindow] = []

    def factory(context: AppContext) -> CountWindow:
        windows.append(CountWindow(context))
        return windows[-1]

    png = tmp_path / "shot.png"
    code = run_gui(factory, ["qubes-count", "--socket", str(running.socket_path),
                             "--screenshot", str(png)])
    assert code == 0
    (window,) = windows
    assert window.is_loaded and window.closed  # loaded before the shot, closed after
    assert window.windowTitle() == "Count"  # a given socket is not the demo
    image = QImage(str(png))
    assert not image.isNull() and (image.width(), image.height()) == (320, 120)


def test_program_ends_with_the_code_it_quits_with(qapp: QApplication,
                                                 running: RunningDaemon) -> None:
    windows: list[CountWindow] = []

    async def factory(context: AppContext) -> CountWindow:  # factories may be coroutines
        windows.append(CountWindow(context, quit_with=3))
        return windows[-1]

    assert run_gui(factory, ["qubes-count", "--socket", str(running.socket_path)]) == 3
    assert windows[0].closed and not windows[0].isVisible()


def test_interrupt_ends_the_program_cleanly(qapp: QApplication,
                                            running: RunningDaemon) -> None:
    windows: list[CountWindow] = []

    class Interrupted(CountWindow):
        async def _load(self) -> None:
            await super()._load()
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C in the terminal

    def factory(context: AppContext) -> CountWindow:
        windows.append(Interrupted(context))
        return windows[-1]

    assert run_gui(factory, ["qubes-count", "--socket", str(running.socket_path)]) \
        == 128 + signal.SIGINT
    assert windows[0].closed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_unreachable_socket_fails_with_a_message(qapp: QApplication, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    called = []
    code = run_gui(lambda context: called.append(context) or QLabel(),
                   ["qubes-count", "--socket", str(tmp_path / "silent.sock"),
                    "--screenshot", str(tmp_path / "never.png")])
    assert code == 1 and called == []
    assert "Nothing answers on the socket" in capsys.readouterr().err
    assert not (tmp_path / "never.png").exists()


def test_errors_reach_the_message_bridge(qapp: QApplication, running: RunningDaemon) -> None:
    posted: list[Message] = []

    def boom() -> None:
        raise RuntimeError("callback failed")

    def factory(context: AppContext) -> CountWindow:
        context.bridge.show_boxes = False
        context.bridge.message_posted.connect(posted.append)
        asyncio.get_running_loop().call_soon(boom)
        return CountWindow(context, quit_with=0)

    assert run_gui(factory, ["qubes-count", "--socket", str(running.socket_path)]) == 0
    assert [m.level for m in posted] == [MessageLevel.ERROR]
    assert "callback failed" in posted[0].text and "RuntimeError" in posted[0].details


def test_a_failing_factory_ends_the_program(qapp: QApplication, running: RunningDaemon,
                                            tmp_path: Path) -> None:
    def factory(context: AppContext) -> QLabel:
        raise ValueError("no window today")

    code = run_gui(factory, ["qubes-count", "--socket", str(running.socket_path),
                             "--screenshot", str(tmp_path / "x.png")])
    assert code == 1
