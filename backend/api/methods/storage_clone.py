"""Admin API methods: ``admin.vm.volume.CloneFrom`` / ``CloneTo`` (copying a volume).

CloneFrom, called on the source qube, hands out a one-shot token for one of its
volumes; CloneTo, called on the destination qube with that token as payload, copies the
source volume's committed data over the destination volume. A token is good for one
CloneTo (it is spent even if the copy then fails) and expires after
:data:`TOKEN_LIFETIME` seconds; an unknown, spent or expired token is
QubesVolumeCopyTokenNotFoundError.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.api.methods.storage_common import (
    payload_text,
    qube_lock,
    require_halted,
    volume_of,
)
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import QubesVolumeCopyTokenNotFoundError, StoragePoolException

log = logging.getLogger("backend.api")

TOKEN_LENGTH = 32
TOKEN_LIFETIME = 600.0
#: at most this many tokens wait for their CloneTo; the oldest is dropped beyond
MAX_TOKENS = 1024
_TOKEN_CHARS = string.ascii_letters + string.digits


@dataclass(frozen=True)
class CloneSource:
    """What a token stands for: a volume of a qube (looked up again at CloneTo)."""

    vm: Any
    volume: str
    expires: float


class CloneTokens:
    """Outstanding CloneFrom tokens of one daemon."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, CloneSource] = {}

    def __len__(self) -> int:
        self._expire()
        return len(self._tokens)

    def issue(self, vm: Any, volume: str) -> str:
        self._expire()
        while len(self._tokens) >= MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]
        token = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(TOKEN_LENGTH))
        while token in self._tokens:  # practically never
            token = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(TOKEN_LENGTH))
        self._tokens[token] = CloneSource(vm, volume, self._clock() + TOKEN_LIFETIME)
        return token

    def peek(self, token: str) -> CloneSource:
        """The source a valid token stands for, without spending it."""
        self._expire()
        source = self._tokens.get(token)
        if source is None:
            raise QubesVolumeCopyTokenNotFoundError(
                "Volume copy token not found: it is unknown, already used or expired "
                "(call admin.vm.volume.CloneFrom again)"
            )
        return source

    def spend(self, token: str) -> CloneSource:
        source = self.peek(token)
        del self._tokens[token]
        return source

    def _expire(self) -> None:
        now = self._clock()
        for token in [t for t, s in self._tokens.items() if s.expires <= now]:
            del self._tokens[token]


def register(table: MethodTable, daemon: Any, tokens: CloneTokens | None = None) -> None:
    tokens = tokens if tokens is not None else CloneTokens()

    @table.method("admin.vm.volume.CloneFrom", arg=Need.REQUIRED, payload=Need.NONE,
                  dest=Dest.ANY)
    async def clone_from(call: Call) -> str:
        volume = volume_of(daemon, call.dest, call.arg)
        # refuse early what the copy would refuse: no committed data to read
        busy = await asyncio.to_thread(lambda: volume.snapshots_disabled and volume.is_running())
        if busy:
            raise StoragePoolException(
                f"Cannot clone {call.dest.name}:{call.arg} while it is in use: with "
                "revisions_to_keep=-1 it has no committed data"
            )
        return tokens.issue(call.dest, call.arg)

    @table.method("admin.vm.volume.CloneTo", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ANY)
    async def clone_to(call: Call) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        token = payload_text(call.payload, "token")
        tokens.peek(token)
        async with qube_lock(daemon, vm):
            dst = volume_of(daemon, vm, call.arg)
            require_halted(vm, "copy data into its volumes")
            source = tokens.spend(token)
            src_vm = source.vm
            if daemon.app.domains.get(src_vm.name) is not src_vm:
                raise StoragePoolException(
                    f"Cannot clone from {src_vm.name}:{source.volume}: the qube has been removed"
                )
            src = volume_of(daemon, src_vm, source.volume)
            await asyncio.to_thread(dst.import_volume, src)
        log.info("cloned %s:%s to %s:%s", src_vm.name, source.volume, vm.name, call.arg)
        daemon.system.touch(vm)
        await daemon.system.commit()
