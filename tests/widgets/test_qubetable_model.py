"""The qube table model, its proxy and its delegates, on rows made here (no daemon)."""

from __future__ import annotations

import datetime
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from PyQt6.QtCore import QModelIndex, QRect, Qt
from PyQt6.QtGui import QImage, QPainter
from PyQt6.QtTest import QSignalSpy
from PyQt6.QtWidgets import QStyleOptionViewItem, QTableView

from backend.client import (
    LabelInfo,
    PowerState,
    PropertyValue,
    QubeClass,
    QubeSnapshot,
    QubeStats,
    VolumeInfo,
)
from widgets.columns import Column
from widgets.labelicons import QubeKind, label_icon
from widgets.qubefilter import QubeFilterProxy, Show, shown
from widgets.quberow import Power, QubeRow, Update, power, update_state
from widgets.qubetable import QubeTableModel, Role, changed_columns
from widgets.stateicon import StateIconDelegate, state_icons

RED = LabelInfo("red", "0xcc0000", 1)
BLUE = LabelInfo("blue", "0x3465a4", 6)


def prop(value: str, kind: str = "str", default: bool = False) -> PropertyValue:
    return PropertyValue(default, kind, value)


def make_row(name: str, klass: QubeClass = QubeClass.APP_VM,
             state: PowerState = PowerState.HALTED, *, label: LabelInfo = RED,
             features: dict[str, str] | None = None, **props: Any) -> QubeRow:
    properties = {"label": prop(label.name, "label"),
                  "icon": prop(f"{klass.value.lower()}-{label.name}")}
    for key, value in props.items():
        properties[key] = value if isinstance(value, PropertyValue) else prop(str(value))
    snapshot = QubeSnapshot(name, klass, state, None, MappingProxyType(properties),
                            features=MappingProxyType(features or {}), tags=frozenset())
    return QubeRow(snapshot, label)


def sample_rows() -> list[QubeRow]:
    return [
        make_row("work", template=prop("fedora-42", "vm"), netvm=prop("sys-firewall", "vm",
                                                                       True)),
        make_row("dom0", QubeClass.ADMIN_VM, PowerState.RUNNING, label=BLUE),
        make_row("fedora-42", QubeClass.TEMPLATE_VM, features={"updates-available": "1"}),
        make_row("Alpha", state=PowerState.RUNNING, label=BLUE,
                 template=prop("fedora-42", "vm")),
        make_row("sys-net", provides_network="True", ip="10.137.0.5",
                 features={"servicevm": "1"}),
    ]


@pytest.fixture
def model(qapp: Any) -> QubeTableModel:
    table = QubeTableModel()
    table.reset_rows(sample_rows())
    return table


def test_model_passes_the_model_tester(qtmodeltester: Any, model: QubeTableModel) -> None:
    qtmodeltester.check(model)


def test_proxy_passes_the_model_tester(qtmodeltester: Any, model: QubeTableModel) -> None:
    proxy = QubeFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.STATE)
    qtmodeltester.check(proxy)
    proxy.set_search("o")
    qtmodeltester.check(proxy)


def test_rows_are_added_removed_and_changed_with_the_right_signals(model: QubeTableModel
                                                                   ) -> None:
    inserted, removed, changed = (QSignalSpy(model.rowsInserted), QSignalSpy(model.rowsRemoved),
                                  QSignalSpy(model.dataChanged))
    model.add_row(make_row("vault"))
    assert [(args[1], args[2]) for args in inserted] == [(5, 5)]
    model.remove_row("dom0")
    assert [(args[1], args[2]) for args in removed] == [(1, 1)]
    assert model.position_of("vault") == 4 and model.row_at(4).name == "vault"
    old = model.row_of("work")
    assert old is not None
    model.update_row(replace(old, label=BLUE, qube=old.qube.with_property(
        "label", prop("blue", "label"))))
    ((top_left, bottom_right, _roles),) = list(changed)
    assert isinstance(top_left, QModelIndex)
    assert top_left.row() == bottom_right.row() == model.position_of("work")
    assert top_left.column() == Column.LABEL


def test_unchanged_rows_emit_nothing(model: QubeTableModel) -> None:
    spy = QSignalSpy(model.dataChanged)
    work = model.row_of("work")
    assert work is not None
    assert not model.update_row(replace(work))
    assert len(spy) == 0


def test_stats_change_only_the_cpu_and_memory_cells(model: QubeTableModel) -> None:
    spy = QSignalSpy(model.dataChanged)
    model.set_stats("Alpha", QubeStats("Alpha", 409600, 1, 37))
    ((top_left, bottom_right, _roles),) = list(spy)
    assert (top_left.column(), bottom_right.column()) == (Column.CPU, Column.MEMORY)
    position = model.position_of("Alpha")
    assert position is not None
    assert model.data(model.index(position, Column.CPU)) == "37 %"
    assert model.data(model.index(position, Column.MEMORY)) == "400 MiB"
    assert model.data(model.index(position, Column.CPU), Role.USAGE) == pytest.approx(0.37)


def test_changed_columns_compares_every_cell() -> None:
    row = make_row("work", netvm=prop("sys-firewall", "vm", True))
    started = replace(row, qube=row.qube.with_state(PowerState.RUNNING))
    assert changed_columns(row, started) == [Column.STATE]
    moved = replace(row, qube=row.qube.with_property("netvm", prop("sys-net", "vm")))
    assert changed_columns(row, moved) == [Column.NETVM]
    unplugged = replace(row, qube=row.qube.with_property("netvm", prop("", "vm")))
    assert changed_columns(row, unplugged) == [Column.NETVM]


