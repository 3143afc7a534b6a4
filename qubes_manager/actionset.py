"""The window's actions, declared once: text, icon, shortcut and tooltip of each.

Menus, the toolbar and the context menu all show these same ``QAction`` objects, so
enabling one (``enabling.py``) enables it everywhere. A disabled action's tooltip
says why it is disabled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PyQt6.QtCore import QCoreApplication, QObject
from PyQt6.QtGui import QAction, QKeySequence

from widgets.icons import Icon, icon


class Act(enum.Enum):
    """Every action of the window."""

    NEW = "new"
    DELETE = "delete"
    CLONE = "clone"
    START = "start"
    START_QWT = "start-qwt"
    PAUSE = "pause"
    SHUTDOWN = "shutdown"
    RESTART = "restart"
    KILL = "kill"
    SETTINGS = "settings"
    TEMPLATE_MENU = "template-menu"
    NETWORK_MENU = "network-menu"
    FIREWALL = "firewall"
    APP_SHORTCUTS = "app-shortcuts"
    UPDATE = "update"
    RUN_COMMAND = "run-command"
    CONSOLE = "console"
    LOGS = "logs"
    GLOBAL_CONFIG = "global-config"
    TEMPLATE_SWITCHER = "template-switcher"
    BACKUP = "backup"
    RESTORE = "restore"
    ABOUT = "about"
    EXIT = "exit"
    SEARCH = "search"


#: actions that work on the selected qubes (disabled without a selection)
QUBE_ACTIONS = frozenset({
    Act.DELETE, Act.CLONE, Act.START, Act.START_QWT, Act.PAUSE, Act.SHUTDOWN, Act.RESTART,
    Act.KILL, Act.SETTINGS, Act.TEMPLATE_MENU, Act.NETWORK_MENU, Act.FIREWALL,
    Act.APP_SHORTCUTS, Act.UPDATE, Act.RUN_COMMAND, Act.CONSOLE, Act.LOGS,
})


@dataclass(frozen=True, slots=True)
class ActionSpec:
    text: str
    tooltip: str
    icon: Icon | None = None
    shortcut: QKeySequence.StandardKey | str | None = None


_C = "ManagerWindow"

#: untranslated source texts; translated when the actions are made
SPECS: dict[Act, ActionSpec] = {
    Act.NEW: ActionSpec("&New qube", "Create a new qube", Icon.NEW, "Ctrl+N"),
    Act.DELETE: ActionSpec("&Delete qube", "Delete the selected qubes and their data",
                           Icon.DELETE),
    Act.CLONE: ActionSpec("&Clone qube", "Make a copy of the selected qube", Icon.CLONE),
    Act.START: ActionSpec("&Start/Resume", "Start the selected qubes, or resume them if "
                          "they are paused", Icon.START),
    Act.START_QWT: ActionSpec("Start qube for Windows &Tools installation",
                              "Start the qube with the Qubes Windows Tools installation "
                              "medium as its CD-ROM"),
    Act.PAUSE: ActionSpec("Emergency &pause", "Pause the selected qubes at once "
                          "(their memory is kept, not released)", Icon.PAUSE),
    Act.SHUTDOWN: ActionSpec("S&hutdown", "Shut down the selected qubes", Icon.SHUTDOWN),
    Act.RESTART: ActionSpec("&Restart", "Shut down and start again the selected qubes",
                            Icon.RESTART),
    Act.KILL: ActionSpec("&Kill", "End the selected qubes at once, without shutting "
                         "them down", Icon.KILL),
    Act.SETTINGS: ActionSpec("S&ettings", "Open the settings of the selected qubes",
                             Icon.SETTINGS),
    Act.TEMPLATE_MENU: ActionSpec("&Template", "Change the template of the selected "
                                  "qubes", Icon.TEMPLATE),
    Act.NETWORK_MENU: ActionSpec("&Network", "Change the network qube of the selected "
                                 "qubes", Icon.NETWORK),
    Act.FIREWALL: ActionSpec("Edit &firewall", "Edit the firewall rules of the selected "
                             "qubes", Icon.FIREWALL),
    Act.APP_SHORTCUTS: ActionSpec("&App shortcuts", "Choose the applications of the "
                                  "selected qubes shown in the menu", Icon.APP_SHORTCUTS),
    Act.UPDATE: ActionSpec("&Update", "Update the selected qubes", Icon.UPDATE_QUBE),
    Act.RUN_COMMAND: ActionSpec("R&un command in qube", "Run a command in the selected "
                                "qubes", Icon.RUN_COMMAND),
    Act.CONSOLE: ActionSpec("Open c&onsole in qube", "Open the text console of the "
                            "selected qube", Icon.CONSOLE),
    Act.LOGS: ActionSpec("&Logs", "Show the logs of the selected qubes", Icon.LOGS),
    Act.GLOBAL_CONFIG: ActionSpec("&Global config", "Settings of the whole system",
                                  Icon.GLOBAL_CONFIG),
    Act.TEMPLATE_SWITCHER: ActionSpec("&Manage templates for qubes", "Switch the "
                                      "templates of many qubes at once",
                                      Icon.TEMPLATE_SWITCHER),
    Act.BACKUP: ActionSpec("&Backup qubes", "Back up qubes", Icon.BACKUP),
    Act.RESTORE: ActionSpec("&Restore qubes from backup", "Restore qubes from a backup",
                            Icon.RESTORE),
    Act.ABOUT: ActionSpec("&Qubes OS", "About this system", Icon.ABOUT),
    Act.EXIT: ActionSpec("E&xit Qube Manager", "Close the Qube Manager", Icon.EXIT,
                         "Ctrl+Q"),
    Act.SEARCH: ActionSpec("&Search", "Search qubes by name", Icon.SEARCH, "Ctrl+F"),
}

#: what the toolbar buttons say (shorter than the menu entries)
SHORT_TEXTS: dict[Act, str] = {
    Act.NEW: "New qube", Act.DELETE: "Delete", Act.START: "Start", Act.PAUSE: "Pause",
    Act.SHUTDOWN: "Shutdown", Act.RESTART: "Restart", Act.SETTINGS: "Settings",
    Act.FIREWALL: "Firewall", Act.APP_SHORTCUTS: "Apps", Act.UPDATE: "Update",
    Act.CONSOLE: "Console", Act.GLOBAL_CONFIG: "Global config", Act.BACKUP: "Backup",
    Act.RESTORE: "Restore",
}


def translate(text: str) -> str:
    return QCoreApplication.translate(_C, text)


def make_actions(parent: QObject) -> dict[Act, QAction]:
    """One QAction per :class:`Act`, parented to ``parent``."""
    actions: dict[Act, QAction] = {}
    for act, spec in SPECS.items():
        action = QAction(translate(spec.text), parent)
        action.setObjectName(f"action-{act.value}")
        action.setStatusTip(translate(spec.tooltip))
        action.setToolTip(translate(spec.tooltip))
        if spec.icon is not None:
            action.setIcon(icon(spec.icon))
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if act in SHORT_TEXTS:
            action.setIconText(translate(SHORT_TEXTS[act]))
        actions[act] = action
    return actions


def set_enabled(action: QAction, act: Act, reason: str | None) -> None:
    """Enable ``action``, or disable it with ``reason`` appended to its tooltip."""
    tooltip = translate(SPECS[act].tooltip)
    action.setEnabled(reason is None)
    if reason is None:
        action.setToolTip(tooltip)
    else:
        action.setToolTip(translate("%1\n(Not available: %2)").replace("%1", tooltip)
                          .replace("%2", reason))
