"""What an event does to a cached snapshot, where the event alone tells (pure functions)."""

from __future__ import annotations

import enum

from backend.client.model import PowerState, QubeSnapshot
from backend.protocol import EventRecord

#: power state after each lifecycle event; None: only from the states listed below
POWER_EVENTS: dict[str, PowerState] = {
    "domain-pre-start": PowerState.TRANSIENT,
    "domain-spawn": PowerState.TRANSIENT,
    "domain-start": PowerState.RUNNING,
    "domain-paused": PowerState.PAUSED,
    "domain-pre-shutdown": PowerState.HALTING,
    "domain-stopped": PowerState.HALTED,
    "domain-shutdown": PowerState.HALTED,
    "domain-start-failed": PowerState.HALTED,
}

#: events that change the state only from one state: unpausing a paused qube runs it
#: (during a start, ``domain-unpaused`` comes before ``domain-start`` and the qube stays
#: Transient: upstream's client gets this wrong, qubes-issues#10964); a refused
#: shutdown leaves a halting qube running
CONDITIONAL_POWER_EVENTS: dict[str, tuple[PowerState, PowerState]] = {
    "domain-unpaused": (PowerState.PAUSED, PowerState.RUNNING),
    "domain-shutdown-failed": (PowerState.HALTING, PowerState.RUNNING),
}

#: events after which a qube's volume information is stale
VOLUME_EVENTS = ("domain-volume-", "domain-import-volume", "domain-shutdown",
                 "domain-clone-files", "domain-verify-files")


class EventKind(enum.Enum):
    """How the cache handles an event."""

    CONNECTED = "connected"
    QUBE_ADDED = "qube-added"
    QUBE_REMOVED = "qube-removed"
    PROPERTY = "property"
    FEATURE = "feature"
    TAG = "tag"
    POWER = "power"
    VOLUMES = "volumes"
    OTHER = "other"


def classify(record: EventRecord) -> EventKind:
    event = record.event
    if event == "connection-established":
        return EventKind.CONNECTED
    if record.subject is None:
        if event == "domain-add":
            return EventKind.QUBE_ADDED
        if event == "domain-delete":
            return EventKind.QUBE_REMOVED
    if event.startswith(("property-set:", "property-reset:", "property-del:")):
        return EventKind.PROPERTY
    if record.subject is None:
        return EventKind.OTHER
    if event.startswith(("domain-feature-set:", "domain-feature-delete:")):
        return EventKind.FEATURE
    if event.startswith(("domain-tag-add:", "domain-tag-delete:")):
        return EventKind.TAG
    if event in POWER_EVENTS or event in CONDITIONAL_POWER_EVENTS:
        return EventKind.POWER
    if event.startswith(VOLUME_EVENTS):
        return EventKind.VOLUMES
    return EventKind.OTHER


def event_argument(event: str) -> str:
    """``property-set:netvm`` → ``netvm``."""
    return event.partition(":")[2]


def apply_power(snapshot: QubeSnapshot, event: str) -> QubeSnapshot:
    """The snapshot after a lifecycle event (volumes forgotten when the qube stops)."""
    new_state = POWER_EVENTS.get(event)
    if new_state is None and event in CONDITIONAL_POWER_EVENTS:
        before, after = CONDITIONAL_POWER_EVENTS[event]
        new_state = after if snapshot.state is before else None
    result = snapshot if new_state is None else snapshot.with_state(new_state)
    if event == "domain-shutdown" and result.volumes is not None:
        result = result.with_volumes(None)
    return result


def apply_feature(snapshot: QubeSnapshot, record: EventRecord) -> QubeSnapshot:
    name = record.kwargs.get("feature") or event_argument(record.event)
    if record.event.startswith("domain-feature-set:"):
        return snapshot.with_feature(name, record.kwargs.get("value", ""))
    return snapshot.with_feature(name, None)


def apply_tag(snapshot: QubeSnapshot, record: EventRecord) -> QubeSnapshot:
    tag = record.kwargs.get("tag") or event_argument(record.event)
    return snapshot.with_tag(tag, record.event.startswith("domain-tag-add:"))
