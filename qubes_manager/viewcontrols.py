"""``ViewControls``: the View menu, and what the window remembers between runs.

Columns shown and their order, the sort, the Show checkboxes, internal qubes, the
tool and menu bars, the compact tool bar and the window's geometry; loaded from
QSettings when the window opens (``viewsettings``), saved at each change.
"""

from __future__ import annotations

from functools import partial

from PyQt6.QtCore import QObject, QSettings, Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QMainWindow, QMenu, QToolBar

from qubes_manager import viewsettings
from qubes_manager.filterbar import FilterBar
from qubes_manager.messages import MessageBridge
from widgets.columns import COLUMNS, Column
from widgets.columns import tr as column_tr
from widgets.qubefilter import QubeFilterProxy
from widgets.qubetableview import QubeTableView


class ViewControls(QObject):
    """Attributes:
        menu: the View menu.
        column_actions: a checkable entry per column (Name cannot be hidden).
        actions: the checkable entries ``internal``, ``toolbar``, ``menubar``, ``compact``.
    """

    def __init__(self, window: QMainWindow, table: QubeTableView, proxy: QubeFilterProxy,
                 filter_bar: FilterBar, toolbar: QToolBar, context_menu: QMenu,
                 settings: QSettings, bridge: MessageBridge) -> None:
        super().__init__(window)
        self._window = window
        self._table = table
        self._proxy = proxy
        self._filter_bar = filter_bar
        self._toolbar = toolbar
        self._context_menu = context_menu
        self._settings = settings
        self._bridge = bridge
        self._restoring = True
        self.menu = QMenu(self.tr("&View"), window)
        self.menu.setToolTipsVisible(True)
        self.column_actions: dict[Column, QAction] = {}
        self.actions: dict[str, QAction] = {}
        self._init_menu()
        self._connect_signals()

    def _init_menu(self) -> None:
        for spec in COLUMNS:
            action = QAction(column_tr(spec.title), self.menu)
            action.setCheckable(True)
            action.setChecked(True)
            action.setEnabled(spec.hideable)
            self.column_actions[spec.column] = action
            self.menu.addAction(action)
        for key, text, checked in (
                ("internal", self.tr("Show &internal qubes"), False),
                ("toolbar", self.tr("Show &tool bar"), True),
                ("menubar", self.tr("Show &menu bar"), True),
                ("compact", self.tr("&Compact view"), False)):
            action = QAction(text, self._window)
            action.setCheckable(True)
            action.setChecked(checked)
            self.actions[key] = action
        for group in (("internal",), ("toolbar", "menubar"), ("compact",)):
            self.menu.addSeparator()
            for key in group:
                self.menu.addAction(self.actions[key])

    def _connect_signals(self) -> None:
        for column, action in self.column_actions.items():
            action.toggled.connect(partial(self.on_column_toggled, column))
        self.actions["internal"].toggled.connect(self.on_internal_toggled)
        self.actions["toolbar"].toggled.connect(self.on_toolbar_toggled)
        self.actions["menubar"].toggled.connect(self.on_menubar_toggled)
        self.actions["compact"].toggled.connect(self.on_compact_toggled)
        header = self._table.horizontalHeader()
        assert header is not None
        header.sectionMoved.connect(self.save)

    def bars_menu(self) -> QMenu:
        """What a right-click on the tool bar or the menu bar offers (upstream's)."""
        menu = QMenu(self._window)
        menu.addAction(self.actions["toolbar"])
        menu.addAction(self.actions["menubar"])
        return menu

    # --- slots ---------------------------------------------------------------------------
    def on_column_toggled(self, column: Column, visible: bool) -> None:
        self._table.setColumnHidden(column, not visible)
        self.save()

    def on_internal_toggled(self, checked: bool) -> None:
        self._proxy.set_show_internal(checked)
        self.save()

    def on_toolbar_toggled(self, checked: bool) -> None:
        self._toolbar.setVisible(checked)
        self._bars_in_context_menu()
        self.save()

    def on_menubar_toggled(self, checked: bool) -> None:
        menubar = self._window.menuBar()
        assert menubar is not None
        menubar.setVisible(checked)
        self._bars_in_context_menu()
        self.save()

    def on_compact_toggled(self, checked: bool) -> None:
        self._toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly if checked
                                         else Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.save()

    def _bars_in_context_menu(self) -> None:
        """Without the menu bar, the table's context menu offers to bring the bars back."""
        for key in ("toolbar", "menubar"):
            self._context_menu.removeAction(self.actions[key])
        if not self.actions["menubar"].isChecked():
            self._context_menu.addAction(self.actions["toolbar"])
            self._context_menu.addAction(self.actions["menubar"])

    # --- settings ----------------------------------------------------------------------------
    def restore(self) -> None:
        """Apply the stored settings; one warning if some could not be read."""
        view, problems = viewsettings.load(self._settings)
        if problems:
            self._bridge.warning(
                self.tr("Qube Manager settings cannot be read; the display settings that "
                        "could not be read are back to their defaults.\n%1")
                .replace("%1", "\n".join(problems)),
                title=self.tr("Manager settings unreadable"), parent=self._window)
        try:
            for column, action in self.column_actions.items():
                action.setChecked(column not in view.hidden)
                self._table.setColumnHidden(column, column in view.hidden)
            self._table.sortByColumn(view.sort_column, view.sort_order)
            header = self._table.horizontalHeader()
            assert header is not None
            for position, column in enumerate(view.order):
                header.moveSection(header.visualIndex(column), position)
            self._filter_bar.set_show(view.show)
            self._proxy.set_show(view.show)
            self.actions["internal"].setChecked(view.show_internal)
            self.actions["toolbar"].setChecked(view.toolbar_visible)
            self.actions["menubar"].setChecked(view.menubar_visible)
            self.actions["compact"].setChecked(view.compact)
            if view.geometry is None or not self._window.restoreGeometry(view.geometry):
                self._window.resize(view.size)
        finally:
            self._restoring = False

    def current(self) -> viewsettings.ViewSettings:
        header = self._table.horizontalHeader()
        assert header is not None
        return viewsettings.ViewSettings(
            order=sorted(Column, key=header.visualIndex),
            hidden={c for c, a in self.column_actions.items() if not a.isChecked()},
            sort_column=Column(header.sortIndicatorSection()),
            sort_order=header.sortIndicatorOrder(),
            show=self._filter_bar.shown,
            show_internal=self.actions["internal"].isChecked(),
            menubar_visible=self.actions["menubar"].isChecked(),
            toolbar_visible=self.actions["toolbar"].isChecked(),
            compact=self.actions["compact"].isChecked(),
            size=self._window.size(),
            geometry=self._window.saveGeometry(),
        )

    def save(self, *_args: object) -> None:
        if not self._restoring:
            viewsettings.save(self._settings, self.current())
