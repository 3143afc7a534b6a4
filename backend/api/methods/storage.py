"""Admin API methods: storage — volumes of qubes, clones, imports, pools.

The handlers live in ``storage_volumes`` (``admin.vm.volume.*``), ``storage_clone``
(``CloneFrom``/``CloneTo``), ``storage_import`` (our streaming-import extension) and
``storage_pools`` (``admin.pool.*``). Disk work runs in worker threads; every change
is committed before the call is answered.
"""

from __future__ import annotations

from typing import Any

from backend.api.methods import storage_clone, storage_import, storage_pools, storage_volumes
from backend.api.registry import MethodTable


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table."""
    storage_volumes.register(table, daemon)
    storage_clone.register(table, daemon)
    storage_import.register(table, daemon)
    storage_pools.register(table, daemon)
