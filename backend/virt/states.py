"""Power states and lifecycle events, in our terms (reference/core-model.md §4.1, §4.4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PowerState(enum.Enum):
    """The ``power_state`` qubesd reports; values are the wire strings."""

    HALTED = "Halted"
    TRANSIENT = "Transient"  # the model's refinement of RUNNING (qrexec not up yet)
    RUNNING = "Running"
    PAUSED = "Paused"
    SUSPENDED = "Suspended"
    HALTING = "Halting"
    DYING = "Dying"
    CRASHED = "Crashed"
    NA = "NA"


class LibvirtState(enum.IntEnum):
    """``virDomainState`` (libvirt's numbers, stable ABI)."""

    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


_ACTIVE_STATES = {
    LibvirtState.PAUSED: PowerState.PAUSED,
    LibvirtState.SHUTDOWN: PowerState.HALTING,
    LibvirtState.SHUTOFF: PowerState.DYING,
    LibvirtState.CRASHED: PowerState.CRASHED,
    LibvirtState.PMSUSPENDED: PowerState.SUSPENDED,
}


def power_state(active: bool, state: int) -> PowerState:
    """Map libvirt's ``isActive()`` and ``state()[0]`` to a power state.

    Running, blocked, no-state and any state a newer libvirt may add count as
    RUNNING; telling TRANSIENT apart needs the qube's ``qrexec`` feature, so the model
    does that.
    """
    if not active:
        return PowerState.HALTED
    try:
        return _ACTIVE_STATES.get(LibvirtState(state), PowerState.RUNNING)
    except ValueError:
        return PowerState.RUNNING


class LifecycleKind(enum.IntEnum):
    """``virDomainEventType``: what a lifecycle event reports."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


@dataclass(frozen=True)
class LifecycleEvent:
    uuid: str
    name: str
    kind: LifecycleKind
    detail: int  # the libvirt detail code of that kind (e.g. STOPPED_DESTROYED = 2)


@dataclass(frozen=True)
class DomainStatus:
    uuid: str
    name: str
    xid: int  # -1 when not running
    power_state: PowerState


@dataclass(frozen=True)
class DomainStats:
    """One ``vm-stats`` sample of a running domain (admin.vm.Stats)."""

    uuid: str
    name: str
    xid: int
    memory_kb: int
    cpu_time: int  # ms
    cpu_usage: int  # percent of the domain's vCPUs, 0..100
    online_vcpus: int


@dataclass(frozen=True)
class HostInfo:
    memory_total_mib: int
    cpu_count: int
