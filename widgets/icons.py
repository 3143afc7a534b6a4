"""Semantic icons: the desktop theme's where it has one, else our bundled SVG drawings."""

from __future__ import annotations

import enum
import functools
from pathlib import Path

from PyQt6.QtGui import QIcon

#: the bundled fallbacks (``icons/`` at the top of the tree)
ICON_DIR = Path(__file__).resolve().parent.parent / "icons"


class Icon(enum.StrEnum):
    """Every icon the windows use; the value is the bundled file's name."""

    # power and update state of a qube (always ours: themes have no such icons)
    RUNNING = "state-running"
    PAUSED = "state-paused"
    TRANSIENT = "state-transient"
    BLOCKED = "state-blocked"
    CRASHED = "state-crashed"
    UNKNOWN = "state-unknown"
    OUTDATED = "state-outdated"
    UPDATE = "state-update"
    SKIPPED = "state-skipped"
    EOL = "state-eol"
    PRELOADED = "state-preloaded"
    # marks in menus
    CHECKED = "checked"
    SOME_CHECKED = "some-checked"
    # actions
    NEW = "qube-new"
    DELETE = "qube-delete"
    CLONE = "qube-clone"
    START = "qube-start"
    PAUSE = "qube-pause"
    SHUTDOWN = "qube-shutdown"
    RESTART = "qube-restart"
    KILL = "qube-kill"
    SETTINGS = "qube-settings"
    FIREWALL = "firewall"
    APP_SHORTCUTS = "app-shortcuts"
    UPDATE_QUBE = "qube-update"
    RUN_COMMAND = "run-command"
    CONSOLE = "console"
    LOGS = "logs"
    GLOBAL_CONFIG = "global-config"
    BACKUP = "backup"
    RESTORE = "restore"
    TEMPLATE_SWITCHER = "template-switcher"
    TEMPLATE = "template"
    NETWORK = "network"
    ABOUT = "about"
    EXIT = "exit"
    SEARCH = "search"
    APPLICATION = "qubes-manager"


#: freedesktop icon names tried first (Icon Naming Specification, or Qubes' own theme)
_THEME_NAMES: dict[Icon, str] = {
    Icon.DELETE: "edit-delete",
    Icon.CLONE: "edit-copy",
    Icon.START: "media-playback-start",
    Icon.PAUSE: "media-playback-pause",
    Icon.SHUTDOWN: "system-shutdown",
    Icon.RESTART: "view-refresh",
    Icon.KILL: "process-stop",
    Icon.UPDATE_QUBE: "system-software-update",
    Icon.RUN_COMMAND: "system-run",
    Icon.CONSOLE: "utilities-terminal",
    Icon.ABOUT: "help-about",
    Icon.EXIT: "application-exit",
    Icon.SEARCH: "edit-find",
    Icon.APPLICATION: "qubes-manager",
}


@functools.cache
def icon(name: Icon) -> QIcon:
    """The icon for ``name`` (cached; call only once a QApplication exists)."""
    theme = _THEME_NAMES.get(name)
    if theme is not None and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme)
    return QIcon(str(ICON_DIR / f"{name.value}.svg"))
