"""The bootstrap every GUI program shares: ``run_gui(window_factory, argv)``.

It creates the QApplication and the one qasync event loop, installs the translators
for the system locale, the message bridge and the handlers of unexpected errors,
connects to the backend (``backend_connect``), builds the program's main object with
the factory, and runs until the program quits; then it closes the main object and
stops a demo backend it started.

Common options: ``--socket PATH`` (the Admin API socket to use) and ``--screenshot
FILE`` (save a PNG of the main window once it has loaded its data, then exit 0).

Messages for the user go through the one ``MessageBridge`` of the program
(``context.bridge``): errors, warnings, information, and ``confirm`` questions. It is
the only place that opens message boxes for them; each message is also emitted as
``message_posted`` (status bars and tests listen). Boxes open without a nested event
loop, so the qasync loop keeps running.

A main object may offer (all optional):

* ``loaded`` — a signal emitted once its data is shown; ``is_loaded`` — already so;
* ``async aclose()`` — awaited before exit, to cancel its tasks and close caches.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import inspect
import logging
import signal
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import qasync
from PyQt6.QtCore import (
    QCoreApplication,
    QLibraryInfo,
    QLocale,
    QObject,
    QSocketNotifier,
    QTranslator,
    pyqtBoundSignal,
    pyqtSignal,
)
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

from backend.client import AdminClient
from qubes_manager.backend_connect import BackendConnection, BackendError, connect_backend

log = logging.getLogger("gui")

ORGANIZATION = "qubes-os"
ORGANIZATION_DOMAIN = "qubes-os.org"
#: base name of our Qt Linguist files: ``translations/qubes_desktop_<locale>.qm``
TRANSLATION_NAME = "qubes_desktop"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SCREENSHOT_TIMEOUT = 120.0


# --- the message bridge ----------------------------------------------------------------

class MessageLevel(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_ICONS = {
    MessageLevel.INFO: QMessageBox.Icon.Information,
    MessageLevel.WARNING: QMessageBox.Icon.Warning,
    MessageLevel.ERROR: QMessageBox.Icon.Critical,
}


@dataclass(frozen=True, slots=True)
class Message:
    """One message for the user; ``details`` go behind the box's "Show Details…"."""

    level: MessageLevel
    title: str
    text: str
    details: str = ""


class MessageBridge(QObject):
    """Shows messages to the user.

    Signals:
        message_posted(Message): a message was posted (whether or not a box is shown).
    """

    message_posted = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None, *, show_boxes: bool = True) -> None:
        super().__init__(parent)
        #: tests and headless runs (``--screenshot``) turn the boxes off
        self.show_boxes = show_boxes
        self._boxes: list[QMessageBox] = []

    @property
    def open_boxes(self) -> list[QMessageBox]:
        """The boxes currently shown."""
        return list(self._boxes)

    # --- posting ----------------------------------------------------------------
    def error(self, text: str, *, title: str = "", details: str = "",
              parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.ERROR, title or self.tr("Error"), text, details), parent)

    def warning(self, text: str, *, title: str = "", details: str = "",
                parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.WARNING, title or self.tr("Warning"), text, details),
                  parent)

    def info(self, text: str, *, title: str = "", details: str = "",
             parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.INFO, title or self.tr("Information"), text, details),
                  parent)

    def report_exception(self, exc: BaseException, *, context: str = "",
                         parent: QWidget | None = None) -> None:
        """An unexpected error: its message for the user, the traceback as details."""
        log.error("%s", context or "unexpected error", exc_info=exc)
        text = str(exc) or type(exc).__name__
        if context:
            text = self.tr("%1:\n%2").replace("%1", context).replace("%2", text)
        details = "".join(traceback.format_exception(exc))
        self.error(text, title=self.tr("Unexpected error"), details=details, parent=parent)

    def post(self, message: Message, parent: QWidget | None = None) -> None:
        level = {MessageLevel.ERROR: logging.ERROR, MessageLevel.WARNING: logging.WARNING,
                 MessageLevel.INFO: logging.INFO}[message.level]
        log.log(level, "%s: %s", message.title, message.text)
        self.message_posted.emit(message)
        if self.show_boxes:
            self._open(self._box(message, parent))

    async def confirm(self, text: str, *, title: str = "",
                      parent: QWidget | None = None, default_yes: bool = False) -> bool:
        """Ask a yes/no question; True if the user answered yes.

        Without boxes (headless runs) nobody can answer: the answer is no.
        """
        if not self.show_boxes:
            log.info("not asked (no dialogs): %s", text)
            return False
        box = self._box(Message(MessageLevel.INFO, title or self.tr("Please confirm"), text),
                        parent)
        box.setIcon(QMessageBox.Icon.Question)
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        box.setStandardButtons(yes | no)
        box.setDefaultButton(yes if default_yes else no)
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_finished(result: int) -> None:
            if not answer.done():
                clicked = box.clickedButton()
                answer.set_result(clicked is not None and box.standardButton(clicked) == yes)

        box.finished.connect(on_finished)
        self._open(box)
        try:
            return await answer
        finally:
            if box in self._boxes:  # cancelled while asking: take the question away
                box.close()

    # --- boxes ------------------------------------------------------------------
    def _box(self, message: Message, parent: QWidget | None) -> QMessageBox:
        box = QMessageBox(_ICONS[message.level], message.title, message.text,
                          QMessageBox.StandardButton.Ok, parent)
        if message.details:
            box.setDetailedText(message.details)
        return box

    def _open(self, box: QMessageBox) -> None:
        self._boxes.append(box)

        def forget(_result: int) -> None:
            if box in self._boxes:
                self._boxes.remove(box)
            box.deleteLater()

        box.finished.connect(forget)
        box.open()


