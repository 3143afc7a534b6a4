"""The Admin API methods, one module per area; :func:`build_table` assembles them.

Each module offers ``register(table, daemon)`` and adds its handlers to the table.
"""

from __future__ import annotations

from typing import Any

from backend.api.methods import (
    devices,
    events,
    firewall,
    lifecycle,
    qubes,
    storage,
    system,
)
from backend.api.registry import MethodTable

MODULES = (qubes, storage, lifecycle, events, firewall, devices, system)


def build_table(daemon: Any) -> MethodTable:
    table = MethodTable()
    for module in MODULES:
        module.register(table, daemon)
    return table
