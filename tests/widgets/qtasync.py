"""Helpers for widget tests that run coroutines on a qasync loop, as the programs do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import qasync
from PyQt6.QtCore import pyqtBoundSignal
from PyQt6.QtWidgets import QApplication

T = TypeVar("T")
TIMEOUT = 30.0


def run_qt(qapp: QApplication, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run a test coroutine on a qasync loop, as the programs do (``run_gui``)."""
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)  # as in run_gui: windows come and go in tests
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        asyncio.set_event_loop(None)
        qapp.setQuitOnLastWindowClosed(quit_on_close)


async def until(condition: Callable[[], bool], signal: pyqtBoundSignal,
                timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds, checking again after each emission of ``signal``."""
    emitted = asyncio.Event()

    def on_emitted(*_args: object) -> None:
        emitted.set()

    signal.connect(on_emitted)
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                emitted.clear()
                await emitted.wait()
    finally:
        signal.disconnect(on_emitted)