# --- options and context ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GuiOptions:
    socket: str | None
    screenshot: Path | None
    #: the program's own options (from ``add_arguments``)
    extra: argparse.Namespace
    #: what is left for Qt (``-platform``, ``-style``…)
    qt_args: list[str]


def parse_options(argv: Sequence[str], *, description: str = "",
                  add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                  ) -> GuiOptions:
    parser = argparse.ArgumentParser(prog=Path(argv[0]).name if argv else None,
                                     description=description or None)
    parser.add_argument("--socket", metavar="PATH",
                        help="Admin API socket (default: $QUBESD_SOCKET, the system's, "
                             "else a demo backend)")
    parser.add_argument("--screenshot", metavar="FILE", type=Path,
                        help="save a PNG of the window once loaded, then exit")
    if add_arguments is not None:
        add_arguments(parser)
    args, rest = parser.parse_known_args(list(argv[1:]))
    return GuiOptions(args.socket, args.screenshot, args, [*argv[:1], *rest])


@dataclass
class AppContext:
    """What a window factory gets: the application, the backend and the message bridge."""

    app: QApplication
    bridge: MessageBridge
    connection: BackendConnection
    client: AdminClient
    options: GuiOptions
    _quit: asyncio.Future[int] = field(repr=False)

    @property
    def is_demo(self) -> bool:
        return self.connection.is_demo

    def window_title(self, title: str) -> str:
        """``title``, marked when running on the demo system."""
        if not self.is_demo:
            return title
        return QCoreApplication.translate("AppContext", "%1 (demo system)").replace("%1", title)

    def quit(self, code: int = 0) -> None:
        """End the program (after closing the main object)."""
        if not self._quit.done():
            self._quit.set_result(code)


WindowFactory = Callable[[AppContext], "QObject | Awaitable[QObject]"]


