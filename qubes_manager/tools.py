"""The other programs the Qube Manager starts, found on PATH (or beside our Python).

Settings, new qube, clone, backup, restore, update, the template switcher and global
config are separate programs, as upstream; so are the console and "run command"
helpers of Qubes (``qvm-console-dispvm``, ``qvm-run``). A program that is not
installed leaves its action disabled, with a tooltip that says so.

Programs run with ``asyncio.create_subprocess_exec``; the window's task waits for
them and reports a failure with what the program wrote on stderr. When we talk to a
socket of our own (``--socket``, the demo), they get it as ``QUBESD_SOCKET``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from PyQt6.QtCore import QCoreApplication

from backend.client import UnixTransport
from qubes_manager.backend_connect import SOCKET_ENV, BackendConnection, BackendKind

log = logging.getLogger("gui")

#: how much of a failing program's stderr to show
STDERR_TAIL = 2000
#: where Qubes keeps the Windows Tools installation medium
QWT_ISO = Path("/usr/lib/qubes/qubes-windows-tools.iso")


class Tool(enum.Enum):
    SETTINGS = "qubes-vm-settings"
    CREATE = "qubes-vm-create"
    CLONE = "qubes-vm-clone"
    BACKUP = "qubes-backup"
    RESTORE = "qubes-backup-restore"
    UPDATE = "qubes-update-gui"
    TEMPLATE_SWITCHER = "qubes-template-manager"
    GLOBAL_CONFIG = "qubes-global-config"
    CONSOLE = "qvm-console-dispvm"
    RUN = "qvm-run"
    START = "qvm-start"


class ToolError(Exception):
    """A program failed; the message (with its stderr) is for the user."""


def _tr(text: str) -> str:
    return QCoreApplication.translate("Tools", text)


class Tools:
    """Where each program is, and how to start one."""

    def __init__(self, connection: BackendConnection | None = None, *,
                 env: Mapping[str, str] | None = None,
                 paths: Mapping[Tool, str | None] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        if connection is not None and connection.kind in (BackendKind.SOCKET, BackendKind.DEMO) \
                and isinstance(connection.transport, UnixTransport):
            self._env[SOCKET_ENV] = connection.transport.path
        search = os.pathsep.join(p for p in (self._env.get("PATH", os.defpath),
                                             str(Path(sys.executable).parent)) if p)
        self._paths = dict(paths) if paths is not None else {
            tool: shutil.which(tool.value, path=search) for tool in Tool}

    def path(self, tool: Tool) -> str | None:
        return self._paths.get(tool)

    def missing(self, tool: Tool) -> str | None:
        """Why ``tool`` cannot be used (None: it can)."""
        if self._paths.get(tool) is None:
            return _tr("%1 is not installed").replace("%1", tool.value)
        return None

    async def run(self, tool: Tool, args: Sequence[str]) -> None:
        """Run ``tool`` until it exits; raises ToolError when it fails."""
        path = self._paths.get(tool)
        if path is None:
            raise ToolError(self.missing(tool))
        log.info("starting %s %s", tool.value, " ".join(args))
        try:
            process = await asyncio.create_subprocess_exec(
                path, *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                env=self._env)
        except OSError as exc:
            raise ToolError(_tr("Cannot start %1: %2").replace("%1", tool.value)
                            .replace("%2", exc.strerror or str(exc))) from exc
        # cancelled (the window closes): the program keeps running, it is the user's now
        _, stderr = await process.communicate()
        if process.returncode:
            tail = stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
            text = _tr("%1 ended with status %2").replace("%1", tool.value) \
                .replace("%2", str(process.returncode))
            raise ToolError(f"{text}\n{tail}" if tail else text)


def guest_agent_missing(connection: BackendConnection | None) -> str | None:
    """Why commands, consoles and logs of guests are unavailable (None: they may be).

    The demo system runs on libvirt's test driver: its qubes are domains with no
    operating system inside, hence no qrexec agent, no console and no guest logs.
    """
    if connection is not None and connection.is_demo:
        return _tr("the demo system's qubes have no operating system inside "
                   "(libvirt's test driver), so no guest agent, console or logs")
    return None
