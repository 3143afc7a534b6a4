"""Admin API methods: a qube's firewall (``admin.vm.firewall.Get`` / ``Set`` / ``Reload``).

The destination must not be dom0. ``Get`` answers one rule per line from memory,
expired rules left out; ``Set`` replaces the whole list, refusing it entirely on any
bad line (nothing written), and returns once firewall.xml is on disk; ``Reload``
fires ``firewall-changed`` (admin-api.md §1.7, core-model.md §6).

:func:`register` also sets up ``daemon.firewalls`` (a :class:`FirewallKeeper`).
"""

from __future__ import annotations

from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.firewall.apiformat import firewall_from_api, format_rules
from backend.firewall.store import FirewallKeeper


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table, and the firewall keeper to the daemon."""
    keeper = FirewallKeeper(daemon.system)
    daemon.firewalls = keeper
    keeper.start()  # loads now if the loop runs already, else on first use

    @table.method("admin.vm.firewall.Get", arg=Need.NONE, payload=Need.NONE,
                  dest=Dest.NOT_ADMINVM)
    async def firewall_get(call: Call) -> str:
        await keeper.loaded()
        return format_rules(keeper.active(call.dest).rules).decode("ascii")

    @table.method("admin.vm.firewall.Set", arg=Need.NONE, payload=Need.OPTIONAL,
                  dest=Dest.NOT_ADMINVM)
    async def firewall_set(call: Call) -> None:
        firewall = firewall_from_api(call.payload)  # all or nothing: raises before any change
        await keeper.set(call.dest, firewall)

    @table.method("admin.vm.firewall.Reload", arg=Need.NONE, payload=Need.NONE,
                  dest=Dest.NOT_ADMINVM)
    async def firewall_reload(call: Call) -> None:
        await keeper.loaded()
        keeper.reload(call.dest)
