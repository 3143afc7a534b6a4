"""Domain control: starting, stopping and watching qubes through libvirt.

:class:`Lifecycle` is what the daemon and the Admin API handlers use. It owns the
daemon's one libvirt connection; the parts live in their own modules: ``starting``
(the start sequence), ``stopping`` (shutdown, kill, pause…), ``watch`` (libvirt
events, reconciliation), ``network`` (live netvm changes), ``disposables``, ``stats``
and ``spec`` (a qube's DomainSpec and XML).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from backend.api.registry import Event
from backend.errors import QubesException, QubesVMError, QubesVMNotHaltedError
from backend.lifecycle import stats, virtops
from backend.lifecycle.core import Core
from backend.lifecycle.disposables import Disposables
from backend.lifecycle.errors import upstream_error
from backend.lifecycle.network import NetworkPlug
from backend.lifecycle.spec import uses_kvm
from backend.lifecycle.starting import Starter
from backend.lifecycle.stopping import Stopper
from backend.lifecycle.watch import Watcher
from backend.model.vm import AdminVM
from backend.virt.connection import VirtConnection
from backend.virt.domainxml import Accel, KvmOptions
from backend.virt.errors import VirtError

log = logging.getLogger("backend.lifecycle")


class Lifecycle:
    """Start, stop and watch the daemon's qubes; one libvirt connection."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.core = Core(daemon)
        self.watcher = Watcher(self.core)
        self.kvm: KvmOptions | None = None
        self.starter = Starter(self.core)
        self.stopper = Stopper(self.core)
        self.network = NetworkPlug(self.core)
        self.disposables = Disposables(
            self.core, self.start_vm, self.stopper.pause, self.stopper.unpause
        )
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def connection(self) -> VirtConnection | None:
        return self.core.conn

    async def settle(self) -> None:
        """Wait for background work in flight (event handling, re-plugging, cleanup)."""
        await self.core.settle()

    def lock(self, vm: Any) -> asyncio.Lock:
        """The qube's start/stop lock, for other areas that need a qube to stay put
        (e.g. removal)."""
        return self.core.lock(vm)

    # --- daemon start and stop -------------------------------------------------------------
    async def start(self) -> None:
        """Connect to libvirt and reconcile every qube's power state with it."""
        uri = self.core.uri
        if uses_kvm(uri):
            kvm_present = await asyncio.to_thread(os.path.exists, "/dev/kvm")
            self.kvm = KvmOptions(accel=Accel.KVM if kvm_present else Accel.TCG)
            self.starter.kvm = self.network.kvm = self.kvm
        conn = VirtConnection(
            uri, on_lifecycle=self.watcher.on_lifecycle, on_reconnect=self.watcher.on_reconnect
        )
        self.core.conn = conn
        self._unsubscribe = self.core.app.events.subscribe(self._on_event)
        try:
            await conn.open()
        except VirtError as exc:
            # serve anyway (reads come from memory); the connection retries on its own
            log.error("%s; domain control is unavailable until libvirt answers", exc)
            self.core.spawn(self._first_contact(), "connecting to libvirt")
            return
        await self.watcher.reconcile()

    async def _first_contact(self) -> None:
        try:
            await self.core.connection().list_active()  # reconnects; reconcile follows
        except VirtError as exc:
            log.debug("libvirt still unreachable: %s", exc)

    async def stop(self) -> None:
        """Disconnect from libvirt; qubes keep running."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.core.cancel_tasks()
        conn, self.core.conn = self.core.conn, None
        if conn is not None:
            await conn.close()

    def _on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        self.network.on_event(subject, event, kwargs)
        if event == "domain-delete" and subject is None:
            vm = kwargs.get("vm")
            if vm is not None and not isinstance(vm, AdminVM):
                self.core.forget(vm)
                self.core.spawn(self.disposables.undefine(vm), f"undefining {vm.name}")

    # --- operations (the Admin API's lifecycle methods) --------------------------------
    async def start_vm(self, vm: Any, start_guid: bool = True) -> None:
        if isinstance(vm, AdminVM):
            raise QubesVMNotHaltedError("dom0 is always running")
        try:
            await self.starter.start(vm, start_guid)
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot start {vm.name}") from exc

    async def shutdown_vm(self, vm: Any, *, force: bool = False, wait: bool = False) -> None:
        self._not_dom0(vm, "shut down")
        await self._guarded(self.stopper.shutdown(vm, force=force, wait=wait), vm, "shut down")

    async def kill_vm(self, vm: Any) -> None:
        self._not_dom0(vm, "killed")
        await self._guarded(self.stopper.kill(vm), vm, "kill")

    async def pause_vm(self, vm: Any) -> None:
        self._not_dom0(vm, "paused")
        await self._guarded(self.stopper.pause(vm), vm, "pause")

    async def unpause_vm(self, vm: Any) -> None:
        self._not_dom0(vm, "unpaused")
        await self._guarded(self.stopper.unpause(vm), vm, "unpause")

    async def suspend_vm(self, vm: Any) -> None:
        self._not_dom0(vm, "suspended")
        await self._guarded(self.stopper.suspend(vm), vm, "suspend")

    async def resume_vm(self, vm: Any) -> None:
        self._not_dom0(vm, "resumed")
        await self._guarded(self.stopper.resume(vm), vm, "resume")

    async def current_state(self, vm: Any) -> str:
        return await stats.current_state(self.core, vm)

    async def console_path(self, vm: Any) -> str:
        """The pty of the qube's console (``admin.vm.Console``)."""
        if isinstance(vm, AdminVM):
            raise QubesException("dom0 has no console to attach to")
        if vm.is_halted():
            raise vm.not_running_error("the qube is not running")
        try:
            facts = await virtops.live_facts(self.core.connection(), vm.uuid)
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot read the console of {vm.name}") from exc
        if not facts.console_tty:
            raise QubesException(
                f"{vm.name} has no console pty: the hypervisor driver does not provide one"
            )
        return facts.console_tty

    async def create_disposable(self, source: Any, dest: Any) -> Any:
        template = self.disposables.template_for(source, dest)
        return await self._guarded(
            self.disposables.create(source, template), template, "create a disposable of"
        )

    async def preload_disposables(self, source: Any, dest: Any) -> None:
        template = self.disposables.template_for(source, dest)
        await self._guarded(self.disposables.refill(template), template, "preload disposables of")

    def stats_stream(self, source: Any, dest: Any) -> AsyncIterator[Event]:
        return stats.stats_stream(self.core, dest, lambda vm: self.daemon.visible_to(source, vm))

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _not_dom0(vm: Any, what: str) -> None:
        if isinstance(vm, AdminVM):
            raise QubesVMError(f"dom0 cannot be {what}")

    @staticmethod
    async def _guarded(coro: Any, vm: Any, what: str) -> Any:
        try:
            return await coro
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot {what} {vm.name}") from exc
