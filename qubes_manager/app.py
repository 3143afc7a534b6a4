"""The bootstrap every GUI program shares: ``run_gui(window_factory, argv)``.

It creates the QApplication and the one qasync event loop, installs the translators
for the system locale, the message bridge and the handlers of unexpected errors,
connects to the backend (``backend_connect``), builds the program's main object with
the factory, and runs until the program quits; then it closes the main object and
stops a demo backend it started.

Common options: ``--socket PATH`` (the Admin API socket to use) and ``--screenshot
FILE`` (save a PNG of the main window once it has loaded its data, then exit 0).

Messages for the user go through the one ``MessageBridge`` of the program
(``context.bridge``, defined in ``qubes_manager.messages`` and importable from here):
errors, warnings, information, and questions (``confirm``, ``choose``, ``ask_text``).

A main object may offer (all optional):

* ``loaded`` — a signal emitted once its data is shown; ``is_loaded`` — already so;
* ``async aclose()`` — awaited before exit, to cancel its tasks and close caches.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import signal
import socket
import sys
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
)
from PyQt6.QtWidgets import QApplication, QWidget

from backend.client import AdminClient
from qubes_manager.backend_connect import BackendConnection, BackendError, connect_backend
from qubes_manager.messages import Choice, Message, MessageBridge, MessageLevel

log = logging.getLogger("gui")

#: the bridge's names, importable from here as before they moved to ``messages``
__all__ = ["AppContext", "Choice", "GuiOptions", "Message", "MessageBridge", "MessageLevel",
           "install_translators", "next_emission", "parse_options", "run_gui"]

ORGANIZATION = "qubes-os"
ORGANIZATION_DOMAIN = "qubes-os.org"
#: base name of our Qt Linguist files: ``translations/qubes_desktop_<locale>.qm``
TRANSLATION_NAME = "qubes_desktop"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SCREENSHOT_TIMEOUT = 120.0


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
