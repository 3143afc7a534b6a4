"""Search, the Show checkboxes, internal qubes, keyboard, and the settings kept between runs."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QSettings, QSize, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QMessageBox

from qubes_manager.actionset import Act
from tests.qubes_manager.test_window_env import WindowEnv, close_window, make_window
from widgets.columns import Column
from widgets.qubefilter import Show

#: the window fixtures (env, qloop, running, settings)
pytest_plugins = ("tests.qubes_manager.test_window_env",)


def shown(env: WindowEnv) -> set[str]:
    proxy = env.window.proxy
    return {proxy.row_at(row).name for row in range(proxy.rowCount())}


def only(env: WindowEnv, *flags: Show) -> None:
    for flag, box in env.window.filter_bar.boxes.items():
        box.setChecked(flag in flags)


def test_search_shows_names_containing_the_text(env: WindowEnv) -> None:
    QTest.keyClicks(env.window.filter_bar.search, "SYS")
    assert shown(env) == {"sys-net", "sys-firewall", "sys-usb", "sys-whonix"}
    QTest.keyClicks(env.window.filter_bar.search, "-w")
    assert shown(env) == {"sys-whonix"}


def test_search_accepts_only_characters_of_qube_names(env: WindowEnv) -> None:
    QTest.keyClicks(env.window.filter_bar.search, "wo*rk ")
    assert env.window.filter_bar.search.text() == "work"
    assert shown(env) == {"work", "whonix-workstation-18"}


def test_ctrl_f_focuses_the_search_and_escape_clears_it(env: WindowEnv) -> None:
    env.window.acts[Act.SEARCH].trigger()
    assert env.window.filter_bar.search.hasFocus() or \
        env.window.focusWidget() is env.window.filter_bar.search
    QTest.keyClicks(env.window.filter_bar.search, "vault")
    assert shown(env) == {"vault"}
    QTest.keyClick(env.window.table, Qt.Key.Key_Escape)
    assert env.window.filter_bar.search.text() == "" and len(shown(env)) == 15


def test_running_only_follows_the_qubes_state(env: WindowEnv) -> None:
    only(env, Show.RUNNING)
    assert shown(env) == {"dom0"}
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: "vault" in shown(env))
    env.call("admin.vm.Kill", "vault")
    env.wait(lambda: "vault" not in shown(env))


def test_halted_templates_network_and_standalone_filters(env: WindowEnv) -> None:
    only(env, Show.TEMPLATES)
    assert shown(env) == {"fedora-42", "debian-13", "whonix-gateway-18",
                          "whonix-workstation-18"}
    only(env, Show.NETWORK)
    assert shown(env) == {"sys-net", "sys-firewall", "sys-whonix"}
    only(env, Show.STANDALONE)
    assert shown(env) == set()
    only(env, Show.HALTED)
    assert "dom0" not in shown(env) and len(shown(env)) == 14
    only(env)
    assert shown(env) == set()


def test_user_qubes_leave_out_service_qubes_and_disposable_templates(env: WindowEnv) -> None:
    only(env, Show.USER)
    assert shown(env) == {"work", "personal", "untrusted", "vault", "anon-whonix", "sys-usb"}


def test_internal_qubes_are_hidden_unless_asked_for(env: WindowEnv) -> None:
    env.call("admin.vm.feature.Set", "vault", "internal", b"1")
    env.wait(lambda: "vault" not in shown(env))
    env.window.settings_view.actions["internal"].setChecked(True)
    assert "vault" in shown(env)
    model = env.window.model
    position = model.position_of("vault")
    assert position is not None and model.data(model.index(position, Column.INTERNAL)) == "Yes"


def test_home_and_end_select_the_first_and_last_row(env: WindowEnv) -> None:
    QTest.keyClick(env.window.table, Qt.Key.Key_End)
    assert env.window.selected_names() == ["work"]
    QTest.keyClick(env.window.table, Qt.Key.Key_Home)
    assert env.window.selected_names() == ["dom0"]


def test_view_settings_are_kept_between_runs(qtbot: Any, qloop: Any, running: Any,
                                             settings: QSettings) -> None:
    window = make_window(qtbot, running, settings)
    try:
        window.settings_view.column_actions[Column.IP].setChecked(False)
        window.filter_bar.boxes[Show.HALTED].setChecked(False)
        window.settings_view.actions["internal"].setChecked(True)
        window.settings_view.actions["compact"].setChecked(True)
        window.table.sortByColumn(Column.TEMPLATE, Qt.SortOrder.DescendingOrder)
        header = window.table.horizontalHeader()
        assert header is not None
        assert header.visualIndex(Column.CPU) == 3  # by default beside the state
        header.moveSection(header.visualIndex(Column.MEMORY), 1)
        window.resize(1000, 520)
    finally:
        close_window(qtbot, window)
    assert settings.value("columns/IP Address") in (False, "false")
    assert settings.value("view/sort_column") == "Template"
    assert settings.value("window_size") == QSize(1000, 520)
    assert settings.value("window_geometry") is not None
    again = make_window(qtbot, running, settings)
    try:
        assert again.table.isColumnHidden(Column.IP)
        assert not again.settings_view.column_actions[Column.IP].isChecked()
        assert Show.HALTED not in again.proxy.show and Show.RUNNING in again.proxy.show
        assert again.proxy.show_internal and again.settings_view.actions["compact"].isChecked()
        header = again.table.horizontalHeader()
        assert header is not None and header.sortIndicatorSection() == Column.TEMPLATE
        assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        assert header.visualIndex(Column.MEMORY) == 1
        assert again.height() == 520  # (the offscreen screen is narrower than 1000)
    finally:
        close_window(qtbot, again)


def test_unreadable_settings_warn_once_and_use_the_defaults(qtbot: Any, qloop: Any,
                                                            running: Any,
                                                            settings: QSettings) -> None:
    settings.setValue("view/sort_column", "Colour")
    settings.setValue("show/running", "maybe")
    settings.sync()
    window = make_window(qtbot, running, settings)
    try:
        (box,) = window.bridge.open_boxes
        assert box.windowTitle() == "Manager settings unreadable"
        assert "Colour" in box.text() and "maybe" in box.text()
        box.button(QMessageBox.StandardButton.Ok).click()
        header = window.table.horizontalHeader()
        assert header is not None and header.sortIndicatorSection() == Column.NAME
        assert Show.RUNNING in window.proxy.show
    finally:
        close_window(qtbot, window)


def test_without_the_menu_bar_the_context_menu_brings_the_bars_back(env: WindowEnv) -> None:
    bars = env.window.settings_view.actions
    assert bars["toolbar"] not in env.window.context_menu.actions()
    bars["menubar"].setChecked(False)
    menubar = env.window.menuBar()
    assert menubar is not None and menubar.isHidden()
    assert {bars["toolbar"], bars["menubar"]} <= set(env.window.context_menu.actions())
    assert env.window.createPopupMenu().actions() == [bars["toolbar"], bars["menubar"]]
    bars["compact"].setChecked(True)
    assert env.window.toolbar.toolButtonStyle() is Qt.ToolButtonStyle.ToolButtonIconOnly
    bars["menubar"].setChecked(True)
    assert bars["menubar"] not in env.window.context_menu.actions()
