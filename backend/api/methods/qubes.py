"""Admin API methods about qubes: the list and classes here; properties, labels,
features and tags, notes, creation and removal, and the bulk extension in the
``qubes_*`` modules, registered from :func:`register`.

This is also where the table's response cache (``backend.api.cache``) starts following
the model's events, since the methods it serves most are these.
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

#: the events after which the set of qubes differs
_MEMBERSHIP_EVENTS = frozenset(("domain-add", "domain-delete"))


def power_states(app: Any) -> tuple[object, ...]:
    """Every qube's power state, in the collection's order."""
    return tuple([vm.power_state for vm in app.domains])


def list_state(dest: Any) -> object:
    """What an ``admin.vm.List`` answer shows that may change without an event."""
    if isinstance(dest, AdminVM):
        return power_states(dest.app)
    return dest.power_state


class VmListCache:
    """``admin.vm.List`` answers with dom0 as destination, one per caller: dom0 sees
    every qube, any other caller what the policy shows it.

    An answer holds until a qube is added or removed (the events), while every qube's
    power state is the same (compared on each read: some changes fire no event) and,
    for callers other than dom0, while the policy and its view of the system are the
    same objects (both are replaced, never changed, when they change).
    """

    def __init__(self, daemon: Any) -> None:
        self._daemon = daemon
        self._answers: dict[Any, tuple[object, str]] = {}
        daemon.app.events.subscribe(self._on_event)

    def _on_event(self, subject: Any, event: str, kwargs: object) -> None:
        if event in _MEMBERSHIP_EVENTS:
            self._answers.clear()

    def text(self, source: Any) -> str:
        daemon = self._daemon
        validity: object = power_states(daemon.app)
        if not isinstance(source, AdminVM):
            validity = (validity, daemon.policy.policy, daemon.system_info())
        kept = self._answers.get(source)
        if kept is not None and kept[0] == validity:
            return kept[1]
        text = self._build(source)
        self._answers[source] = (validity, text)
        return text

    def _build(self, source: Any) -> str:
        daemon = self._daemon
        if isinstance(source, AdminVM):
            vms = list(daemon.app.domains)
        else:
            vms = [vm for vm in daemon.app.domains if daemon.visible_to(source, vm)]
        vms.sort(key=lambda vm: vm.name)
        return "".join([f"{vm_list_line(vm)}\n" for vm in vms])


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table."""
    table.cache.follow(daemon.app.events.subscribe)
    lists = VmListCache(daemon)

    @table.method("admin.vm.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY,
                  cached_while=list_state)
    def vm_list(call: Call) -> str:
        """dom0 as destination: every qube the caller may see; else just the destination."""
        if isinstance(call.dest, AdminVM):
            return lists.text(call.source)
        return f"{vm_list_line(call.dest)}\n"

    @table.method("admin.vmclass.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def vmclass_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in sorted(VM_CLASSES))

    for part in PARTS:
        part.register(table, daemon)