def install_translators(app: QCoreApplication, directory: Path = TRANSLATIONS_DIR,
                        locale: QLocale | None = None) -> list[QTranslator]:
    """Qt's own strings and ours for ``locale`` (the system's); missing files are fine."""
    locale = locale or QLocale.system()
    installed: list[QTranslator] = []
    sources = [("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))]
    if directory.is_dir():
        sources.append((TRANSLATION_NAME, str(directory)))
    for name, path in sources:
        translator = QTranslator(app)
        if translator.load(locale, name, "_", path):
            app.installTranslator(translator)
            installed.append(translator)
    return installed


def run_gui(window_factory: WindowFactory, argv: Sequence[str] | None = None, *,
            app_name: str = "qubes-qube-manager", description: str = "",
            add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Run a GUI program; returns its exit status."""
    options = parse_options(sys.argv if argv is None else argv, description=description,
                            add_arguments=add_arguments)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(options.qt_args)
    app.setOrganizationName(ORGANIZATION)
    app.setOrganizationDomain(ORGANIZATION_DOMAIN)
    app.setApplicationName(app_name)
    app.setQuitOnLastWindowClosed(False)  # we quit through the main coroutine
    install_translators(app)
    bridge = MessageBridge(show_boxes=options.screenshot is None)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    previous_hook = sys.excepthook
    sys.excepthook = _excepthook(bridge)
    loop.set_exception_handler(_loop_exception_handler(bridge))
    try:
        with loop:
            return int(loop.run_until_complete(_main(app, bridge, options, window_factory)))
    finally:
        sys.excepthook = previous_hook
        asyncio.set_event_loop(None)


async def _main(app: QApplication, bridge: MessageBridge, options: GuiOptions,
                factory: WindowFactory) -> int:
    loop = asyncio.get_running_loop()
    quit_future: asyncio.Future[int] = loop.create_future()
    try:
        connection = await connect_backend(options.socket)
    except (BackendError, OSError) as exc:
        print(f"{app.applicationName()}: {exc}", file=sys.stderr)
        bridge.error(str(exc), title=bridge.tr("Cannot connect to the backend"))
        await _boxes_closed(bridge)
        return 1
    context = AppContext(app, bridge, connection, connection.client(), options, quit_future)
    wakeup = _quit_on_signals(context)
    app.lastWindowClosed.connect(context.quit)
    window: QObject | None = None
    try:
        made = factory(context)
        window = await made if inspect.isawaitable(made) else made
        if isinstance(window, QWidget):
            window.show()
        if options.screenshot is not None:
            return await _screenshot(window, options.screenshot)
        return await quit_future
    except Exception as exc:  # noqa: BLE001 - reported, then the program ends
        bridge.report_exception(exc, context=bridge.tr("The program cannot continue"))
        await _boxes_closed(bridge)
        return 1
    finally:
        app.lastWindowClosed.disconnect(context.quit)
        if window is not None:
            await _close(window)
        await connection.close()
        wakeup.close()


async def _boxes_closed(bridge: MessageBridge) -> None:
    """Let the user read what the bridge shows before the program ends."""
    while bridge.open_boxes:
        await next_emission(bridge.open_boxes[0].finished)


def next_emission(signal: pyqtBoundSignal) -> asyncio.Future[None]:
    """A future that is done when ``signal`` is next emitted."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def emitted(*_args: object) -> None:
        if not future.done():
            future.set_result(None)

    signal.connect(emitted)
    return future


async def _screenshot(window: Any, path: Path, timeout: float = SCREENSHOT_TIMEOUT) -> int:
    """Wait for the window's ``loaded`` signal, save it as PNG; 0 on success."""
    if not isinstance(window, QWidget):
        raise TypeError("--screenshot needs a window")
    if not getattr(window, "is_loaded", False) and hasattr(window, "loaded"):
        await asyncio.wait_for(next_emission(window.loaded), timeout)
    if not window.grab().save(str(path), "PNG"):
        print(f"cannot write the screenshot {path}", file=sys.stderr)
        return 1
    log.info("saved a screenshot to %s", path)
    return 0


async def _close(window: QObject) -> None:
    aclose = getattr(window, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log.exception("closing %r failed", window)
    if isinstance(window, QWidget):
        window.close()


def _excepthook(bridge: MessageBridge) -> Callable[..., None]:
    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        bridge.report_exception(exc.with_traceback(tb))

    return hook


def _loop_exception_handler(
    bridge: MessageBridge,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, Exception):
            bridge.report_exception(exc, context=str(context.get("message", "")))
        else:
            loop.default_exception_handler(context)

    return handler


class _SignalWakeup:
    """SIGINT/SIGTERM end the program cleanly (a demo backend is stopped too).

    Python runs signal handlers only between bytecodes, never while Qt waits in C; the
    wakeup fd makes the signal readable on a socket that Qt watches. The program ends
    with 128 + the signal's number, as a shell reports it.
    """

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._on_signal = on_signal
        # PyQt takes the descriptor as an int; its stubs say sip.voidptr
        self._notifier = QSocketNotifier(self._read.fileno(),  # type: ignore[call-overload]
                                         QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno())
        self._previous = {sig: signal.signal(sig, lambda *_: None)
                          for sig in (signal.SIGINT, signal.SIGTERM)}

    def _drain(self) -> None:
        try:
            data = self._read.recv(64)
        except BlockingIOError:
            return
        for signum in data:  # the wakeup fd gets one byte per signal: its number
            self._on_signal(signum)

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()


def _quit_on_signals(context: AppContext) -> _SignalWakeup:
    return _SignalWakeup(lambda signum: context.quit(128 + signum))
