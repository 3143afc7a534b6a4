"""Shutdown, kill, pause, unpause, suspend and resume (core-model.md §4.3)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from backend.errors import (
    QubesVMInUseError,
    QubesVMNotPausedError,
    QubesVMNotRunningError,
    QubesVMNotStartedError,
    QubesVMShutdownTimeoutError,
)
from backend.lifecycle import virtops
from backend.lifecycle.core import Core
from backend.lifecycle.errors import upstream_error
from backend.model.vm import PowerState
from backend.virt.errors import (
    VirtDomainNotFoundError,
    VirtError,
    VirtInvalidOperationError,
    VirtUnsupportedError,
)
from backend.virt.states import PowerState as VirtState

log = logging.getLogger("backend.lifecycle")

PAUSED_STATES = (PowerState.PAUSED, PowerState.SUSPENDED)


def dependants(vm: Any) -> list[str]:
    """Running qubes that need ``vm``: as their netvm (preloaded disposables do not
    count), GuiVM or AudioVM."""
    names = []
    for other in vm.app.domains:
        if other is vm or not other.is_running() or "netvm" not in other.PROPS:
            continue
        if other.netvm is vm and not other.is_preloaded():
            names.append(other.name)
        elif any(other.get_or(prop) is vm for prop in ("guivm", "audiovm")):
            names.append(other.name)
    return sorted(names)


class Stopper:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def shutdown(
        self, vm: Any, *, force: bool = False, wait: bool = False, timeout: float | None = None
    ) -> None:
        core = self.core
        async with core.lock(vm):
            if vm.is_halted():
                raise QubesVMNotStartedError(f"{vm.name} is not running")
            try:
                vm.fire("domain-pre-shutdown", force=force)
                users = dependants(vm)
                if users and not force:
                    raise QubesVMInUseError(
                        f"{vm.name} is still used by running qubes: {', '.join(users)}; "
                        "shut them down first, or force the shutdown"
                    )
                if vm.power_state in PAUSED_STATES:
                    if not force and not vm.is_preloaded():
                        raise QubesVMNotRunningError(
                            f"{vm.name} is paused; unpause it first, or force the shutdown"
                        )
                    await self._destroy(vm)
                    return
                await self._request_shutdown(vm)
            except Exception as exc:
                vm.fire("domain-shutdown-failed", reason=str(exc))
                raise
            # the stop cannot be handled before this: handling it takes the lock
            waiter = core.stop_waiter(vm)
            try:
                # a hypervisor that shuts down at once (libvirt's test driver) is done now
                await core.sync_locked(vm)
            except BaseException:
                core.drop_waiter(vm, waiter)
                raise
        if not wait or waiter.done():
            core.drop_waiter(vm, waiter)
            return
        limit = timeout if timeout is not None else vm.get("shutdown_timeout")
        try:
            await asyncio.wait_for(asyncio.shield(waiter), limit)
        except TimeoutError:
            core.drop_waiter(vm, waiter)
            error = QubesVMShutdownTimeoutError(
                f"{vm.name} did not shut down within {limit} seconds"
            )
            vm.fire("domain-shutdown-failed", reason=str(error))
            raise error from None

    async def _request_shutdown(self, vm: Any) -> None:
        try:
            await self.core.connection().shutdown(vm.uuid)
        except (VirtDomainNotFoundError, VirtInvalidOperationError):
            return  # already gone: the state re-read below handles the stop
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot shut down {vm.name}") from exc

    async def kill(self, vm: Any) -> None:
        async with self.core.lock(vm):
            if vm.is_halted():
                raise QubesVMNotStartedError(f"{vm.name} is not running")
            await self._destroy(vm)

    async def _destroy(self, vm: Any) -> None:
        """Destroy the domain and handle its stop before returning (lock held)."""
        try:
            await self.core.connection().destroy(vm.uuid)
        except (VirtDomainNotFoundError, VirtInvalidOperationError):
            pass  # not running in libvirt any more: only the model has to catch up
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot kill {vm.name}") from exc
        await self.core.apply(vm, VirtState.HALTED)

    async def pause(self, vm: Any) -> None:
        async with self.core.lock(vm):
            if vm.power_state not in (PowerState.RUNNING, PowerState.TRANSIENT):
                raise QubesVMNotRunningError(f"{vm.name} is not running")
            vm.fire("domain-pre-paused")
            try:
                await self.core.connection().suspend(vm.uuid)
            except VirtError as exc:
                raise upstream_error(exc, f"Cannot pause {vm.name}") from exc
            self.core.mark_paused(vm)

    async def unpause(self, vm: Any) -> None:
        async with self.core.lock(vm):
            if vm.power_state is not PowerState.PAUSED:
                raise QubesVMNotPausedError(f"{vm.name} is not paused")
            await self._resume_locked(vm)

    async def _resume_locked(self, vm: Any) -> None:
        vm.fire("domain-pre-unpaused")
        try:
            await self.core.connection().resume(vm.uuid)
        except VirtError as exc:
            raise upstream_error(exc, f"Cannot unpause {vm.name}") from exc
        self.core.mark_unpaused(vm)

    async def suspend(self, vm: Any) -> None:
        """PM suspend; where the hypervisor or guest cannot, pause instead (upstream)."""
        async with self.core.lock(vm):
            if vm.is_halted() or vm.power_state is PowerState.SUSPENDED:
                raise QubesVMNotRunningError(f"{vm.name} is not running")
            if vm.power_state is PowerState.PAUSED:
                return
            try:
                await virtops.pm_suspend(self.core.connection(), vm.uuid)
            except VirtUnsupportedError:
                log.debug("%s cannot be PM-suspended; pausing it", vm.name)
                vm.fire("domain-pre-paused")
                try:
                    await self.core.connection().suspend(vm.uuid)
                except VirtError as exc:
                    raise upstream_error(exc, f"Cannot suspend {vm.name}") from exc
                self.core.mark_paused(vm)
                return
            except VirtError as exc:
                raise upstream_error(exc, f"Cannot suspend {vm.name}") from exc
            vm.power_state = PowerState.SUSPENDED

    async def resume(self, vm: Any) -> None:
        async with self.core.lock(vm):
            if vm.power_state is PowerState.SUSPENDED:
                try:
                    await virtops.pm_wakeup(self.core.connection(), vm.uuid)
                except VirtError as exc:
                    raise upstream_error(exc, f"Cannot resume {vm.name}") from exc
                vm.power_state = PowerState.RUNNING
                vm.fire("domain-resumed")
                return
            if vm.power_state is not PowerState.PAUSED:
                raise QubesVMNotPausedError(f"{vm.name} is not suspended or paused")
            await self._resume_locked(vm)
