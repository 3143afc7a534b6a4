"""What the lifecycle parts share: the connection, per-qube locks, and state transitions.

The model's ``power_state`` changes only here, and every change is idempotent: the
API path (after its own libvirt call) and the libvirt event path (after re-reading
the domain's state) may both apply the same transition, and only the first one fires
events. Everything that reads libvirt and then changes the model runs under the
qube's lock, so a stale reading can never undo a newer change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from backend.errors import QubesVMError
from backend.lifecycle import virtops
from backend.model.vm import AdminVM, PowerState, Runtime
from backend.virt.connection import VirtConnection
from backend.virt.errors import VirtDomainNotFoundError, VirtError
from backend.virt.states import PowerState as VirtState

log = logging.getLogger("backend.lifecycle")

RUNTIME_PROPS = ("xid", "stubdom_xid", "start_time")
StopHook = Callable[[Any], Awaitable[None]]


class Core:
    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.system = daemon.system
        self.app = daemon.app
        self.uri: str = daemon.libvirt_uri
        self.conn: VirtConnection | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._stop_waiters: dict[str, list[asyncio.Future[None]]] = {}
        #: uuids in the start sequence: their stop hooks wait for the start to fail
        self.starting: set[str] = set()
        #: run after domain-shutdown (e.g. removing an auto_cleanup disposable)
        self.stop_hooks: list[StopHook] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- plumbing ----------------------------------------------------------------------
    def connection(self) -> VirtConnection:
        if self.conn is None:
            raise QubesVMError("Domain control is not available: no libvirt connection")
        return self.conn

    def lock(self, vm: Any) -> asyncio.Lock:
        """The qube's start/stop lock: every state change of one qube is serialised."""
        lock = self._locks.get(vm.uuid)
        if lock is None:
            lock = self._locks[vm.uuid] = asyncio.Lock()
        return lock

    def forget(self, vm: Any) -> None:
        self._locks.pop(vm.uuid, None)

    def spawn(self, coro: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        """A background task owned by the lifecycle (cancelled on stop, errors logged)."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", what)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            close = getattr(coro, "close", None)
            if close is not None:  # cancelled before it ran: don't leave it never awaited
                close()

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(done)
        return task

    async def settle(self) -> None:
        """Wait until the background work started so far (and what it started) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def qube_by_uuid(self, uuid: str) -> Any:
        vm = self.app.domains.get(f"uuid:{uuid}")
        return None if vm is None or isinstance(vm, AdminVM) else vm

    # --- transitions (idempotent) --------------------------------------------------------
    def mark_spawned(self, vm: Any, xid: int, state: PowerState) -> None:
        vm.runtime = Runtime(xid=xid, start_time=f"{time.time():.2f}")
        vm.power_state = state
        vm.announce(RUNTIME_PROPS)

    def mark_paused(self, vm: Any) -> None:
        if vm.power_state in (PowerState.RUNNING, PowerState.TRANSIENT, PowerState.HALTING):
            vm.power_state = PowerState.PAUSED
            vm.fire("domain-paused")

    def mark_unpaused(self, vm: Any) -> None:
        if vm.power_state in (PowerState.PAUSED, PowerState.SUSPENDED):
            vm.power_state = PowerState.RUNNING
            vm.fire("domain-unpaused")

    async def handle_stopped(self, vm: Any) -> None:
        """The domain is gone: stop its storage and tell everyone, once (§4.3, §5.3)."""
        if vm.power_state is PowerState.HALTED:
            return
        vm.power_state = PowerState.HALTED
        vm.runtime = Runtime()
        log.debug("%s stopped", vm.name)
        vm.fire("domain-stopped")
        storage = self.system.storages.get(vm.name)
        if storage is not None:
            try:
                await asyncio.to_thread(storage.stop)
            except Exception:
                log.exception("stopping the storage of %s failed", vm.name)
        vm.announce(RUNTIME_PROPS)
        vm.fire("domain-shutdown")
        for waiter in self._stop_waiters.pop(vm.uuid, []):
            if not waiter.done():
                waiter.set_result(None)
        if vm.uuid not in self.starting:
            await self.run_stop_hooks(vm)

    async def run_stop_hooks(self, vm: Any) -> None:
        for hook in self.stop_hooks:
            try:
                await hook(vm)
            except Exception:
                log.exception("after-stop handling of %s failed", vm.name)

    def stop_waiter(self, vm: Any) -> asyncio.Future[None]:
        """A future set when ``vm``'s stop has been handled (``domain-shutdown`` fired)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop_waiters.setdefault(vm.uuid, []).append(future)
        return future

    def drop_waiter(self, vm: Any, future: asyncio.Future[None]) -> None:
        waiters = self._stop_waiters.get(vm.uuid, [])
        if future in waiters:
            waiters.remove(future)

    # --- libvirt's view applied to the model ----------------------------------------------
    async def sync(self, vm: Any) -> None:
        """Re-read ``vm``'s state from libvirt and apply it, under the qube's lock."""
        async with self.lock(vm):
            if vm not in self.app.domains and vm.is_halted():
                return
            await self.sync_locked(vm)

    async def sync_locked(self, vm: Any) -> None:
        try:
            state = await self.connection().state(vm.uuid)
        except VirtDomainNotFoundError:
            state = VirtState.HALTED
        await self.apply(vm, state)

    async def apply(self, vm: Any, state: VirtState) -> None:
        """Move the model to libvirt's ``state`` (the caller holds the qube's lock)."""
        current = vm.power_state
        if state is VirtState.HALTED:
            await self.handle_stopped(vm)
        elif current is PowerState.HALTED:
            await self._adopt(vm, state)
        elif state is VirtState.PAUSED:
            self.mark_paused(vm)
        elif state is VirtState.RUNNING:
            self.mark_unpaused(vm)
            if vm.power_state in (PowerState.HALTING, PowerState.CRASHED, PowerState.DYING):
                vm.power_state = PowerState.RUNNING
        else:
            vm.power_state = PowerState(state.value)

    async def _adopt(self, vm: Any, state: VirtState) -> None:
        """A domain of ours runs that the model thought halted (started elsewhere, or
        found at daemon start): take it as it is."""
        try:
            facts = await virtops.live_facts(self.connection(), vm.uuid)
        except VirtError:
            facts = virtops.LiveFacts(xid=-1, console_tty=None)
        log.info("%s is running (found in libvirt, state %s)", vm.name, state.value)
        self.mark_spawned(vm, facts.xid, PowerState(state.value))
        vm.fire("domain-start", start_guid=False)
        if state is VirtState.PAUSED:
            vm.fire("domain-paused")
