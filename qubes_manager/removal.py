"""Deleting qubes: refused while anything uses the qube; confirmed by typing its name."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QWidget

from backend.client import AdminClient, SystemCache, actions
from qubes_manager.dependencies import Dependency, dependencies
from qubes_manager.lifecycle import report
from qubes_manager.messages import MessageBridge


def _tr(text: str) -> str:
    return QCoreApplication.translate("Removal", text)


class Removal:
    def __init__(self, client: AdminClient, cache: SystemCache, bridge: MessageBridge,
                 parent: QWidget | None = None) -> None:
        self._client = client
        self._cache = cache
        self._bridge = bridge
        self._parent = parent

    def dependencies(self, name: str) -> list[Dependency]:
        return dependencies(name, self._cache.qubes, self._cache.global_properties)

    async def delete(self, names: Sequence[str]) -> list[str]:
        """Ask about each qube in turn and delete the confirmed ones; returns those.

        As upstream, a qube that something still uses stops the whole action, with
        the list of what uses it.
        """
        confirmed: list[str] = []
        for name in names:
            found = self.dependencies(name)
            if found:
                self._refuse(name, found)
                return []
            typed = await self._bridge.ask_text(
                _tr("Are you sure you want to delete the qube <b>%1</b>?<br>All the data "
                    "on its private storage will be lost!<br><br>Type the name of the "
                    "qube (<b>%1</b>) below to confirm:").replace("%1", name),
                title=_tr("Qube deletion confirmation"), parent=self._parent,
                placeholder=name)
            if typed is None:
                continue
            if typed.strip() != name:
                self._bridge.warning(
                    _tr("The name you typed does not match. %1 is not deleted.")
                    .replace("%1", name),
                    title=_tr("Qube deletion confirmation failed"), parent=self._parent)
                continue
            confirmed.append(name)
        results = await asyncio.gather(*(actions.remove(self._client, name)
                                         for name in confirmed), return_exceptions=True)
        deleted = []
        for name, result in zip(confirmed, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                report(self._bridge, _tr("Cannot delete %1").replace("%1", name), result,
                       self._parent)
            else:
                deleted.append(name)
        return deleted

    def _refuse(self, name: str, found: list[Dependency]) -> None:
        items = "".join(f"<li>{dependency.describe()}</li>" for dependency in found)
        self._bridge.warning(
            _tr("The qube <b>%1</b> cannot be deleted. It is used as:<ul>%2</ul>"
                "<small>To delete it, first change the settings of each qube or global "
                "setting that uses it.</small>").replace("%1", name).replace("%2", items),
            title=_tr("Qube in use"), parent=self._parent)
