"""Shared checks of the storage methods: volume and pool arguments, payload values.

Every check here runs before a handler changes anything, so a refused call leaves the
system as it was. Error classes are the ones upstream sends for the same mistakes:
``PermissionDenied`` for an argument that names no volume or pool (upstream's
``enforce``), ``ProtocolError`` for a payload that is not a valid value.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from backend.errors import PermissionDenied, ProtocolError, QubesValueError, QubesVMNotHaltedError
from backend.storage.config import parse_bool
from backend.storage.pool import Pool, Volume

#: decimal ASCII, optionally negative, no leading zeros, at most 20 digits (about 2**64)
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,19})", re.ASCII)
_SIZE_RE = re.compile(r"(?:0|[1-9][0-9]{0,19})", re.ASCII)


def volume_of(daemon: Any, vm: Any, name: str) -> Volume:
    """The volume ``name`` of ``vm``; PermissionDenied when it has none of that name."""
    storage = daemon.system.storages.get(vm.name)
    volume: Volume | None = None if storage is None else storage.volumes.get(name)
    if volume is None:
        raise PermissionDenied(f"Argument not in '{vm.name} volumes'")
    return volume


def volume_names(daemon: Any, vm: Any) -> list[str]:
    storage = daemon.system.storages.get(vm.name)
    return [] if storage is None else list(storage.volumes)


def pool_of(daemon: Any, name: str) -> Pool:
    """The pool ``name``; PermissionDenied when there is none of that name."""
    pool: Pool | None = daemon.system.pools.get(name)
    if pool is None:
        raise PermissionDenied(f"Argument not in 'pools' (no storage pool named {name!r})")
    return pool


def payload_text(payload: bytes, what: str) -> str:
    """The payload as ASCII text without surrounding whitespace."""
    try:
        return payload.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError(f"Invalid value for {what}: not ASCII text") from None


def parse_int_payload(payload: bytes, what: str) -> int:
    """A decimal integer (sign allowed); the range is checked by whoever uses it."""
    text = payload_text(payload, what)
    if not _INT_RE.fullmatch(text):
        raise ProtocolError(f"Invalid value for {what}: {text[:40]!r} (expected an integer)")
    return int(text)


def parse_size_payload(payload: bytes, what: str) -> int:
    """A size in bytes: decimal digits only (no sign), at most 20 of them."""
    text = payload_text(payload, what)
    if not _SIZE_RE.fullmatch(text):
        raise ProtocolError(
            f"Invalid value for {what}: {text[:40]!r} (expected a size in bytes, digits only)"
        )
    return int(text)


def parse_bool_payload(payload: bytes, what: str) -> bool:
    """``True``/``False`` (also 1/0, yes/no, on/off, any case), as qubesd accepts them."""
    text = payload_text(payload, what)
    try:
        return parse_bool(text, what)
    except QubesValueError:
        raise ProtocolError(
            f"Invalid value for {what}: {text[:40]!r} (expected True or False)"
        ) from None


#: used only if the lifecycle offers no lock of its own (keyed by qube uuid)
_fallback_locks: dict[str, asyncio.Lock] = {}


def qube_lock(daemon: Any, vm: Any) -> asyncio.Lock:
    """The qube's start/stop lock: held while a volume is changed, so that the qube
    cannot start or stop between the checks and the change."""
    lock = getattr(daemon.lifecycle, "lock", None)
    if lock is not None:
        return lock(vm)  # type: ignore[no-any-return]
    return _fallback_locks.setdefault(vm.uuid, asyncio.Lock())


def require_halted(vm: Any, action: str) -> None:
    if not vm.is_halted():
        raise QubesVMNotHaltedError(
            f"Domain is not powered off: {vm.name!r} (shut it down to {action})"
        )


def format_lines(pairs: Any) -> str:
    """``key=value`` lines; None is written as an empty value, as upstream does."""
    return "".join(f"{key}={'' if value is None else value}\n" for key, value in pairs)
