"""``internal.GetSystemInfo``: the qubes as the qrexec policy engine sees them.

Upstream serves this on qubesd's internal socket to the policy daemon; we serve it on
the Admin API socket to dom0 only, in the same JSON shape, for ``qubes-policy-eval``.
"""

from __future__ import annotations

import json
from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import PermissionDenied
from backend.model.vm import AdminVM


def register(table: MethodTable, daemon: Any) -> None:
    @table.method("internal.GetSystemInfo", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def get_system_info(call: Call) -> str:
        if not isinstance(call.source, AdminVM):
            raise PermissionDenied("internal.GetSystemInfo is for dom0 only")
        info = {"domains": {vm.name: daemon.qube_info(vm) for vm in daemon.app.domains}}
        return json.dumps(info, sort_keys=True)