def test_the_backup_box_is_reported_not_stored(model: QubeTableModel) -> None:
    spy = QSignalSpy(model.backup_toggled)
    position = model.position_of("work")
    assert position is not None
    index = model.index(position, Column.BACKUP)
    assert model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert list(spy) == [["work", True]]
    assert model.data(index, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked.value


def proxy_order(model: QubeTableModel, column: Column,
                order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> list[str]:
    proxy = QubeFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(column, order)
    return [proxy.row_at(row).name for row in range(proxy.rowCount())]


def test_dom0_sorts_first_then_case_insensitive_names(model: QubeTableModel) -> None:
    assert proxy_order(model, Column.NAME) == ["dom0", "Alpha", "fedora-42", "sys-net", "work"]
    assert proxy_order(model, Column.NAME, Qt.SortOrder.DescendingOrder)[-1] == "dom0"


def test_state_sorts_running_first_and_ties_by_name(model: QubeTableModel) -> None:
    # halted before halted-with-updates, as upstream ("7" < "7update")
    assert proxy_order(model, Column.STATE) == ["dom0", "Alpha", "sys-net", "work",
                                                "fedora-42"]


def test_label_sorts_by_kind_then_label_index(model: QubeTableModel) -> None:
    assert proxy_order(model, Column.LABEL) == ["dom0", "sys-net", "work", "Alpha",
                                                "fedora-42"]


def test_show_categories_follow_upstream() -> None:
    service = make_row("sys-net", provides_network="True", features={"servicevm": "1"})
    dvm = make_row("default-dvm", template_for_dispvms="True")
    work = make_row("work")
    internal = make_row("mgmt", features={"internal": "1"})
    assert shown(work, Show.USER, False) and not shown(service, Show.USER, False)
    assert not shown(dvm, Show.USER, False) and shown(dvm, Show.HALTED, False)
    assert shown(service, Show.NETWORK, False)
    assert not shown(internal, Show.everything(), False)
    assert shown(internal, Show.ALL, True)
    blocked = make_row("bad", features={"prohibit-start": "1"})
    assert not shown(blocked, Show.HALTED | Show.RUNNING, False)
    assert shown(blocked, Show.USER, False)


def test_power_and_update_states() -> None:
    assert power(make_row("bad", features={"prohibit-start": "x"})) is Power.BLOCKED
    assert power(make_row("dom0", QubeClass.ADMIN_VM, features={"prohibit-start": "x"})) \
        is Power.HALTED
    eol = make_row("old", QubeClass.TEMPLATE_VM, features={"os-eol": "2020-01-01"})
    assert update_state(eol, datetime.date(2026, 1, 1)) is Update.EOL
    skip = make_row("t", QubeClass.TEMPLATE_VM, features={"skip-update": "1",
                                                          "updates-available": "1"})
    assert update_state(skip) is Update.SKIPPED
    running = make_row("work", state=PowerState.RUNNING)
    assert update_state(replace(running, template_running=True)) is Update.TO_BE_OUTDATED
    volume = VolumeInfo("root", "p", "v", 1, 1, False, "t", "", False, True, 0, None, True)
    outdated = replace(running, qube=running.qube.with_volumes({"root": volume}))
    assert update_state(outdated) is Update.OUTDATED


def test_state_icons_and_their_tooltips() -> None:
    halted = state_icons(make_row("work"))
    assert halted == [None]
    blocked = state_icons(make_row("bad", features={"prohibit-start": "x"}))
    assert blocked[0] is not None and "prohibited from starting" in blocked[0].tooltip
    template = state_icons(make_row("t", QubeClass.TEMPLATE_VM,
                                    features={"updates-available": "1"}))
    assert len(template) == 2 and template[1] is not None
    assert template[1].tooltip == "Updates available"
    preloaded = state_icons(make_row("disp1", QubeClass.DISP_VM, PowerState.PAUSED,
                                     is_preload="True"))
    assert preloaded[1] is None and preloaded[2] is not None


def test_state_delegate_paints_icons(qapp: Any, model: QubeTableModel) -> None:
    view = QTableView()
    view.setModel(model)
    delegate = StateIconDelegate(view)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 80, 26)
    option.widget = view
    image = QImage(80, 26, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    position = model.position_of("Alpha")
    assert position is not None
    delegate.paint(painter, option, model.index(position, Column.STATE))
    painter.end()
    assert any(image.pixelColor(x, 13).green() > 100 for x in range(5, 23))  # running: green
    assert delegate.sizeHint(option, model.index(0, Column.STATE)).width() >= 3 * 18


@pytest.mark.parametrize("kind", list(QubeKind))
def test_label_icons_are_drawn_in_the_label_colour(qapp: Any, kind: QubeKind) -> None:
    pixmap = label_icon(f"{kind.value}-red", 0xCC0000).pixmap(32, 32)
    image = pixmap.toImage()
    colours = {image.pixelColor(x, y).name() for x in range(32) for y in range(32)
               if image.pixelColor(x, y).alpha() == 255}
    assert "#cc0000" in colours
