"""Which actions the selected qubes allow, and why not (upstream's rules, §2.8).

Everything is allowed first; then each selected qube takes away what its state, class
and features forbid. The result maps each forbidden action to the reason the user
sees in its tooltip. Rules about tools that are missing, or a hypervisor without
guest agents, are added by the window on top of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PyQt6.QtCore import QCoreApplication

from backend.client import QubeClass
from qubes_manager.actionset import QUBE_ACTIONS, Act
from widgets.quberow import Power, QubeRow, is_internal, power

_RUNNING = (Power.RUNNING, Power.TRANSIENT, Power.HALTING, Power.DYING)
_PAUSED = (Power.PAUSED, Power.SUSPENDED)

_OFF_WHEN_RUNNING = (Act.START, Act.START_QWT, Act.DELETE, Act.TEMPLATE_MENU)
_OFF_WHEN_PAUSED = (Act.DELETE, Act.PAUSE, Act.RESTART, Act.CONSOLE, Act.TEMPLATE_MENU)
_OFF_WHEN_HALTED = (Act.PAUSE, Act.SHUTDOWN, Act.RESTART, Act.KILL, Act.CONSOLE)
_OFF_WHEN_CRASHED = (Act.PAUSE, Act.SHUTDOWN, Act.RESTART, Act.CONSOLE)
_OFF_FOR_ADMIN = (Act.CONSOLE, Act.SETTINGS, Act.START, Act.START_QWT, Act.DELETE, Act.CLONE,
                  Act.PAUSE, Act.RESTART, Act.KILL, Act.SHUTDOWN, Act.APP_SHORTCUTS,
                  Act.FIREWALL, Act.RUN_COMMAND, Act.TEMPLATE_MENU, Act.NETWORK_MENU)
_OFF_WHEN_BLOCKED = (Act.CONSOLE, Act.START, Act.START_QWT, Act.PAUSE, Act.RESTART, Act.KILL,
                     Act.SHUTDOWN, Act.UPDATE, Act.RUN_COMMAND)


def _tr(text: str) -> str:
    return QCoreApplication.translate("Enabling", text)


def disabled_actions(selection: Sequence[QubeRow]) -> dict[Act, str]:
    """Actions the selection forbids, each with the reason (the first one found)."""
    reasons: dict[Act, str] = {}
    if not selection:
        why = _tr("no qube is selected")
        return {act: why for act in QUBE_ACTIONS}
    for row in selection:
        for acts, why in _rules(row):
            for act in acts:
                reasons.setdefault(act, why)
    return reasons


def _rules(row: QubeRow) -> Iterable[tuple[Sequence[Act], str]]:
    name = row.name
    state = power(row)
    qube = row.qube

    def said(text: str) -> str:
        return _tr(text).replace("%1", name)

    if state in _RUNNING:
        yield _OFF_WHEN_RUNNING, said("%1 is running")
    elif state in _PAUSED:
        yield _OFF_WHEN_PAUSED, said("%1 is paused")
    elif state is Power.HALTED:
        yield _OFF_WHEN_HALTED, said("%1 is not running")
    elif state is Power.CRASHED:
        yield _OFF_WHEN_CRASHED, said("%1 has crashed")
    elif state is Power.BLOCKED:
        yield _OFF_WHEN_BLOCKED, said("%1 is prohibited from starting")
    if qube.klass in (QubeClass.ADMIN_VM, QubeClass.REMOTE_VM):
        yield _OFF_FOR_ADMIN, said("%1 is the administration qube")
    elif qube.klass is QubeClass.DISP_VM:
        yield (Act.APP_SHORTCUTS, Act.TEMPLATE_MENU), said("%1 is a disposable")
        if qube.bool_prop("auto_cleanup"):
            yield (Act.RESTART,), said("%1 is removed when it stops")
    elif qube.klass is QubeClass.TEMPLATE_VM:
        yield (Act.TEMPLATE_MENU, Act.NETWORK_MENU), said("%1 is a template")
    if is_internal(row):
        yield (Act.APP_SHORTCUTS,), said("%1 is an internal qube")
    if not row.is_admin and not qube.bool_prop("updateable"):
        yield (Act.UPDATE,), said("%1 is updated through its template")
