"""Streaming volume import: our extension methods behind ``admin.vm.volume.Import``.

Upstream streams volume data outside ``qubesd.sock`` (admin-api.md §1.8): the qrexec
script ``admin.vm.volume.Import`` asks qubesd's internal socket for a file to write
into, copies its stdin there and reports the outcome. We offer the same two steps on
our socket as optional extension methods (a real qubesd answers them with "no such
method"); ``backend/import_volume.py`` is the script that uses them.

``admin.backend.volume.ImportBegin+<volume>`` — destination the qube, payload empty
(import exactly the volume's current size) or a decimal size in bytes. The qube must be
halted. Answers ``<size> <path>``: the caller writes exactly ``size`` bytes into the
existing file ``path`` (without truncating or recreating it), then calls

``admin.backend.volume.ImportEnd+<volume>`` — payload ``ok`` to commit the data (the
old data becomes a revision), or ``fail\\n<message>`` to discard it; a failure is
answered with ``QubesException("Data import failed: <message>")``.

Events on the qube: ``domain-volume-import-begin`` (``volume``, ``size``) once the
import file exists, ``domain-volume-import-end`` (``volume``, ``success``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

from backend.api.methods.storage_common import (
    parse_size_payload,
    qube_lock,
    require_halted,
    volume_of,
)
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import QubesException, StoragePoolException
from backend.storage.pool import Volume

log = logging.getLogger("backend.api")

BEGIN_METHOD = "admin.backend.volume.ImportBegin"
END_METHOD = "admin.backend.volume.ImportEnd"


@dataclass(frozen=True)
class PendingImport:
    volume: Volume
    size: int
    path: str


def finish_import(pending: PendingImport, success: bool) -> str | None:
    """Commit or discard; returns why a reported success was turned into a failure."""
    problem = None
    if success:
        try:
            written = os.path.getsize(pending.path)
        except OSError as exc:
            problem = f"the import file cannot be read: {exc.strerror}"
        else:
            if written != pending.size:
                problem = f"{written} bytes in the import file, {pending.size} expected"
        success = problem is None
    pending.volume.import_data_end(success)
    return problem


def failure_message(payload: bytes) -> str:
    _, _, message = payload.partition(b"\n")
    return message.decode("ascii", "replace").strip() or "no reason given"


def register(table: MethodTable, daemon: Any) -> None:
    pending: dict[tuple[str, str], PendingImport] = {}

    @table.method(BEGIN_METHOD, arg=Need.REQUIRED, payload=Need.OPTIONAL, dest=Dest.ANY)
    async def begin(call: Call) -> str:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        requested = parse_size_payload(call.payload, "size of new data") if call.payload else None
        key = (vm.uuid, call.arg)
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            require_halted(vm, "import data into its volumes")
            if key in pending:
                raise StoragePoolException(
                    f"An import into {vm.name}:{call.arg} is already in progress"
                )
            size = requested if requested is not None else await asyncio.to_thread(
                lambda: volume.size
            )
            # from here on the volume refuses to start until the import ends
            path = await asyncio.to_thread(volume.import_data, size)
            pending[key] = PendingImport(volume, size, path)
        vm.fire("domain-volume-import-begin", volume=call.arg, size=size)
        log.info("import into %s:%s of %d bytes begins", vm.name, call.arg, size)
        return f"{size} {path}"

    @table.method(END_METHOD, arg=Need.REQUIRED, payload=Need.REQUIRED, dest=Dest.ANY)
    async def end(call: Call) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        record = pending.pop((vm.uuid, call.arg), None)
        if record is None:
            raise StoragePoolException(f"No import into {vm.name}:{call.arg} is in progress")
        success = call.payload == b"ok"
        try:
            async with qube_lock(daemon, vm):
                problem = await asyncio.to_thread(finish_import, record, success)
        except BaseException:
            vm.fire("domain-volume-import-end", volume=call.arg, success=False)
            raise
        vm.fire("domain-volume-import-end", volume=call.arg, success=success and not problem)
        log.info("import into %s:%s %s", vm.name, call.arg,
                 "committed" if success and not problem else "discarded")
        if success and not problem:
            daemon.system.touch(vm)
            await daemon.system.commit()
            return
        reason = problem if problem is not None else failure_message(call.payload)
        raise QubesException(f"Data import failed: {reason}")
