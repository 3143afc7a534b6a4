"""``ShutdownMonitor``: a qube asked to shut down that is still running after its
``shutdown_timeout`` → ask the user: kill it, wait longer, or stop asking.

Upstream polls every second; here the monitor waits on the cache's events, so it
knows the moment the qube halts, and a question still open then is taken away. A
restart is a shutdown watched with ``restart=True``: the qube starts again once it
has halted.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QMessageBox, QWidget

from backend.client import AdminClient, CacheListener, QubeSnapshot, SystemCache, actions
from backend.client.errors import QubesVMNotStartedError
from qubes_manager.messages import Choice, MessageBridge

log = logging.getLogger("gui")

DEFAULT_TIMEOUT = 60.0
#: how long to wait for a killed qube to be reported halted before restarting it
KILL_SETTLE = 30.0


class Answer(enum.Enum):
    KILL = "kill"
    WAIT = "wait"
    STOP_ASKING = "stop-asking"
    HALTED = "halted"  # not an answer: the qube halted while the question was open


def _tr(text: str) -> str:
    return QCoreApplication.translate("ShutdownMonitor", text)


class _Listener(CacheListener):
    def __init__(self, monitor: ShutdownMonitor) -> None:
        self._monitor = monitor

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        if not new.is_running:
            self._monitor.on_stopped(new.name)

    def qube_removed(self, qube: QubeSnapshot) -> None:
        self._monitor.on_stopped(qube.name)


Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class ShutdownMonitor:
    """Watches shutting-down qubes; ``spawn`` runs a watch as a task the window owns."""

    def __init__(self, cache: SystemCache, client: AdminClient, bridge: MessageBridge,
                 spawn: Spawn, parent: QWidget | None = None) -> None:
        self._cache = cache
        self._client = client
        self._bridge = bridge
        self._spawn = spawn
        self._parent = parent
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._watching: dict[str, asyncio.Task[Any]] = {}
        self.remove_listener = cache.add_listener(_Listener(self))

    def __repr__(self) -> str:
        return f"<ShutdownMonitor watching {sorted(self._watching)}>"

    def is_watching(self, name: str) -> bool:
        return name in self._watching

    def watch(self, name: str, *, timeout: float | None = None,
              restart: bool = False) -> asyncio.Task[Any]:
        """Watch ``name``, which was just asked to shut down."""
        previous = self._watching.pop(name, None)
        if previous is not None:
            previous.cancel()
        if timeout is None:
            qube = self._cache.get(name)
            timeout = float(qube.int_prop("shutdown_timeout", int(DEFAULT_TIMEOUT))) \
                if qube is not None else DEFAULT_TIMEOUT
        what = (_tr("Cannot restart %1") if restart else _tr("Shutting down %1")) \
            .replace("%1", name)
        task = self._spawn(self._watch(name, timeout, restart), what)
        self._watching[name] = task
        task.add_done_callback(lambda t: self._forget(name, t))
        return task

    def _forget(self, name: str, task: asyncio.Task[Any]) -> None:
        if self._watching.get(name) is task:
            del self._watching[name]

    def on_stopped(self, name: str) -> None:
        for future in self._waiters.pop(name, []):
            if not future.done():
                future.set_result(None)

    # --- the watch ---------------------------------------------------------------------
    async def _watch(self, name: str, timeout: float, restart: bool) -> None:
        while not await self._halted_within(name, timeout):
            answer = await self._ask(name, timeout)
            log.debug("shutdown of %s: %s", name, answer)
            if answer is Answer.HALTED or answer is Answer.WAIT:
                continue
            if answer is Answer.STOP_ASKING:
                return
            try:
                await actions.kill(self._client, name)
            except QubesVMNotStartedError:
                pass  # it halted while the user was deciding
            if not await self._halted_within(name, KILL_SETTLE):
                return
            break
        if restart and self._cache.get(name) is not None:
            await actions.start(self._client, name)

    def _stopped_future(self, name: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        qube = self._cache.get(name)
        if qube is None or not qube.is_running:
            future.set_result(None)
        else:
            self._waiters.setdefault(name, []).append(future)
        return future

    async def _halted_within(self, name: str, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._stopped_future(name), timeout)
        except TimeoutError:
            return False
        return True

    async def _ask(self, name: str, timeout: float) -> Answer:
        seconds = str(int(timeout))
        text = _tr("The qube <b>%1</b> has not shut down within %2 seconds. "
                   "Do you want to kill it?").replace("%1", name).replace("%2", seconds)
        choices = [
            Choice(Answer.KILL.value, _tr("Kill it!"), QMessageBox.ButtonRole.DestructiveRole),
            Choice(Answer.WAIT.value, _tr("Wait another %1 seconds…").replace("%1", seconds),
                   QMessageBox.ButtonRole.NoRole),
            Choice(Answer.STOP_ASKING.value, _tr("Don't ask again"),
                   QMessageBox.ButtonRole.RejectRole),
        ]
        question = asyncio.ensure_future(self._bridge.choose(
            text, choices, title=_tr("Qube shutdown"), parent=self._parent,
            default=Answer.WAIT.value, escape=Answer.STOP_ASKING.value))
        stopped = self._stopped_future(name)
        either: set[asyncio.Future[Any]] = {question, stopped}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not question.done():
                question.cancel()  # the bridge takes the box away
                await asyncio.gather(question, return_exceptions=True)
            if not stopped.done():
                stopped.cancel()
        if stopped.done() and not stopped.cancelled():
            return Answer.HALTED
        return Answer(question.result() or Answer.STOP_ASKING.value)
