"""admin.vm.notes.Get / Set: a qube's free-text notes (not for dom0).

Notes live in ``<qube dir>/notes.txt``, outside qubes.xml, so a Set writes that file
(atomically, then syncs its directory) instead of committing the store. At most
256,000 bytes are taken (ProtocolError beyond, as upstream); characters unsafe for
display become ``_``. File I/O runs in a worker thread, one writer per qube at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import ProtocolError
from backend.model.notes import MAX_NOTES_BYTES, sanitize_notes


def check_notes_size(payload: bytes) -> None:
    if len(payload) > MAX_NOTES_BYTES:
        raise ProtocolError(
            f"Maximum note size is {MAX_NOTES_BYTES} bytes ({len(payload)} bytes received)"
        )


def register(table: MethodTable, daemon: Any) -> None:
    system = daemon.system
    locks: dict[str, asyncio.Lock] = {}

    write_durably = system.write_notes  # temp file, fsync, rename, fsync of the dir

    @table.method("admin.vm.notes.Get", arg=Need.NONE, payload=Need.NONE, dest=Dest.NOT_ADMINVM)
    async def notes_get(call: Call) -> str:
        text: str = await asyncio.to_thread(system.read_notes, call.dest)
        return text

    @table.method("admin.vm.notes.Set", arg=Need.NONE, payload=Need.OPTIONAL, dest=Dest.NOT_ADMINVM)
    async def notes_set(call: Call) -> None:
        check_notes_size(call.payload)
        text = sanitize_notes(call.payload)
        vm = call.dest
        # kept for the daemon's life: one small lock per qube name ever written
        async with locks.setdefault(vm.name, asyncio.Lock()):
            await asyncio.to_thread(write_durably, vm, text)
