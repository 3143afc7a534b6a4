"""Actions that start other programs: settings, new qube, clone, backup, restore,
update, template switcher, global config; and those that need a guest agent: run a
command, open a console, read the logs, start with the Windows Tools medium."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QWidget

from qubes_manager.logdialog import LogDialog, log_files
from qubes_manager.messages import MessageBridge
from qubes_manager.tools import QWT_ISO, Tool, ToolError, Tools

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


def _tr(text: str) -> str:
    return QCoreApplication.translate("Launcher", text)


class Launcher:
    def __init__(self, tools: Tools, bridge: MessageBridge, spawn: Spawn,
                 parent: QWidget | None = None) -> None:
        self.tools = tools
        self._bridge = bridge
        self._spawn = spawn
        self._parent = parent
        self._single: dict[Tool, asyncio.Task[Any]] = {}
        #: log viewers open now (kept so that they are not garbage-collected)
        self.log_dialogs: list[LogDialog] = []

    def launch(self, tool: Tool, args: Sequence[str] = (), *,
               single: bool = False) -> asyncio.Task[Any] | None:
        """Start ``tool``; ``single``: not while an instance started here still runs."""
        running = self._single.get(tool)
        if single and running is not None and not running.done():
            return None
        task = self._spawn(self._run(tool, list(args)),
                           _tr("Running %1").replace("%1", tool.value))
        if single:
            self._single[tool] = task
        return task

    async def _run(self, tool: Tool, args: list[str]) -> None:
        try:
            await self.tools.run(tool, args)
        except ToolError as exc:
            self._bridge.error(str(exc), title=_tr("%1 failed").replace("%1", tool.value),
                               parent=self._parent)

    # --- per qube ------------------------------------------------------------------------
    def settings(self, names: Sequence[str], tab: str = "basic") -> None:
        for name in names:
            self.launch(Tool.SETTINGS, [name, "--tab", tab])

    def clone(self, names: Sequence[str]) -> None:
        for name in names:
            self.launch(Tool.CLONE, [name])

    def update(self, names: Sequence[str]) -> None:
        if names:
            self.launch(Tool.UPDATE, ["--targets", ",".join(names)])

    def console(self, names: Sequence[str]) -> None:
        for name in names:
            self.launch(Tool.CONSOLE, [name])

    async def run_command(self, names: Sequence[str]) -> None:
        for name in names:
            command = await self._bridge.ask_text(
                _tr("Run command in <b>%1</b>:").replace("%1", name),
                title=_tr("Run command"), parent=self._parent)
            if not command:
                return
            self.launch(Tool.RUN, [name, command])

    def start_with_windows_tools(self, names: Sequence[str], iso: Path = QWT_ISO) -> None:
        if not iso.exists():
            self._bridge.warning(_tr("Qubes Windows Tools are not installed in dom0 (%1 "
                                     "is missing).").replace("%1", str(iso)),
                                 title=_tr("Windows Tools not found"), parent=self._parent)
            return
        for name in names:
            self.launch(Tool.START, ["--cdrom", f"dom0:{iso}", name])

    def logs(self, qubes: Sequence[tuple[str, bool]]) -> LogDialog | None:
        """``qubes``: (name, is dom0) of each; shows the log files that exist."""
        paths = [path for name, is_admin in qubes for path in log_files(name, is_admin)
                 if path.exists()]
        if not paths:
            self._bridge.warning(_tr("No log files were found for the selected qubes."),
                                 title=_tr("Logs"), parent=self._parent)
            return None
        dialog = LogDialog(paths, self._parent)
        dialog.finished.connect(lambda _result: self._forget(dialog))
        self.log_dialogs.append(dialog)
        dialog.show()
        return dialog

    def _forget(self, dialog: LogDialog) -> None:
        if dialog in self.log_dialogs:
            self.log_dialogs.remove(dialog)
        dialog.deleteLater()
