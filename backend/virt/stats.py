"""CPU usage from successive cumulative CPU-time samples (admin.vm.Stats)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSample:
    cpu_time_ns: int  # cumulative CPU time of the domain
    wall_ns: int  # monotonic clock when sampled


def cpu_usage(previous: CpuSample | None, current: CpuSample, vcpus: int) -> int:
    """Percent of the domain's vCPUs used between two samples, 0..100.

    The first sample of a domain, a clock that did not move, or CPU time that went
    backwards (the domain restarted) give 0.
    """
    if previous is None or vcpus <= 0:
        return 0
    elapsed = current.wall_ns - previous.wall_ns
    used = current.cpu_time_ns - previous.cpu_time_ns
    if elapsed <= 0 or used < 0:
        return 0
    return max(0, min(100, round(used * 100 / elapsed / vcpus)))


class CpuUsageTracker:
    """Keeps the last sample per running domain (keyed by uuid and xid)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], CpuSample] = {}

    def update(self, uuid: str, xid: int, sample: CpuSample, vcpus: int) -> int:
        key = (uuid, xid)
        usage = cpu_usage(self._last.get(key), sample, vcpus)
        self._last[key] = sample
        return usage

    def keep_only(self, keys: set[tuple[str, int]]) -> None:
        """Forget domains that are no longer running."""
        for key in self._last.keys() - keys:
            del self._last[key]
