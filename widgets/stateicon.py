"""``StateIconDelegate``: the State column as up to three icons, each with its tooltip.

1. power: running, paused, transient (starting, halting, dying), crashed, unknown,
   blocked (may not start), nothing when halted;
2. update: outdated (restart to pick up template changes), to be outdated (the
   template still runs), updates available, excluded from updates, end of life;
3. a preloaded disposable.

The icons come from the row alone (``widgets.quberow``), so painting never asks the
backend anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import (
    QCoreApplication,
    QEvent,
    QModelIndex,
    QRect,
    QSize,
    Qt,
)
from PyQt6.QtGui import QHelpEvent, QIcon, QPainter
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
)

from widgets.icons import Icon, icon
from widgets.quberow import Power, QubeRow, Update, is_preloaded, power, update_state
from widgets.qubetable import Role

ICON_SIZE = 18
GAP = 4
MARGIN = 5
_CONTEXT = "StateIconDelegate"


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


@dataclass(frozen=True, slots=True)
class StateIcon:
    icon: Icon
    tooltip: str


_POWER_ICONS = {
    Power.RUNNING: Icon.RUNNING,
    Power.PAUSED: Icon.PAUSED,
    Power.SUSPENDED: Icon.PAUSED,
    Power.TRANSIENT: Icon.TRANSIENT,
    Power.HALTING: Icon.TRANSIENT,
    Power.DYING: Icon.TRANSIENT,
    Power.CRASHED: Icon.CRASHED,
    Power.BLOCKED: Icon.BLOCKED,
    Power.NA: Icon.UNKNOWN,
}

_UPDATE_ICONS = {
    Update.UPDATE: Icon.UPDATE,
    Update.OUTDATED: Icon.OUTDATED,
    Update.TO_BE_OUTDATED: Icon.OUTDATED,
    Update.EOL: Icon.EOL,
    Update.SKIPPED: Icon.SKIPPED,
}


def _power_tooltip(state: Power) -> str:
    if state is Power.BLOCKED:
        return _tr("The qube is prohibited from starting.\n"
                   "The rationale is in its settings, on the Advanced tab.")
    if state is Power.NA:
        return _tr("The state of this qube is not known")
    return _tr(state.value)


def _update_tooltip(update: Update) -> str:
    return {
        Update.UPDATE: _tr("Updates available"),
        Update.OUTDATED: _tr("The qube must be restarted for recent changes in its "
                             "template to take effect"),
        Update.TO_BE_OUTDATED: _tr("The template must be halted for recent changes to "
                                   "take effect"),
        Update.EOL: _tr("This qube is based on a distribution that is no longer "
                        "supported.\nInstall a new template with the Template Manager."),
        Update.SKIPPED: _tr("This qube is excluded from updates"),
    }[update]


def state_icons(row: QubeRow) -> list[StateIcon | None]:
    """The icons of a row, in their slots (None: an empty slot, e.g. a halted qube)."""
    state = power(row)
    slots: list[StateIcon | None] = [
        None if state is Power.HALTED else StateIcon(_POWER_ICONS[state], _power_tooltip(state))
    ]
    update = update_state(row)
    if update is not None:
        slots.append(StateIcon(_UPDATE_ICONS[update], _update_tooltip(update)))
    if is_preloaded(row):
        if len(slots) == 1:
            slots.append(None)
        slots.append(StateIcon(Icon.PRELOADED, _tr(
            "A preloaded disposable, started in advance to open faster.\n"
            "How many are kept is set in Global Config or in the disposable "
            "template's settings.")))
    return slots


class StateIconDelegate(QStyledItemDelegate):
    """Paints the State column; its tooltips tell which icon means what."""

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        if painter is None:
            return
        row = index.data(Role.ROW)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # background, selection, focus: as every other cell
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not isinstance(row, QubeRow):
            return
        mode = _mode(opt)
        for rect, slot in zip(_slots(opt.rect), state_icons(row), strict=False):
            if slot is not None:
                icon(slot.icon).paint(painter, rect, Qt.AlignmentFlag.AlignCenter, mode)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        return QSize(2 * MARGIN + 3 * ICON_SIZE + 2 * GAP, max(hint.height(), ICON_SIZE + 6))

    def helpEvent(self, event: QHelpEvent | None, view: QAbstractItemView | None,  # noqa: N802
                  option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        if event is None or event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        row = index.data(Role.ROW)
        tip = ""
        if isinstance(row, QubeRow):
            for rect, slot in zip(_slots(option.rect), state_icons(row), strict=False):
                if slot is not None and rect.adjusted(-GAP // 2, -option.rect.height(),
                                                      GAP // 2, option.rect.height()) \
                        .contains(event.pos()):
                    tip = slot.tooltip
        if tip:
            QToolTip.showText(event.globalPos(), tip, view)
        else:
            QToolTip.hideText()
        return True


def _slots(cell: QRect) -> list[QRect]:
    top = cell.top() + (cell.height() - ICON_SIZE) // 2
    left = cell.left() + MARGIN
    return [QRect(left + i * (ICON_SIZE + GAP), top, ICON_SIZE, ICON_SIZE) for i in range(3)]


def _mode(option: QStyleOptionViewItem) -> QIcon.Mode:
    if not option.state & QStyle.StateFlag.State_Enabled:
        return QIcon.Mode.Disabled
    return QIcon.Mode.Normal
