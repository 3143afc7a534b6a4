"""libvirt states to power states (reference/core-model.md §4.1) and CPU usage."""

from __future__ import annotations

import pytest

from backend.virt.states import PowerState, power_state
from backend.virt.stats import CpuSample, CpuUsageTracker, cpu_usage

# virDomainState: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff,
# 6 crashed, 7 pmsuspended
STATE_TABLE = [
    (True, 0, PowerState.RUNNING),
    (True, 1, PowerState.RUNNING),
    (True, 2, PowerState.RUNNING),
    (True, 3, PowerState.PAUSED),
    (True, 4, PowerState.HALTING),
    (True, 5, PowerState.DYING),
    (True, 6, PowerState.CRASHED),
    (True, 7, PowerState.SUSPENDED),
    (True, 99, PowerState.RUNNING),  # a state from a newer libvirt
    *((False, state, PowerState.HALTED) for state in range(8)),
]


@pytest.mark.parametrize(("active", "state", "expected"), STATE_TABLE)
def test_power_state_mapping(active: bool, state: int, expected: PowerState) -> None:
    assert power_state(active, state) is expected


def test_power_state_values_are_the_wire_strings() -> None:
    assert {s.value for s in PowerState} == {
        "Halted",
        "Transient",
        "Running",
        "Paused",
        "Suspended",
        "Halting",
        "Dying",
        "Crashed",
        "NA",
    }


def s(cpu_ms: int, wall_ms: int) -> CpuSample:
    return CpuSample(cpu_time_ns=cpu_ms * 1_000_000, wall_ns=wall_ms * 1_000_000)


@pytest.mark.parametrize(
    ("previous", "current", "vcpus", "expected"),
    [
        (None, s(500, 1000), 2, 0),  # first sample
        (s(0, 0), s(1000, 1000), 2, 50),  # one of two vCPUs busy
        (s(0, 0), s(2000, 1000), 2, 100),
        (s(0, 0), s(3000, 1000), 2, 100),  # clamped
        (s(0, 0), s(1, 1000), 1, 0),  # rounds down
        (s(500, 0), s(100, 1000), 1, 0),  # CPU time went back: restarted
        (s(0, 1000), s(100, 1000), 1, 0),  # clock did not move
        (s(0, 0), s(1000, 1000), 0, 0),
    ],
)
def test_cpu_usage(
    previous: CpuSample | None, current: CpuSample, vcpus: int, expected: int
) -> None:
    assert cpu_usage(previous, current, vcpus) == expected


def test_tracker_starts_over_when_the_domain_restarts_with_a_new_xid() -> None:
    tracker = CpuUsageTracker()
    assert tracker.update("u", 5, s(0, 0), 1) == 0
    assert tracker.update("u", 5, s(250, 1000), 1) == 25
    assert tracker.update("u", 6, s(900, 2000), 1) == 0  # new xid: no previous sample
    tracker.keep_only({("u", 6)})
    assert tracker.update("u", 5, s(1000, 3000), 1) == 0  # forgotten
