"""The Qube Manager's table against the daemon: every qube, every column, sorting, and
changes that arrive as events."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QModelIndex, Qt
from PyQt6.QtTest import QSignalSpy

from qubes_manager.backend_connect import BackendKind
from tests.backend.daemon.conftest import RunningDaemon
from tests.qubes_manager.test_window_env import WindowEnv, close_window, make_window
from widgets.columns import Column
from widgets.qubetable import Role

#: the window fixtures (env, qloop, running, settings)
pytest_plugins = ("tests.qubes_manager.test_window_env",)

DEMO_QUBES = {"dom0", "fedora-42", "debian-13", "whonix-gateway-18", "whonix-workstation-18",
              "sys-net", "sys-firewall", "sys-usb", "sys-whonix", "default-dvm", "work",
              "personal", "untrusted", "vault", "anon-whonix"}


def expected_rows(running: RunningDaemon) -> dict[str, dict[Column, Any]]:
    """What each column should say, read from the daemon's own model."""

    def read() -> dict[str, dict[Column, Any]]:
        result = {}
        for vm in running.app.domains:
            props = vm.PROPS

            def value(name: str, props: Any = props, vm: Any = vm) -> Any:
                return vm.get_or(name) if name in props else None

            netvm = value("netvm")
            if netvm is None:
                netvm_text = "n/a"
            elif vm.is_default("netvm"):
                netvm_text = f"default ({netvm.name})"
            else:
                netvm_text = netvm.name
            dispvm = value("default_dispvm")
            if "default_dispvm" not in props:
                dispvm_text = ""
            elif vm.is_default("default_dispvm"):
                dispvm_text = f"default ({dispvm.name if dispvm else 'none'})"
            else:
                dispvm_text = dispvm.name if dispvm else ""
            has_net = netvm is not None or bool(value("provides_network"))
            result[vm.name] = {
                Column.NAME: vm.name,
                Column.STATE: vm.power_state.value,
                Column.TEMPLATE: vm.template.name if vm.template is not None else vm.klass,
                Column.NETVM: netvm_text,
                Column.INTERNAL: "",
                Column.IP: (value("ip") or "n/a") if has_net else "n/a",
                Column.BACKUP: bool(value("include_in_backups")),
                Column.DEFAULT_DISPVM: dispvm_text,
                Column.DVM_TEMPLATE: "Yes" if value("template_for_dispvms") else "",
                Column.VIRT_MODE: "" if vm.klass == "AdminVM" else value("virt_mode"),
                Column.LABEL: vm.label.name,
            }
        return result

    return running.in_loop(read)


def cell(env: WindowEnv, name: str, column: Column, role: int = Qt.ItemDataRole.DisplayRole
         ) -> Any:
    model = env.window.model
    position = model.position_of(name)
    assert position is not None
    return model.data(model.index(position, column), role)


def test_every_demo_qube_is_shown_with_the_daemons_values(env: WindowEnv) -> None:
    model = env.window.model
    assert {row.name for row in model.rows} == DEMO_QUBES
    assert env.window.proxy.rowCount() == len(DEMO_QUBES)
    for name, columns in expected_rows(env.running).items():
        row = env.row(name)
        for column, want in columns.items():
            if column is Column.STATE:
                assert cell(env, name, column).startswith(want), name
            elif column is Column.BACKUP:
                checked = cell(env, name, column, Qt.ItemDataRole.CheckStateRole)
                assert (checked == Qt.CheckState.Checked.value) is want, name
            elif column is Column.LABEL:
                assert row.label is not None and row.label.name == want
                assert cell(env, name, column, Qt.ItemDataRole.DecorationRole) is not None
            else:
                assert cell(env, name, column) == want, (name, column)


def test_template_column_shows_the_class_in_grey_italics_without_template(env: WindowEnv
                                                                          ) -> None:
    assert cell(env, "fedora-42", Column.TEMPLATE) == "TemplateVM"
    assert cell(env, "fedora-42", Column.TEMPLATE, Qt.ItemDataRole.FontRole).italic()
    assert cell(env, "work", Column.TEMPLATE, Qt.ItemDataRole.FontRole) is None


def test_disk_usage_of_rows_on_screen_is_read(env: WindowEnv) -> None:
    assert cell(env, "dom0", Column.DISK) == "n/a"
    env.wait(lambda: cell(env, "work", Column.DISK).endswith("MiB"))
    usage = env.running.in_loop(lambda: sum(
        v.usage for v in env.running.daemon.system.storages["work"].volumes.values()))
    assert cell(env, "work", Column.DISK) == f"{usage / 1024 / 1024:.2f} MiB"


def proxy_names(env: WindowEnv) -> list[str]:
    proxy = env.window.proxy
    return [proxy.row_at(row).name for row in range(proxy.rowCount())]


