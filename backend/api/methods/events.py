"""admin.Events: every event of the app and the qubes, as upstream streams them."""

from __future__ import annotations

from typing import Any

from backend.api.events import EventStream
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.model.vm import AdminVM

#: internal events that upstream never sends to clients
SUPPRESSED_PREFIXES = ("admin-permission:", "device-get:", "device-list:",
                       "device-list-attached:")
SUPPRESSED = frozenset({"domain-is-fully-usable"})


def register(table: MethodTable, daemon: Any) -> None:
    @table.method("admin.Events", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def events(call: Call) -> EventStream:
        stream = EventStream()
        source, dest = call.source, call.dest
        everything = isinstance(dest, AdminVM)
        trusted = isinstance(source, AdminVM)

        def forward(subject: Any, event: str, kwargs: dict[str, Any]) -> None:
            if event in SUPPRESSED or event.startswith(SUPPRESSED_PREFIXES):
                return
            if not everything and subject is not dest:
                return
            if not trusted:
                vm = kwargs.get("vm")
                if not daemon.policy.event_allowed(
                    source.name, event, None if subject is None else subject.name,
                    daemon.system_info(), vm=None if vm is None else str(vm),
                ):
                    return
            stream.put(subject, event, **kwargs)

        stream.on_close(daemon.app.events.subscribe(forward))
        return stream
