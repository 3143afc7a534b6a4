"""Parsers of the answers the cache needs (pure functions; ``reference/admin-api.md`` §1.7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from backend.client.model import PowerState, QubeClass, QubeStats, VolumeInfo
from backend.protocol import QubesDaemonCommunicationError


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of ``admin.vm.List``."""

    name: str
    klass: QubeClass
    state: PowerState
    uuid: str | None


def parse_vm_list(body: str) -> dict[str, ListEntry]:
    """``name class=… state=… [uuid=…]`` lines; unknown keys are ignored (newer qubesd)."""
    entries: dict[str, ListEntry] = {}
    for line in body.splitlines():
        if not line:
            continue
        name, *tokens = line.split(" ")
        values = dict(token.partition("=")[::2] for token in tokens)
        if not name or "class" not in values:
            raise QubesDaemonCommunicationError(f"Invalid qube list line: {line!r}")
        entries[name] = ListEntry(
            name,
            QubeClass.parse(values["class"]),
            PowerState.parse(values.get("state", "NA")),
            values.get("uuid") or None,
        )
    return entries


def parse_lines(body: str) -> list[str]:
    """A newline-terminated list of names (features, tags, volumes, labels)."""
    return [line for line in body.split("\n") if line]


def parse_key_values(body: str) -> dict[str, str]:
    """``key=value`` lines (volume and pool info); values may hold ``=``."""
    result: dict[str, str] = {}
    for line in body.split("\n"):
        if line:
            key, _, value = line.partition("=")
            result[key] = value
    return result


def _bool(text: str | None) -> bool | None:
    if text in ("True", "1"):
        return True
    if text in ("False", "0"):
        return False
    return None


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def parse_volume_info(name: str, body: str | Mapping[str, str]) -> VolumeInfo:
    """``admin.vm.volume.Info``; missing keys take neutral values (older drivers)."""
    info = parse_key_values(body) if isinstance(body, str) else dict(body)
    return VolumeInfo(
        name=name,
        pool=info.get("pool", ""),
        vid=info.get("vid", ""),
        size=_int(info.get("size")),
        usage=_int(info.get("usage")),
        rw=bool(_bool(info.get("rw"))),
        source=info.get("source") or None,
        path=info.get("path", ""),
        save_on_stop=bool(_bool(info.get("save_on_stop"))),
        snap_on_start=bool(_bool(info.get("snap_on_start"))),
        revisions_to_keep=_int(info.get("revisions_to_keep")),
        ephemeral=_bool(info.get("ephemeral")),
        is_outdated=_bool(info.get("is_outdated")),
        raw=MappingProxyType(info),
    )


def parse_stats(subject: str, kwargs: Mapping[str, str]) -> QubeStats:
    """One ``vm-stats`` event of ``admin.vm.Stats``."""

    def optional(key: str) -> int | None:
        return _int(kwargs[key]) if key in kwargs else None

    return QubeStats(
        name=subject,
        memory_kb=_int(kwargs.get("memory_kb")),
        cpu_time=_int(kwargs.get("cpu_time")),
        cpu_usage=_int(kwargs.get("cpu_usage")),
        online_vcpus=optional("online_vcpus"),
        memory_assigned_total=optional("memory_assigned_total"),
        memory_with_swap_used=optional("memory_with_swap_used"),
        raw=MappingProxyType(dict(kwargs)),
    )