def test_dom0_is_first_and_names_are_in_order(env: WindowEnv) -> None:
    names = proxy_names(env)
    assert names[0] == "dom0"
    assert names[1:] == sorted(names[1:], key=str.lower)
    env.window.table.sortByColumn(Column.NAME, Qt.SortOrder.DescendingOrder)
    names = proxy_names(env)
    assert names[-1] == "dom0" and names[:-1] == sorted(names[:-1], key=str.lower,
                                                       reverse=True)


def test_sort_by_template_breaks_ties_by_name(env: WindowEnv) -> None:
    env.window.table.sortByColumn(Column.TEMPLATE, Qt.SortOrder.AscendingOrder)
    names = proxy_names(env)
    on_fedora = [n for n in names if env.row(n).qube.prop("template") == "fedora-42"]
    assert on_fedora == sorted(on_fedora)
    assert names.index("anon-whonix") > names.index("work")  # whonix-ws after fedora


def test_sort_by_state_puts_running_qubes_first(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    env.window.table.sortByColumn(Column.STATE, Qt.SortOrder.AscendingOrder)
    assert proxy_names(env)[:2] == ["dom0", "vault"]


def test_title_says_when_it_runs_on_the_demo_system(qtbot: Any, qloop: Any,
                                                    running: RunningDaemon,
                                                    settings: Any) -> None:
    window = make_window(qtbot, running, settings, kind=BackendKind.DEMO)
    try:
        assert window.windowTitle() == "Qube Manager (demo system)"
    finally:
        close_window(qtbot, window)


def test_a_property_event_changes_only_that_qubes_row(env: WindowEnv) -> None:
    model = env.window.model
    spy = QSignalSpy(model.dataChanged)
    position = model.position_of("work")
    env.call("admin.vm.property.Set", "work", "label", b"green")
    env.wait(lambda: env.row("work").qube.label == "green")
    assert len(spy) >= 1
    for top_left, bottom_right, *_ in spy:
        assert isinstance(top_left, QModelIndex)
        assert top_left.row() == bottom_right.row() == position
    assert env.row("work").label is not None and env.row("work").label.name == "green"


def test_a_lifecycle_event_changes_only_the_rows_it_concerns(env: WindowEnv) -> None:
    model = env.window.model
    spy = QSignalSpy(model.dataChanged)
    env.call("admin.vm.Start", "sys-usb")
    env.wait(lambda: env.state("sys-usb") == "Running")
    rows = {top_left.row() for top_left, *_ in spy}
    assert rows == {model.position_of("sys-usb")}  # sys-usb has no netvm to start


def test_new_and_removed_qubes_come_and_go_as_rows(env: WindowEnv) -> None:
    model = env.window.model
    inserted = QSignalSpy(model.rowsInserted)
    env.call("admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=scratch label=orange")
    env.wait(lambda: model.row_of("scratch") is not None)
    assert len(inserted) == 1 and model.rowCount() == len(DEMO_QUBES) + 1
    assert env.window.proxy.proxy_row_of("scratch") is not None
    removed = QSignalSpy(model.rowsRemoved)
    env.call("admin.vm.Remove", "scratch")
    env.wait(lambda: model.row_of("scratch") is None)
    assert len(removed) == 1 and model.rowCount() == len(DEMO_QUBES)


def test_running_qubes_show_cpu_and_memory_from_the_stats_stream(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.row("vault").stats is not None)
    memory_kb = env.row("vault").stats.memory_kb  # type: ignore[union-attr]
    assert cell(env, "vault", Column.MEMORY) == f"{memory_kb // 1024:,} MiB"
    assert cell(env, "vault", Column.CPU).endswith("%")
    assert cell(env, "vault", Column.CPU, Role.USAGE) is not None
    env.call("admin.vm.Kill", "vault")
    env.wait(lambda: env.state("vault") == "Halted")
    assert cell(env, "vault", Column.CPU) == "" and cell(env, "vault", Column.MEMORY) == ""


def test_running_template_marks_its_running_qubes_to_be_outdated(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.call("admin.vm.Start", "fedora-42")
    env.wait(lambda: env.row("vault").template_running)
    assert "to-be-outdated" in cell(env, "vault", Column.STATE)
    assert "to-be-outdated" not in cell(env, "work", Column.STATE)  # halted
    env.call("admin.vm.Shutdown", "fedora-42")
    env.wait(lambda: not env.row("vault").template_running)


def test_feature_events_show_update_and_blocked_icons(env: WindowEnv) -> None:
    env.call("admin.vm.feature.Set", "debian-13", "updates-available", b"1")
    env.wait(lambda: "update" in cell(env, "debian-13", Column.STATE))
    env.call("admin.vm.feature.Set", "untrusted", "prohibit-start", b"compromised")
    env.wait(lambda: cell(env, "untrusted", Column.STATE).startswith("Blocked"))


def test_the_window_models_pass_the_model_tester(env: WindowEnv, qtmodeltester: Any) -> None:
    qtmodeltester.check(env.window.model)
    qtmodeltester.check(env.window.proxy)
