"""Reading the whole system at once: the bulk extension when offered, else per qube.

Per qube (upstream): ``admin.vm.List`` and one ``GetAll`` per qube, concurrently,
plus the global properties and the labels; features and tags are left to the cache,
which loads them after the table is shown. The bulk method of our daemon
(``backend.client.bulk``) returns all of it, features and tags included, in one call.
"""

from __future__ import annotations

import asyncio
import logging
from types import MappingProxyType

from backend import errors
from backend.client import bulk, loader
from backend.client.client import AdminClient
from backend.client.model import QubeSnapshot, SystemData
from backend.client.parse import ListEntry

log = logging.getLogger("backend.client")


async def load_system(client: AdminClient, *, bulk_allowed: bool) -> SystemData:
    """Read the system; try the bulk method first when allowed.

    A daemon without it (a real qubesd) answers ProtocolError ("no such method"), or
    an empty response when it is older than 4.4, or PermissionDenied when policy
    denies the extension: all of these mean "use the upstream calls".
    """
    if bulk_allowed:
        try:
            return await bulk.load(client)
        except bulk.UNSUPPORTED as exc:
            log.info("no bulk load (%s: %s), using the per-qube calls",
                     type(exc).__name__, exc)
    return await load_per_qube(client)


async def load_per_qube(client: AdminClient) -> SystemData:
    entries = await loader.fetch_list(client)
    labels_task = asyncio.ensure_future(loader.fetch_labels(client))
    globals_task = asyncio.ensure_future(loader.fetch_properties(client, None))
    try:
        snapshots = await asyncio.gather(*(_snapshot(client, e) for e in entries.values()))
        labels, global_properties = await asyncio.gather(labels_task, globals_task)
    except BaseException:
        labels_task.cancel()
        globals_task.cancel()
        raise
    qubes = {snapshot.name: snapshot for snapshot in snapshots if snapshot is not None}
    return SystemData(qubes, labels, global_properties, details_included=False)


async def _snapshot(client: AdminClient, entry: ListEntry) -> QubeSnapshot | None:
    try:
        properties = await loader.fetch_properties(client, entry.name)
    except errors.QubesVMNotFoundError:
        return None  # removed since the list was read; its domain-delete follows
    return QubeSnapshot(entry.name, entry.klass, entry.state, entry.uuid,
                        MappingProxyType(properties))
