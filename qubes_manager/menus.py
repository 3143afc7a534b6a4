"""The menu bar, tool bar and table context menu, laid out as upstream's (§2.7), and
``ChoiceMenu``, the Template ▸ and Network ▸ submenus."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QAction, QIcon
from PyQt6.QtWidgets import QMenu, QMenuBar, QToolBar, QWidget

from qubes_manager.actionset import Act, translate
from widgets.icons import Icon, icon

Actions = dict[Act, QAction]
#: None stands for a separator
Layout = Sequence[Act | None]

QUBE_MENU: Layout = (
    Act.NEW, Act.DELETE, Act.CLONE, None,
    Act.START, Act.START_QWT, Act.PAUSE, Act.SHUTDOWN, Act.RESTART, Act.KILL, None,
    Act.SETTINGS, Act.TEMPLATE_MENU, Act.NETWORK_MENU, Act.FIREWALL, Act.APP_SHORTCUTS,
    Act.UPDATE, Act.RUN_COMMAND, Act.CONSOLE, None,
    Act.LOGS,
)
SYSTEM_MENU: Layout = (Act.GLOBAL_CONFIG, Act.TEMPLATE_SWITCHER, Act.BACKUP, Act.RESTORE,
                       None, Act.EXIT)
TOOLBAR: Layout = (
    Act.NEW, Act.DELETE, None,
    Act.START, Act.PAUSE, Act.SHUTDOWN, Act.RESTART, None,
    Act.SETTINGS, Act.FIREWALL, Act.APP_SHORTCUTS, Act.UPDATE, Act.CONSOLE, None,
    Act.GLOBAL_CONFIG, Act.BACKUP, Act.RESTORE,
)
CONTEXT_MENU: Layout = (
    Act.SETTINGS, Act.TEMPLATE_MENU, Act.NETWORK_MENU, Act.FIREWALL, Act.APP_SHORTCUTS,
    None,
    Act.UPDATE, Act.RUN_COMMAND, Act.CONSOLE, Act.START, Act.START_QWT, Act.PAUSE,
    Act.SHUTDOWN, Act.RESTART, Act.KILL, None,
    Act.CLONE, Act.DELETE, None,
    Act.LOGS,
)


def fill(target: QMenu | QToolBar, actions: Actions, layout: Layout) -> None:
    for act in layout:
        if act is None:
            target.addSeparator()
        else:
            target.addAction(actions[act])


def build_menubar(menubar: QMenuBar, actions: Actions, view_menu: QMenu) -> dict[str, QMenu]:
    """System, Qube, View (given, filled by the window) and About."""
    system = QMenu(translate("&System"), menubar)
    fill(system, actions, SYSTEM_MENU)
    qube = QMenu(translate("&Qube"), menubar)
    fill(qube, actions, QUBE_MENU)
    about = QMenu(translate("&About"), menubar)
    about.addAction(actions[Act.ABOUT])
    for menu in (system, qube, view_menu, about):
        menu.setToolTipsVisible(True)  # a disabled entry's tooltip says why
        menubar.addMenu(menu)
    return {"system": system, "qube": qube, "view": view_menu, "about": about}


class ChoiceMenu(QMenu):
    """A submenu of choices; the current value of the selection is marked.

    One selected qube: its value gets a check mark; several: each of their values
    gets a "some" mark, as upstream.

    Signals:
        chosen(object): the key of the entry the user picked.
    """

    chosen = pyqtSignal(object)

    def __init__(self, title: str, menu_icon: Icon, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.setIcon(icon(menu_icon))
        self._keys: dict[QAction, Hashable] = {}
        self.triggered.connect(self._on_triggered)

    def set_entries(self, entries: Sequence[tuple[Hashable, str]],
                    current: Sequence[Hashable], selected: int) -> None:
        self.clear()
        self._keys.clear()
        mark = icon(Icon.CHECKED) if selected == 1 else icon(Icon.SOME_CHECKED)
        for key, text in entries:
            action = self.addAction(text)
            assert action is not None
            action.setIcon(mark if key in current else QIcon())
            self._keys[action] = key
        if not entries:
            empty = self.addAction(self.tr("(none)"))
            assert empty is not None
            empty.setEnabled(False)

    def entries(self) -> list[tuple[Hashable, str, bool]]:
        """(key, text, marked) of each entry: for tests and accessibility."""
        return [(key, action.text(), not action.icon().isNull())
                for action, key in self._keys.items()]

    def trigger_key(self, key: Hashable) -> None:
        for action, value in self._keys.items():
            if value == key:
                action.trigger()
                return
        raise KeyError(key)

    def _on_triggered(self, action: QAction) -> None:
        if action in self._keys:
            self.chosen.emit(self._keys[action])
