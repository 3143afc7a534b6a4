"""One row of the qube table: a qube's snapshot and what the table derives from it.

Rows are immutable; the table swaps a row for a new one when anything in it changes.
The functions here derive the state icons the way the upstream Qube Manager does
(``qubes-manager.md`` §2.4), from the row alone: nothing here calls the backend.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from backend.client import LabelInfo, PowerState, QubeClass, QubeSnapshot, QubeStats


class Power(enum.Enum):
    """What the power icon shows (upstream's power states plus Blocked)."""

    RUNNING = "Running"
    TRANSIENT = "Transient"
    HALTING = "Halting"
    PAUSED = "Paused"
    SUSPENDED = "Suspended"
    DYING = "Dying"
    CRASHED = "Crashed"
    HALTED = "Halted"
    BLOCKED = "Blocked"
    NA = "NA"


#: sort order of the State column: from running to progressively less running
POWER_ORDER = (Power.RUNNING, Power.TRANSIENT, Power.HALTING, Power.PAUSED,
               Power.SUSPENDED, Power.DYING, Power.CRASHED, Power.HALTED, Power.BLOCKED,
               Power.NA)


class Update(enum.Enum):
    """The second icon of the State column (at most one applies)."""

    TO_BE_OUTDATED = "to-be-outdated"
    OUTDATED = "outdated"
    SKIPPED = "skipped"
    UPDATE = "update"
    EOL = "eol"


@dataclass(frozen=True, slots=True)
class QubeRow:
    """A qube as the table shows it.

    ``template_running``: the qube's template is running (its changes will reach this
    qube only after the template stops); ``stats``: the last CPU/memory record, None
    when the qube is not running or none arrived yet.
    """

    qube: QubeSnapshot
    label: LabelInfo | None = None
    template_running: bool = False
    stats: QubeStats | None = None

    @property
    def name(self) -> str:
        return self.qube.name

    @property
    def klass(self) -> QubeClass:
        return self.qube.klass

    @property
    def is_admin(self) -> bool:
        return self.qube.klass is QubeClass.ADMIN_VM


def power(row: QubeRow) -> Power:
    """The power state, Blocked for a halted qube that may not start."""
    state = row.qube.state
    if state is PowerState.HALTED and not row.is_admin and row.qube.feature("prohibit-start"):
        return Power.BLOCKED
    return Power(state.value)


def is_internal(row: QubeRow) -> bool:
    """Internal qubes (feature ``internal``) are hidden unless asked for; dom0 never is."""
    return not row.is_admin and _truthy(row.qube.feature("internal"))


def is_preloaded(row: QubeRow) -> bool:
    """A preloaded disposable, waiting to be used."""
    return row.qube.bool_prop("is_preload")


def update_state(row: QubeRow, today: datetime.date | None = None) -> Update | None:
    """The update/outdated icon of a qube, if any."""
    qube = row.qube
    result: Update | None = None
    if qube.is_running:
        if row.template_running:
            result = Update.TO_BE_OUTDATED
        elif qube.volumes is not None and any(v.is_outdated for v in qube.volumes.values()):
            result = Update.OUTDATED
    if qube.klass in (QubeClass.TEMPLATE_VM, QubeClass.STANDALONE_VM):
        if _truthy(qube.feature("skip-update")):
            result = Update.SKIPPED
        elif _truthy(qube.feature("updates-available")):
            result = Update.UPDATE
        elif _is_past(qube.feature("os-eol"), today):
            result = Update.EOL
    return result


def is_user_qube(row: QubeRow) -> bool:
    """Upstream's "User qubes": an AppVM or StandaloneVM that is neither a disposable
    template nor a service qube."""
    qube = row.qube
    return (qube.klass in (QubeClass.APP_VM, QubeClass.STANDALONE_VM)
            and not qube.bool_prop("template_for_dispvms")
            and not _truthy(qube.feature("servicevm")))


def disk_usage(row: QubeRow) -> int | None:
    """Bytes used by the qube's volumes; None until they are loaded (and for dom0)."""
    if row.is_admin or row.qube.volumes is None:
        return None
    return sum(volume.usage for volume in row.qube.volumes.values())


def _truthy(value: str | None) -> bool:
    """A feature's value as upstream reads a boolean feature ('' and '0' are false)."""
    return bool(value) and value not in ("0", "False", "false")


def _is_past(date_text: str | None, today: datetime.date | None) -> bool:
    if not date_text:
        return False
    try:
        date = datetime.date.fromisoformat(date_text.strip())
    except ValueError:
        return False
    return date < (today or datetime.date.today())
