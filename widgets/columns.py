"""The columns of the qube table, declared once: header, cell text, sort key, tooltip.

The first 13 are upstream's (``qubes-manager.md`` §2.3), in its order and with its
names (which are also the QSettings keys ``columns/<name>``); CPU and memory come from
``admin.vm.Stats``. Cell functions read only the row: nothing here calls the backend.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QCoreApplication, Qt

from backend.client import QubeClass
from widgets.labelicons import QubeKind
from widgets.quberow import POWER_ORDER, QubeRow, disk_usage, is_internal, is_preloaded, power
from widgets.quberow import update_state as _update_state

MIB = 1024 * 1024
_CONTEXT = "QubeTable"


def tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


class Column(enum.IntEnum):
    LABEL = 0
    NAME = 1
    STATE = 2
    TEMPLATE = 3
    NETVM = 4
    DISK = 5
    INTERNAL = 6
    IP = 7
    BACKUP = 8
    LAST_BACKUP = 9
    DEFAULT_DISPVM = 10
    DVM_TEMPLATE = 11
    VIRT_MODE = 12
    CPU = 13
    MEMORY = 14


LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


@dataclass(frozen=True)
class ColumnSpec:
    """One column. ``key``: upstream's name (settings key); ``title``: for menus
    (untranslated source text); ``header``: shown in the header (Label has none)."""

    column: Column
    key: str
    title: str
    display: Callable[[QubeRow], str]
    sort: Callable[[QubeRow], Any]
    header: str | None = None
    tooltip: Callable[[QubeRow], str] | None = None
    align: Qt.AlignmentFlag = LEFT
    hideable: bool = True


# --- cell text ---------------------------------------------------------------------------

def _template(row: QubeRow) -> str:
    return row.qube.prop("template") or row.klass.value


def has_template(row: QubeRow) -> bool:
    return bool(row.qube.prop("template"))


def _default_or(row: QubeRow, prop: str, empty: str) -> str:
    value = row.qube.prop(prop)
    if value is None:
        return empty
    shown = value or tr("none")
    if row.qube.is_default(prop):
        return tr("default (%1)").replace("%1", shown)
    return value or empty


def _netvm(row: QubeRow) -> str:
    value = row.qube.prop("netvm")
    if not value:
        return tr("n/a")
    return _default_or(row, "netvm", tr("n/a"))


def _disk(row: QubeRow) -> str:
    if row.is_admin:
        return tr("n/a")
    usage = disk_usage(row)
    return "" if usage is None else tr("%1 MiB").replace("%1", f"{usage / MIB:.2f}")


def _internal(row: QubeRow) -> str:
    if is_preloaded(row):
        return tr("Yes (preloaded)")
    return tr("Yes") if is_internal(row) else ""


def _ip(row: QubeRow) -> str:
    qube = row.qube
    if qube.prop("netvm") or qube.bool_prop("provides_network"):
        return qube.prop("ip") or tr("n/a")
    return tr("n/a")


def _backup_timestamp(row: QubeRow) -> int:
    return row.qube.int_prop("backup_timestamp", 0)


def _last_backup(row: QubeRow) -> str:
    stamp = _backup_timestamp(row)
    if not stamp:
        return ""
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def _default_dispvm(row: QubeRow) -> str:
    return _default_or(row, "default_dispvm", "")


def _yes(flag: bool) -> str:
    return tr("Yes") if flag else ""


def _virt_mode(row: QubeRow) -> str:
    return "" if row.is_admin else row.qube.prop_or("virt_mode", "")


def cpu_percent(row: QubeRow) -> int | None:
    return None if row.stats is None else row.stats.cpu_usage


def memory_kib(row: QubeRow) -> int | None:
    return None if row.stats is None else row.stats.memory_kb


def _cpu(row: QubeRow) -> str:
    value = cpu_percent(row)
    return "" if value is None else tr("%1 %").replace("%1", str(value))


def _memory(row: QubeRow) -> str:
    value = memory_kib(row)
    return "" if value is None else tr("%1 MiB").replace("%1", f"{value // 1024:,}")


def state_text(row: QubeRow) -> str:
    """The State column as text (the delegate paints icons instead)."""
    parts = [tr(power(row).value)]
    update = _update_state(row)
    if update is not None:
        parts.append(tr(update.value))
    if is_preloaded(row):
        parts.append(tr("preloaded"))
    return ", ".join(parts)


# --- sort keys (the proxy adds dom0-first and the name as tie-breaker) --------------------

def _label_sort(row: QubeRow) -> tuple[str, int]:
    kind = QubeKind.of_icon(row.qube.prop_or("icon", ""))
    return (kind.value, row.label.index if row.label is not None else 0)


def _state_sort(row: QubeRow) -> tuple[int, str]:
    update = _update_state(row)
    return (POWER_ORDER.index(power(row)), update.value if update is not None else "")


def _number(value: int | float | None) -> float:
    return -1.0 if value is None else float(value)


def _text(display: Callable[[QubeRow], str]) -> Callable[[QubeRow], str]:
    return lambda row: display(row).lower()


# --- tooltips ------------------------------------------------------------------------------

def _label_tooltip(row: QubeRow) -> str:
    label = row.qube.label or tr("unknown")
    return tr("%1 label, %2").replace("%1", label).replace("%2", row.klass.value)


def _template_tooltip(row: QubeRow) -> str:
    if has_template(row):
        return tr("Based on the template %1").replace("%1", _template(row))
    return tr("A %1 has no template").replace("%1", row.klass.value)


def _disk_tooltip(row: QubeRow) -> str:
    if row.is_admin or disk_usage(row) is not None:
        return ""
    return tr("Read when the qube is shown, or when the table is sorted by disk usage")


def _netvm_tooltip(row: QubeRow) -> str:
    if row.qube.is_default("netvm") and row.qube.prop("netvm"):
        return tr("Follows the global default network qube")
    return ""


def _cpu_tooltip(row: QubeRow) -> str:
    stats = row.stats
    if stats is None:
        return ""
    vcpus = stats.online_vcpus if stats.online_vcpus is not None else "?"
    return tr("%1 % of the host's CPU time, %2 virtual CPUs") \
        .replace("%1", str(stats.cpu_usage)).replace("%2", str(vcpus))


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(Column.LABEL, "Label", "Label", lambda row: "", _label_sort, header="",
               tooltip=_label_tooltip, align=CENTER),
    ColumnSpec(Column.NAME, "Name", "Name", lambda row: row.name,
               lambda row: row.name.lower(), hideable=False),
    ColumnSpec(Column.STATE, "State", "State", state_text, _state_sort),
    ColumnSpec(Column.TEMPLATE, "Template", "Template", _template, _text(_template),
               tooltip=_template_tooltip),
    ColumnSpec(Column.NETVM, "NetVM", "NetVM", _netvm, _text(_netvm), tooltip=_netvm_tooltip),
    ColumnSpec(Column.DISK, "Disk Usage", "Disk Usage", _disk,
               lambda row: _number(disk_usage(row)), tooltip=_disk_tooltip, align=RIGHT),
    ColumnSpec(Column.INTERNAL, "Internal", "Internal", _internal, _text(_internal)),
    ColumnSpec(Column.IP, "IP Address", "IP Address", _ip, _text(_ip)),
    ColumnSpec(Column.BACKUP, "Backup", "Backup", lambda row: "",
               lambda row: not row.qube.bool_prop("include_in_backups"), align=CENTER),
    ColumnSpec(Column.LAST_BACKUP, "Last backup", "Last backup", _last_backup,
               _backup_timestamp),
    ColumnSpec(Column.DEFAULT_DISPVM, "Default DispVM", "Default DispVM", _default_dispvm,
               _text(_default_dispvm)),
    ColumnSpec(Column.DVM_TEMPLATE, "Is DVM Template", "Is DVM Template",
               lambda row: _yes(row.qube.bool_prop("template_for_dispvms")),
               lambda row: not row.qube.bool_prop("template_for_dispvms")),
    ColumnSpec(Column.VIRT_MODE, "Virt Mode", "Virt Mode", _virt_mode, _virt_mode),
    ColumnSpec(Column.CPU, "CPU", "CPU", _cpu, lambda row: _number(cpu_percent(row)),
               tooltip=_cpu_tooltip, align=RIGHT),
    ColumnSpec(Column.MEMORY, "Memory", "Memory", _memory,
               lambda row: _number(memory_kib(row)), align=RIGHT),
)

assert [spec.column for spec in COLUMNS] == list(Column)

#: columns whose cells depend on the stats record only
STATS_COLUMNS = (Column.CPU, Column.MEMORY)


def spec(column: Column | int) -> ColumnSpec:
    return COLUMNS[column]


def by_key(key: str) -> Column | None:
    """The column of a settings key (upstream's column name)."""
    return next((s.column for s in COLUMNS if s.key == key), None)


def is_dom0_first(row: QubeRow) -> bool:
    """dom0 (the AdminVM) sorts before everything in ascending order, as upstream."""
    return row.klass is QubeClass.ADMIN_VM
