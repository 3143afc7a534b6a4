"""Keeping the model in step with libvirt: lifecycle events and reconciliation.

A libvirt event only says "look at this domain again": the handler re-reads the
domain's state under the qube's lock and applies it (``Core.sync``), so late,
duplicate or reordered events — including those caused by our own calls — change
nothing. After (re)connecting, every qube whose state disagrees with libvirt's list
of active domains is re-read the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from backend.lifecycle.core import Core
from backend.model.vm import AdminVM, PowerState
from backend.virt.errors import VirtError
from backend.virt.states import DomainStatus, LifecycleEvent, LifecycleKind

log = logging.getLogger("backend.lifecycle")

#: events that may mean a state change; DEFINED / UNDEFINED do not
_STATE_EVENTS = frozenset(
    {
        LifecycleKind.STARTED,
        LifecycleKind.SUSPENDED,
        LifecycleKind.RESUMED,
        LifecycleKind.STOPPED,
        LifecycleKind.SHUTDOWN,
        LifecycleKind.PMSUSPENDED,
        LifecycleKind.CRASHED,
    }
)


class Watcher:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._pending: set[str] = set()
        self._reconcile_lock = asyncio.Lock()

    def on_lifecycle(self, event: LifecycleEvent) -> None:
        """libvirt's event, on the loop's thread: schedule one re-read per qube."""
        if event.kind not in _STATE_EVENTS:
            return
        vm = self.core.qube_by_uuid(event.uuid)
        if vm is None or vm.uuid in self._pending:
            return
        self._pending.add(vm.uuid)
        self.core.spawn(self._resync(vm), f"handling {event.kind.name} of {vm.name}")

    async def _resync(self, vm: Any) -> None:
        async with self.core.lock(vm):
            self._pending.discard(vm.uuid)
            if vm not in self.core.app.domains and vm.is_halted():
                return
            await self.core.sync_locked(vm)

    async def on_reconnect(self) -> None:
        log.info("libvirt connection re-established; re-reading the state of every qube")
        await self.reconcile()

    async def reconcile(self) -> None:
        """Bring every qube's state in line with libvirt's active domains."""
        async with self._reconcile_lock:
            try:
                active = {s.uuid: s for s in await self.core.connection().list_active()}
            except VirtError as exc:
                log.warning("cannot list libvirt's domains: %s", exc)
                return
            stale = []
            for vm in self.core.app.domains:
                if isinstance(vm, AdminVM):
                    continue
                status = active.get(vm.uuid)
                if _agrees(vm, status):
                    if status is not None and status.xid >= 0:
                        vm.runtime.xid = status.xid
                    continue
                stale.append(vm)
            if stale:
                log.info("re-reading %d qubes: %s", len(stale), ", ".join(v.name for v in stale))
                results = await asyncio.gather(
                    *(self._resync(vm) for vm in stale), return_exceptions=True
                )
                for vm, result in zip(stale, results, strict=True):
                    if isinstance(result, Exception):
                        log.warning("cannot re-read the state of %s: %s", vm.name, result)


def _agrees(vm: Any, status: DomainStatus | None) -> bool:
    if status is None:
        return vm.power_state is PowerState.HALTED
    return vm.power_state.value == status.power_state.value or (
        vm.power_state is PowerState.TRANSIENT and status.power_state.value == "Running"
    )
