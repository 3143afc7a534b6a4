"""``ManagerWindow``: the Qube Manager (``qubes-qube-manager``), ``qubes-manager.md`` §2.

The window shows itself at once and loads in the background: the cache opens the
event stream, reads the system (one bulk call on our daemon, ``admin.vm.List`` and a
``GetAll`` per qube on a real qubesd), and the table fills in one go. From then on
every event changes the one row it concerns; CPU and memory come from the stats
stream, disk usage is read for the rows on screen. The window owns every task it
starts and cancels them when it closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from PyQt6.QtCore import QEvent, QPoint, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from backend.client import CacheListener, SystemCache, actions
from qubes_manager import benchprobe, enabling
from qubes_manager.about import about_text
from qubes_manager.actionset import Act, make_actions, set_enabled, translate
from qubes_manager.app import AppContext
from qubes_manager.diskusage import DiskUsageLoader
from qubes_manager.filterbar import FilterBar
from qubes_manager.launcher import Launcher
from qubes_manager.lifecycle import Lifecycle
from qubes_manager.menus import CONTEXT_MENU, TOOLBAR, ChoiceMenu, build_menubar, fill
from qubes_manager.panels import Panels
from qubes_manager.removal import Removal
from qubes_manager.shutdownmonitor import ShutdownMonitor
from qubes_manager.statsfeed import StatsFeed
from qubes_manager.switching import (
    NetChoice,
    Switching,
    current_network,
    default_netvm,
    network_choices,
    templates,
)
from qubes_manager.tablefeed import TableFeed
from qubes_manager.tasks import TaskGroup
from qubes_manager.tools import Tool, Tools, guest_agent_missing
from qubes_manager.viewcontrols import ViewControls
from widgets.columns import Column
from widgets.icons import Icon, icon
from widgets.qubefilter import QubeFilterProxy, Show
from widgets.quberow import QubeRow
from widgets.qubetable import QubeTableModel
from widgets.qubetableview import QubeTableView
from widgets.stateicon import StateIconDelegate
from widgets.usagebar import UsageBarDelegate

log = logging.getLogger("gui")

#: the features the table reads (the per-qube fallback loads only these)
WANTED_FEATURES = frozenset({"internal", "prohibit-start", "servicevm", "skip-update",
                             "updates-available", "os-eol", "whonix-gw",
                             "os-distribution"})
#: how long ``loaded`` waits for the disk usage of the rows on screen
DISK_WAIT = 3.0

#: which program each action starts
ACTION_TOOLS = {
    Act.NEW: Tool.CREATE, Act.CLONE: Tool.CLONE, Act.SETTINGS: Tool.SETTINGS,
    Act.FIREWALL: Tool.SETTINGS, Act.APP_SHORTCUTS: Tool.SETTINGS, Act.UPDATE: Tool.UPDATE,
    Act.CONSOLE: Tool.CONSOLE, Act.RUN_COMMAND: Tool.RUN, Act.START_QWT: Tool.START,
    Act.BACKUP: Tool.BACKUP, Act.RESTORE: Tool.RESTORE,
    Act.TEMPLATE_SWITCHER: Tool.TEMPLATE_SWITCHER, Act.GLOBAL_CONFIG: Tool.GLOBAL_CONFIG,
}
#: actions that need an agent inside the qube
GUEST_ACTIONS = (Act.RUN_COMMAND, Act.CONSOLE, Act.LOGS, Act.START_QWT)


class ManagerWindow(QMainWindow):
    """Signals:
        loaded(): the table is filled, features and tags are in, and the disk usage
            of the rows on screen was read (or took too long).
    """

    loaded = pyqtSignal()

    def __init__(self, context: AppContext, *, settings: QSettings | None = None,
                 tools: Tools | None = None) -> None:
        super().__init__()
        self.context = context
        self.bridge = context.bridge
        self.settings = settings if settings is not None else QSettings()
        self.is_loaded = False
        self.cache = SystemCache(context.client, features=WANTED_FEATURES)
        self.tasks = TaskGroup(self.bridge, self)
        self.model = QubeTableModel(self)
        self.proxy = QubeFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QubeTableView(self)
        self.table.setModel(self.proxy)
        self.filter_bar = FilterBar(self)
        self.acts = make_actions(self)
        self.template_menu = ChoiceMenu(translate("&Template"), Icon.TEMPLATE, self)
        self.network_menu = ChoiceMenu(translate("&Network"), Icon.NETWORK, self)
        self._adopt_submenu(Act.TEMPLATE_MENU, self.template_menu)
        self._adopt_submenu(Act.NETWORK_MENU, self.network_menu)
        self.toolbar = QToolBar(self.tr("Tool bar"), self)
        self.context_menu = QMenu(self)
        self.settings_view = ViewControls(self, self.table, self.proxy, self.filter_bar,
                                          self.toolbar, self.context_menu, self.settings,
                                          self.bridge)
        self.status_counts = QLabel(self)
        self.status_connection = QLabel(self)

        self.feed = TableFeed(self.cache, self.model)
        self.monitor = ShutdownMonitor(self.cache, context.client, self.bridge,
                                       self.tasks.spawn, self)
        self.lifecycle = Lifecycle(context.client, self.cache, self.bridge, self.monitor, self)
        self.removal = Removal(context.client, self.cache, self.bridge, self)
        self.switching = Switching(context.client, self.cache, self.bridge, self)
        self.tools = tools if tools is not None else Tools(context.connection)
        self.launcher = Launcher(self.tools, self.bridge, self.tasks.spawn, self)
        self.stats = StatsFeed(context.client, self.model, self)
        self.disk = DiskUsageLoader(self.cache, self.proxy, self.tasks.spawn, self)
        self._unavailable = self._unavailable_actions()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self.probe = benchprobe.BenchProbe(self.model, self.proxy, self.table) \
            if benchprobe.enabled() else None

        self._init_table()
        self._init_menus()
        self._init_layout()
        self._connect_signals()
        self.settings_view.restore()
        self.setWindowTitle(context.window_title(self.tr("Qube Manager")))
        self.setWindowIcon(icon(Icon.APPLICATION))
        self._refresh()
        self.status_connection.setText(self.tr("Loading…"))
        self.tasks.spawn(self._load(), self.tr("Cannot load the qubes"))

    def __repr__(self) -> str:
        return f"<ManagerWindow {self.model.rowCount()} qubes, loaded={self.is_loaded}>"

    # --- building ------------------------------------------------------------------------
    def _adopt_submenu(self, act: Act, menu: ChoiceMenu) -> None:
        """The submenu's own action stands for ``act`` (enabled and disabled with it)."""
        action = menu.menuAction()
        assert action is not None
        action.setStatusTip(self.acts[act].statusTip())
        action.setToolTip(self.acts[act].toolTip())
        action.setObjectName(self.acts[act].objectName())
        self.acts[act] = action

    def _init_table(self) -> None:
        self.table.setItemDelegateForColumn(Column.STATE, StateIconDelegate(self.table))
        self.table.setItemDelegateForColumn(Column.CPU, UsageBarDelegate(self.table))
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)

    def _init_menus(self) -> None:
        menubar = self.menuBar()
        assert menubar is not None
        menubar.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        build_menubar(menubar, self.acts, self.settings_view.menu)
        self.toolbar.setObjectName("toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        fill(self.toolbar, self.acts, TOOLBAR)
        self.context_menu.setToolTipsVisible(True)
        fill(self.context_menu, self.acts, CONTEXT_MENU)
        self.addAction(self.acts[Act.SEARCH])

    def _init_layout(self) -> None:
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.table, 1)
        self.setCentralWidget(central)
        status = self.statusBar()
        assert status is not None
        status.addWidget(self.status_counts, 1)
        status.addPermanentWidget(self.status_connection)
        self.panels = Panels(self, self.settings_view.menu)
        self.docks = self.panels.docks

    def _connect_signals(self) -> None:
        acts = self.acts
        # table and selection
        selection = self.table.selectionModel()
        assert selection is not None
        selection.selectionChanged.connect(self._refresh)
        selection.selectionChanged.connect(self.on_table_selection_changed)
        self.table.customContextMenuRequested.connect(self.on_table_context_menu_requested)
        self.table.visible_rows_changed.connect(self.disk.on_visible_rows)
        header = self.table.horizontalHeader()
        assert header is not None
        header.sortIndicatorChanged.connect(self.on_header_sort_changed)
        for signal in (self.model.dataChanged, self.model.rowsInserted,
                       self.model.rowsRemoved, self.model.modelReset,
                       self.proxy.layoutChanged, self.proxy.rowsInserted,
                       self.proxy.rowsRemoved):
            signal.connect(self._refresh_timer.start)
        self._refresh_timer.timeout.connect(self._refresh)
        self.model.backup_toggled.connect(self.on_model_backup_toggled)
        # filters
        self.filter_bar.search_changed.connect(self.on_filter_search_changed)
        self.filter_bar.show_changed.connect(self.on_filter_show_changed)
        acts[Act.SEARCH].triggered.connect(self.filter_bar.search.setFocus)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.filter_bar.search.clear)
        # submenus
        self.template_menu.aboutToShow.connect(self.refresh_template_menu)
        self.network_menu.aboutToShow.connect(self.refresh_network_menu)
        self.template_menu.chosen.connect(self.on_template_chosen)
        self.network_menu.chosen.connect(self.on_network_chosen)
        # qube actions
        for act, coroutine in ((Act.START, self.lifecycle.start),
                               (Act.PAUSE, self.lifecycle.pause),
                               (Act.SHUTDOWN, self.lifecycle.shutdown),
                               (Act.RESTART, self.lifecycle.restart),
                               (Act.KILL, self.lifecycle.kill),
                               (Act.DELETE, self.removal.delete),
                               (Act.RUN_COMMAND, self.launcher.run_command)):
            acts[act].triggered.connect(partial(self._run, coroutine, act))
        for act, launch in ((Act.SETTINGS, partial(self.launcher.settings, tab="basic")),
                            (Act.FIREWALL, partial(self.launcher.settings, tab="firewall")),
                            (Act.APP_SHORTCUTS,
                             partial(self.launcher.settings, tab="applications")),
                            (Act.CLONE, self.launcher.clone),
                            (Act.UPDATE, self.launcher.update),
                            (Act.CONSOLE, self.launcher.console),
                            (Act.START_QWT, self.launcher.start_with_windows_tools)):
            acts[act].triggered.connect(partial(self._launch, launch))
        acts[Act.LOGS].triggered.connect(self.on_logs_triggered)
        # programs and the window
        for act, tool in ((Act.GLOBAL_CONFIG, Tool.GLOBAL_CONFIG),
                          (Act.TEMPLATE_SWITCHER, Tool.TEMPLATE_SWITCHER),
                          (Act.BACKUP, Tool.BACKUP), (Act.RESTORE, Tool.RESTORE),
                          (Act.NEW, Tool.CREATE)):
            acts[act].triggered.connect(partial(self._start_program, tool))
        acts[Act.ABOUT].triggered.connect(self.on_about_triggered)
        menubar = self.menuBar()
        assert menubar is not None
        menubar.customContextMenuRequested.connect(self.on_menubar_context_menu_requested)
        acts[Act.EXIT].triggered.connect(self.close)

    # --- loading -------------------------------------------------------------------------
    async def _load(self) -> None:
        self.cache.add_listener(_ConnectionListener(self))
        await self.cache.start()
        if self.model.rowCount() == 0:  # the feed fills it when the cache has loaded
            self.feed.fill()
        self.fit_columns()
        self.status_connection.setText(self._connection_text(True))
        self.tasks.spawn(self.stats.run(), self.tr("Reading CPU and memory use"))
        self.disk.refresh_timer.start()
        await self.cache.wait_details()
        await self._wait_disk_usage()
        self.is_loaded = True
        log.debug("loaded %d qubes", self.model.rowCount())
        self.loaded.emit()

    async def _wait_disk_usage(self) -> None:
        """Until the rows on screen show their disk usage (bounded: it is only nice)."""
        reading = self.disk.on_visible_rows(*self.table.visible_rows())
        if reading is not None:
            await asyncio.wait({reading}, timeout=DISK_WAIT)

    def _connection_text(self, connected: bool) -> str:
        if not connected:
            return self.tr("Connection to qubesd lost, reconnecting…")
        where = self.tr("demo system") if self.context.is_demo \
            else self.context.connection.description
        return self.tr("Connected to %1").replace("%1", where)

    def on_connection_changed(self, connected: bool) -> None:
        self.status_connection.setText(self._connection_text(connected))

    # --- selection and enabling ------------------------------------------------------------
    def selected_rows(self) -> list[QubeRow]:
        selection = self.table.selectionModel()
        if selection is None:
            return []
        rows = sorted(index.row() for index in selection.selectedRows(0))
        return [self.proxy.row_at(row) for row in rows]

    def selected_names(self) -> list[str]:
        return [row.name for row in self.selected_rows()]

    def select(self, *names: str) -> None:
        """Select the rows of these qubes (for keyboard users and tests)."""
        selection = self.table.selectionModel()
        assert selection is not None
        selection.clearSelection()
        flags = (selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
        for name in names:
            row = self.proxy.proxy_row_of(name)
            if row is not None:
                selection.select(self.proxy.index(row, 0), flags)

    def _unavailable_actions(self) -> dict[Act, str]:
        """Actions that cannot work here at all: their program, or a guest agent, is missing."""
        reasons: dict[Act, str] = {}
        guest = guest_agent_missing(self.context.connection)
        for act in GUEST_ACTIONS:
            if guest is not None:
                reasons[act] = guest
        for act, tool in ACTION_TOOLS.items():
            missing = self.tools.missing(tool)
            if missing is not None:
                reasons.setdefault(act, missing)
        return reasons

    def on_table_selection_changed(self, *_args: object) -> None:
        self.panels.on_selection_changed(self.selected_names())

    def _refresh(self, *_args: object) -> None:
        """Recompute what is enabled and the counts (after a selection or a change)."""
        reasons = enabling.disabled_actions(self.selected_rows())
        for act, action in self.acts.items():
            set_enabled(action, act, self._unavailable.get(act) or reasons.get(act))
        rows = self.model.rows
        running = sum(1 for row in rows if row.qube.is_running)
        self.status_counts.setText(
            self.tr("%1 qubes, %2 running, %3 shown").replace("%1", str(len(rows)))
            .replace("%2", str(running)).replace("%3", str(self.proxy.rowCount())))

    def _run(self, action: Callable[[list[str]], Coroutine[Any, Any, Any]], act: Act,
             _checked: bool = False) -> None:
        """Run a coroutine action on the selected qubes, as a task of the window."""
        names = self.selected_names()
        if names:
            what = self.tr("%1 failed").replace("%1", self.acts[act].text().replace("&", ""))
            self.tasks.spawn(action(names), what)

    def _launch(self, launch: Callable[[list[str]], object], _checked: bool = False) -> None:
        names = self.selected_names()
        if names:
            launch(names)

    def _start_program(self, tool: Tool, _checked: bool = False) -> None:
        # one "new qube" at a time, as upstream
        self.launcher.launch(tool, single=tool is Tool.CREATE)

    # --- slots ------------------------------------------------------------------------------
    def on_table_context_menu_requested(self, pos: QPoint) -> None:
        viewport = self.table.viewport()
        assert viewport is not None
        self.context_menu.popup(viewport.mapToGlobal(pos))

    def on_header_sort_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if column == Column.DISK:
            self.disk.request_all()
        self.settings_view.save()

    def on_model_backup_toggled(self, name: str, checked: bool) -> None:
        self.tasks.spawn(actions.set_property(self.context.client, name, "include_in_backups",
                                              str(checked)),
                         self.tr("Cannot change the backup setting of %1").replace("%1", name))

    def on_filter_search_changed(self, text: str) -> None:
        self.proxy.set_search(text)
        self.fit_columns()

    def on_filter_show_changed(self, show: Show) -> None:
        self.proxy.set_show(show)
        self.fit_columns()
        self.settings_view.save()

    def createPopupMenu(self) -> QMenu:  # noqa: N802
        """Right-click on the tool bar: show or hide the bars, as upstream."""
        return self.settings_view.bars_menu()

    def on_menubar_context_menu_requested(self, pos: QPoint) -> None:
        menubar = self.menuBar()
        assert menubar is not None
        self.createPopupMenu().popup(menubar.mapToGlobal(pos))

    def refresh_template_menu(self) -> None:
        rows = self.selected_rows()
        current = {row.qube.prop("template") for row in rows}
        self.template_menu.set_entries([(name, name) for name in templates(self.cache)],
                                       [c for c in current if c], len(rows))

    def refresh_network_menu(self) -> None:
        rows = self.selected_rows()
        default = default_netvm(self.cache)
        entries = [(choice, choice.label(default)) for choice in network_choices(self.cache)]
        self.network_menu.set_entries(entries, [current_network(r.qube) for r in rows],
                                      len(rows))

    def on_template_chosen(self, template: object) -> None:
        names = self.selected_names()
        self.tasks.spawn(self.switching.change_template(names, str(template)),
                         self.tr("Cannot change the template"))

    def on_network_chosen(self, choice: object) -> None:
        assert isinstance(choice, NetChoice)
        self.tasks.spawn(self.switching.change_network(self.selected_names(), choice),
                         self.tr("Cannot change the network qube"))

    def on_logs_triggered(self) -> None:
        self.launcher.logs([(row.name, row.is_admin) for row in self.selected_rows()])

    def on_about_triggered(self) -> None:
        self.bridge.info(about_text(self.context.connection), title=self.tr("About"),
                         parent=self)

    # --- columns ---------------------------------------------------------------------------
    def fit_columns(self) -> None:
        """Size columns to their contents, never below their minimum.

        Measured here from the cell texts of a sample of rows (those on screen and
        the first few hundred): Qt's own ``resizeColumnsToContents`` asks the model
        for every role of every sampled cell, which takes a quarter of a second on a
        large system, and upstream does it after every filter change.
        """
        self.table.fit_columns()

    # --- closing ---------------------------------------------------------------------------
    def changeEvent(self, event: QEvent | None) -> None:  # noqa: N802
        super().changeEvent(event)
        if event is not None and event.type() == QEvent.Type.ActivationChange:
            self.disk.set_active(self.isActiveWindow())

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802
        self.settings_view.save()
        super().closeEvent(event)

    async def aclose(self) -> None:
        """Cancel every task, stop following events (``run_gui`` awaits this at exit)."""
        self.settings_view.save()
        self.disk.enabled = False
        self.disk.refresh_timer.stop()
        await self.tasks.close()
        self.monitor.remove_listener()
        self.panels.close()
        self.feed.remove()
        await self.cache.close()
        for dialog in list(self.launcher.log_dialogs):
            dialog.close()


class _ConnectionListener(CacheListener):
    """Tells the window when the event stream is lost and back (reconciled)."""

    def __init__(self, window: ManagerWindow) -> None:
        self._window = window

    def connection_changed(self, connected: bool) -> None:
        self._window.on_connection_changed(connected)
