"""``TaskGroup``: the asyncio tasks a window owns, reported when they fail, cancelled on close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PyQt6.QtWidgets import QWidget

from backend.client import QubesDaemonCommunicationError, QubesException
from backend.client.errors import PermissionDenied, ProtocolError
from qubes_manager.messages import MessageBridge

log = logging.getLogger("gui")

#: errors the daemon answered with: their message is for the user
EXPECTED = (QubesException, PermissionDenied, ProtocolError, QubesDaemonCommunicationError)


class TaskGroup:
    """Spawns tasks, keeps a reference to each until it ends, and reports failures.

    An expected error (one the daemon sent, or a lost connection) is shown with the
    ``what`` of the task in front ("Cannot start work: …"); anything else is a bug and
    goes to the bridge's unexpected-error report with its traceback.
    """

    def __init__(self, bridge: MessageBridge, parent: QWidget | None = None) -> None:
        self._bridge = bridge
        self._parent = parent
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"<TaskGroup {len(self._tasks)} running>"

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run ``coro``; ``what`` says what it does, for the user ("Cannot start work")."""
        if self._closed:
            coro.close()
            raise RuntimeError("the window is closing")
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if isinstance(exc, EXPECTED):
            log.info("%s: %s", task.get_name(), exc)
            text = self._bridge.tr("%1:\n%2").replace("%1", task.get_name()) \
                .replace("%2", str(exc) or type(exc).__name__)
            self._bridge.error(text, parent=self._parent)
        else:
            self._bridge.report_exception(exc, context=task.get_name(), parent=self._parent)

    async def close(self) -> None:
        """Cancel every task and wait until they have ended."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
