"""Start/resume, pause, shutdown, restart and kill, with upstream's confirmations.

Each method works on a list of qube names and asks once for all of them (users asked
for one question per action rather than one per qube, qubes-issues#6443). Failures
are reported per qube, through the message bridge, with the qube named. The table
learns about the results from the events, never from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QMessageBox, QWidget

from backend.client import AdminClient, PowerState, ShutdownMode, SystemCache, actions
from qubes_manager.dependencies import running_clients
from qubes_manager.messages import Choice, MessageBridge
from qubes_manager.shutdownmonitor import ShutdownMonitor
from qubes_manager.tasks import EXPECTED

_PAUSED = (PowerState.PAUSED, PowerState.SUSPENDED)


def _tr(text: str) -> str:
    return QCoreApplication.translate("Lifecycle", text)


def bold_list(names: Sequence[str]) -> str:
    return ", ".join(f"<b>{name}</b>" for name in names)


class Lifecycle:
    """The lifecycle actions of the window, as coroutines the window runs as tasks."""

    def __init__(self, client: AdminClient, cache: SystemCache, bridge: MessageBridge,
                 monitor: ShutdownMonitor, parent: QWidget | None = None) -> None:
        self._client = client
        self._cache = cache
        self._bridge = bridge
        self._monitor = monitor
        self._parent = parent

    # --- start, pause -------------------------------------------------------------------
    async def start(self, names: Sequence[str]) -> None:
        """Resume the paused ones, start the halted ones."""
        async def one(name: str) -> None:
            qube = self._cache.get(name)
            if qube is not None and qube.state in _PAUSED:
                await actions.unpause(self._client, name)
            elif qube is None or not qube.is_running:
                await actions.start(self._client, name)

        await self._each(names, one, _tr("Cannot start %1"))

    async def pause(self, names: Sequence[str]) -> None:
        async def one(name: str) -> None:
            await actions.pause(self._client, name)

        await self._each(names, one, _tr("Cannot pause %1"))

    # --- shutdown, restart, kill ---------------------------------------------------------
    async def shutdown(self, names: Sequence[str]) -> None:
        """Confirm; offer to shut down the running qubes connected to them too."""
        if not names:
            return
        if not await self._bridge.confirm(
                _tr("Do you want to shut down %1?<br><small>This will shut down all the "
                    "applications running in it.</small>").replace("%1", bold_list(names)),
                title=_tr("Qube shutdown confirmation"), parent=self._parent):
            return
        clients = running_clients(names, self._cache.qubes)
        mode = ShutdownMode.NORMAL
        if clients:
            choice = await self._bridge.choose(
                _tr("These running qubes are connected to %1 through the network: %2."
                    "<br>Shut them down too?").replace("%1", bold_list(names))
                .replace("%2", bold_list(clients)),
                [Choice("all", _tr("Shut them down too"), QMessageBox.ButtonRole.YesRole),
                 Choice("cancel", _tr("Cancel"), QMessageBox.ButtonRole.RejectRole)],
                title=_tr("Qube shutdown confirmation"), parent=self._parent,
                default="cancel", escape="cancel")
            if choice != "all":
                return
            mode = ShutdownMode.FORCE
            await self._shutdown_each(clients, mode)
        await self._shutdown_each(names, mode)

    async def _shutdown_each(self, names: Sequence[str], mode: ShutdownMode,
                             restart: bool = False) -> None:
        async def one(name: str) -> None:
            await actions.shutdown(self._client, name, mode)
            self._monitor.watch(name, restart=restart)

        await self._each(names, one, _tr("Cannot restart %1") if restart
                         else _tr("Cannot shut down %1"))

    async def restart(self, names: Sequence[str]) -> None:
        if not names or not await self._bridge.confirm(
                _tr("Do you want to restart %1?<br><small>This will shut down all the "
                    "applications running in it.</small>").replace("%1", bold_list(names)),
                title=_tr("Qube restart confirmation"), parent=self._parent):
            return
        running = [n for n in names if (q := self._cache.get(n)) is not None and q.is_running]
        halted = [n for n in names if n not in running]
        await asyncio.gather(self._shutdown_each(running, ShutdownMode.FORCE, restart=True),
                             self.start(halted))

    async def kill(self, names: Sequence[str]) -> None:
        if not names:
            return
        stopped = [n for n in names if (q := self._cache.get(n)) is None or not q.is_running]
        if stopped and len(stopped) == len(names):
            text = _tr("%1 is not running. Are you absolutely sure you want to try to kill "
                       "it?<br><small>This will end <b>(not shut down!)</b> all the "
                       "applications running in it.</small>")
        else:
            text = _tr("Do you want to kill %1?<br><small>This will end <b>(not shut "
                       "down!)</b> all the applications running in it.</small>")
        if not await self._bridge.confirm(text.replace("%1", bold_list(names)),
                                          title=_tr("Qube kill confirmation"),
                                          parent=self._parent, warning=True):
            return

        async def one(name: str) -> None:
            await actions.kill(self._client, name)

        await self._each(names, one, _tr("Cannot kill %1"))

    # --- errors --------------------------------------------------------------------------
    async def _each(self, names: Sequence[str], action: Callable[[str], Awaitable[None]],
                    failure: str) -> None:
        """Run ``action`` for every name at once; report each failure naming its qube."""
        results = await asyncio.gather(*(action(name) for name in names),
                                       return_exceptions=True)
        for name, result in zip(names, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if isinstance(result, asyncio.CancelledError):
                raise result
            report(self._bridge, failure.replace("%1", name), result, self._parent)


def report(bridge: MessageBridge, what: str, exc: BaseException,
           parent: QWidget | None = None) -> None:
    """An action on a qube failed: the daemon's message, or an unexpected-error report."""
    if isinstance(exc, EXPECTED):
        bridge.error(bridge.tr("%1:\n%2").replace("%1", what)
                     .replace("%2", str(exc) or type(exc).__name__), parent=parent)
    else:
        bridge.report_exception(exc, context=what, parent=parent)
