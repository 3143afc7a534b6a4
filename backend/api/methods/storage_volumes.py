"""Admin API methods: a qube's volumes (``admin.vm.volume.*`` except clone and import)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from backend.api.methods.storage_common import (
    format_lines,
    parse_bool_payload,
    parse_int_payload,
    parse_size_payload,
    payload_text,
    qube_lock,
    require_halted,
    volume_names,
    volume_of,
)
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import PermissionDenied, StoragePoolException
from backend.storage.pool import REVISIONS_PARAMETER, Volume

log = logging.getLogger("backend.api")


def volume_info(volume: Volume) -> str:
    """``admin.vm.volume.Info``: the upstream keys in the upstream order (a few stats)."""
    try:
        return _volume_info(volume)
    except OSError as exc:
        raise StoragePoolException(f"Cannot read the state of volume {volume.vid}: {exc}") from exc


def _volume_info(volume: Volume) -> str:
    return format_lines((
        ("pool", volume.pool.name),
        ("vid", volume.vid),
        ("size", volume.size),
        ("usage", volume.usage),
        ("rw", volume.rw),
        ("source", volume.source),
        ("path", volume.path),
        ("save_on_stop", volume.save_on_stop),
        ("snap_on_start", volume.snap_on_start),
        ("revisions_to_keep", volume.revisions_to_keep),
        ("ephemeral", volume.ephemeral),
        ("is_outdated", volume.is_outdated()),
    ))


def snapshot_list(volume: Volume) -> str:
    """Revision ids, oldest first (by timestamp; ties keep the driver's order)."""
    revisions = volume.revisions
    ordered = sorted(revisions, key=revisions.__getitem__)
    return "".join(f"{revision}\n" for revision in ordered)


def register(table: MethodTable, daemon: Any) -> None:
    system = daemon.system

    async def saved(vm: Any) -> None:
        system.touch(vm)
        await system.commit()

    @table.method("admin.vm.volume.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def volume_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in volume_names(daemon, call.dest))

    @table.method("admin.vm.volume.Info", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    async def info(call: Call) -> str:
        volume = volume_of(daemon, call.dest, call.arg)
        return await asyncio.to_thread(volume_info, volume)

    @table.method("admin.vm.volume.ListSnapshots", arg=Need.REQUIRED, payload=Need.NONE,
                  dest=Dest.ANY)
    async def list_snapshots(call: Call) -> str:
        volume = volume_of(daemon, call.dest, call.arg)
        return await asyncio.to_thread(snapshot_list, volume)

    @table.method("admin.vm.volume.Revert", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ANY)
    async def revert(call: Call) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        revision = payload_text(call.payload, "revision")
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            revisions = await asyncio.to_thread(lambda: volume.revisions)
            if revision not in revisions:
                available = ", ".join(revisions) or "none"
                raise PermissionDenied(
                    f"Volume {vm.name}:{call.arg} has no revision {revision[:40]!r} "
                    f"(available: {available})"
                )
            # refused by the volume while its qube uses it
            await asyncio.to_thread(volume.revert, revision)
        log.info("reverted %s:%s to revision %s", vm.name, call.arg, revision)
        await saved(vm)

    @table.method("admin.vm.volume.Resize", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ANY)
    async def resize(call: Call) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        size = parse_size_payload(call.payload, "size")
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            # the volume refuses to shrink (naming both sizes) before it changes anything
            await asyncio.to_thread(volume.resize, size)
        log.info("resized %s:%s to %d bytes", vm.name, call.arg, size)
        await saved(vm)

    @table.method("admin.vm.volume.Clear", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    async def clear(call: Call) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            require_halted(vm, "clear its volumes")
            # an import of no data: the fresh import image is all zeros, of the same size
            size = await asyncio.to_thread(lambda: volume.size)
            await asyncio.to_thread(volume.import_data, size)
            vm.fire("domain-volume-import-begin", volume=call.arg, size=size)
            try:
                await asyncio.to_thread(volume.import_data_end, True)
            except BaseException:
                vm.fire("domain-volume-import-end", volume=call.arg, success=False)
                raise
            vm.fire("domain-volume-import-end", volume=call.arg, success=True)
        await saved(vm)

    @table.method("admin.vm.volume.Set.revisions_to_keep", arg=Need.REQUIRED,
                  payload=Need.REQUIRED, dest=Dest.ANY)
    async def set_revisions_to_keep(call: Call) -> None:
        vm = call.dest
        volume = volume_of(daemon, vm, call.arg)
        value = parse_int_payload(call.payload, "revisions_to_keep")
        if REVISIONS_PARAMETER not in volume.pool.parameters:
            raise StoragePoolException(
                f"Volume {vm.name}:{call.arg} is in the {volume.pool.driver} pool "
                f"{volume.pool.name}, which keeps no revisions"
            )
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            # the volume checks the range (-1 only for origin volumes, switched only
            # while unused); in a thread, since it waits for the volume's own lock
            await asyncio.to_thread(setattr, volume, "revisions_to_keep", value)
        await saved(vm)

    @table.method("admin.vm.volume.Set.rw", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ANY)
    async def set_rw(call: Call) -> None:
        await set_while_halted(call, "rw", "change whether a volume is writable")

    @table.method("admin.vm.volume.Set.ephemeral", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ANY)
    async def set_ephemeral(call: Call) -> None:
        await set_while_halted(call, "ephemeral", "change whether a volume is ephemeral")

    async def set_while_halted(call: Call, attribute: str, action: str) -> None:
        vm = call.dest
        volume_of(daemon, vm, call.arg)
        value = parse_bool_payload(call.payload, attribute)
        async with qube_lock(daemon, vm):
            volume = volume_of(daemon, vm, call.arg)
            require_halted(vm, action)
            setattr(volume, attribute, value)  # the volume validates
        await saved(vm)
