"""Admin API methods about qubes: the list and classes here; properties, labels,
features and tags, notes, creation and removal, and the bulk extension in the
``qubes_*`` modules, registered from :func:`register`.
"""

from __future__ import annotations

from typing import Any

from backend.api.methods import (
    qubes_bulk,
    qubes_create,
    qubes_features,
    qubes_labels,
    qubes_notes,
    qubes_props,
)
from backend.api.methods.qubes_bulk import vm_list_line
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.model.vm import VM_CLASSES, AdminVM

PARTS = (qubes_props, qubes_labels, qubes_features, qubes_notes, qubes_create, qubes_bulk)


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table."""

    @table.method("admin.vm.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def vm_list(call: Call) -> str:
        """dom0 as destination: every qube the caller may see; else just the destination."""
        if isinstance(call.dest, AdminVM):
            source = call.source
            vms = [vm for vm in daemon.app.domains if daemon.visible_to(source, vm)]
        else:
            vms = [call.dest]
        vms.sort(key=lambda vm: vm.name)
        return "".join(f"{vm_list_line(vm)}\n" for vm in vms)

    @table.method("admin.vmclass.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def vmclass_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in sorted(VM_CLASSES))

    for part in PARTS:
        part.register(table, daemon)
