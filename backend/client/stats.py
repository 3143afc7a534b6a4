"""``admin.vm.Stats``: CPU and memory of running qubes, every ``stats_interval`` seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from backend.client.client import AdminClient
from backend.client.model import QubeStats
from backend.client.parse import parse_stats


async def qube_stats(
    client: AdminClient,
    dest: str = "dom0",
    *,
    on_disconnect: Callable[[BaseException | None], object] | None = None,
) -> AsyncIterator[QubeStats]:
    """One record per running qube per interval (dest dom0: every qube), reconnecting.

    Stops only when the consumer stops iterating (``aclose``) or its task is cancelled.
    """
    async for record in client.events(dest, method="admin.vm.Stats",
                                      on_disconnect=on_disconnect):
        if record.event == "vm-stats" and record.subject is not None:
            yield parse_stats(record.subject, record.kwargs)
