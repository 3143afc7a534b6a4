"""``admin.vm.Start``: the start sequence of core-model.md §4.2, as far as it applies
without Xen (no qmemman, QubesDB or qrexec daemons).

Events, in order (§5.3): ``domain-pre-start`` → ``domain-pre-spawn`` →
``property-reset:xid``/``stubdom_xid``/``start_time`` → ``domain-spawn`` →
``domain-qdb-create`` → ``domain-pre-unpaused`` → ``domain-unpaused`` →
``domain-start``. Any failure fires ``domain-start-failed(reason)`` and leaves the
qube as it was: storage stopped, domain destroyed if it had been created.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from backend.errors import QubesException, QubesVMError, QubesVMNotFoundError
from backend.lifecycle import spec as specs
from backend.lifecycle import virtops
from backend.lifecycle.core import Core
from backend.lifecycle.errors import start_failed, with_message
from backend.model.vm import AdminVM, PowerState
from backend.virt.domainxml import KvmOptions
from backend.virt.errors import VirtDomainNotFoundError, VirtError, VirtInvalidOperationError
from backend.virt.states import PowerState as VirtState

log = logging.getLogger("backend.lifecycle")


class Starter:
    def __init__(self, core: Core, kvm: KvmOptions | None = None) -> None:
        self.core = core
        self.kvm = kvm

    async def start(self, vm: Any, start_guid: bool = True) -> None:
        core = self.core
        async with core.lock(vm):
            if vm not in core.app.domains:
                raise QubesVMNotFoundError(vm.name)
            if not vm.is_halted():
                return
            # a domain may be running that the model has not caught up with yet
            await core.sync_locked(vm)
            if not vm.is_halted():
                return
            core.starting.add(vm.uuid)
            try:
                await self._sequence(vm, start_guid)
            except BaseException:
                core.starting.discard(vm.uuid)
                # a failed start leaves nothing behind (an unnamed disposable goes)
                if vm.is_halted():
                    await core.run_stop_hooks(vm)
                raise
            core.starting.discard(vm.uuid)

    async def _sequence(self, vm: Any, start_guid: bool) -> None:
        rationale = vm.features.get("prohibit-start")
        if rationale:
            self._failed(vm, f"Starting {vm.name} is prohibited: {rationale}")
            raise QubesException(f"Starting {vm.name} is prohibited: {rationale}")
        vm.fire("domain-pre-start", start_guid=start_guid, mem_required=None)
        storage = await self._prepare(vm, start_guid)
        uuid = await self._spawn(vm, storage, start_guid)
        try:
            vm.fire("domain-spawn", start_guid=start_guid)
            vm.fire("domain-qdb-create")
            vm.fire("domain-pre-unpaused")
            await self.core.connection().resume(uuid)
            self.core.mark_unpaused(vm)
            vm.fire("domain-start", start_guid=start_guid)
        except Exception as exc:
            reason = str(start_failed(exc) if isinstance(exc, VirtError) else exc)
            await self._kill(vm, uuid)
            self._failed(vm, reason)
            if isinstance(exc, VirtError):
                raise start_failed(exc) from exc
            raise
        log.info("%s started", vm.name)

    async def _prepare(self, vm: Any, start_guid: bool) -> Any:
        """Checks, netvm, storage (steps 5–9); returns the qube's storage."""
        try:
            self._check_devices(vm)
            storage = self.core.system.storage(vm)
            await asyncio.to_thread(storage.verify)
            vm.fire("domain-verify-files")
            await self._start_netvm(vm, start_guid)
            await asyncio.to_thread(storage.start)
        except QubesException as exc:
            self._failed(vm, str(exc))
            raise
        except Exception as exc:
            self._failed(vm, str(exc))
            raise QubesVMError(f"Start of {vm.name} failed: {exc}") from exc
        return storage

    async def _spawn(self, vm: Any, storage: Any, start_guid: bool) -> str:
        """Define and create the domain, paused (steps 10–11)."""
        core = self.core
        vm.fire("domain-pre-spawn", start_guid=start_guid)
        conn = core.connection()
        uuid = None
        try:
            devices = await asyncio.to_thread(storage.block_devices)
            directory = specs.kernel_dir(core.system, vm)
            files = (
                None
                if directory is None
                else await asyncio.to_thread(specs.probe_kernel, directory)
            )
            spec = specs.build_spec(core.system, vm, volumes=devices, kernel_files=files)
            uuid = await conn.define(specs.domain_xml(spec, core.uri, self.kvm))
            await conn.start_paused(uuid)
        except Exception as exc:
            error = start_failed(exc) if isinstance(exc, VirtError) else exc
            log.error("start of %s failed: %s", vm.name, error)
            if uuid is not None:  # the domain may be half-started (created, not paused)
                await self._destroy_quietly(uuid)
            await self._stop_storage(vm, storage)
            self._failed(vm, str(error))
            if error is exc:
                raise
            raise error from exc
        try:
            facts = await virtops.live_facts(conn, uuid)
        except VirtError:
            facts = virtops.LiveFacts(xid=-1, console_tty=None)
        core.mark_spawned(vm, facts.xid, PowerState.PAUSED)
        return uuid

    async def _start_netvm(self, vm: Any, start_guid: bool) -> None:
        netvm = vm.netvm
        if netvm is None or isinstance(netvm, AdminVM) or netvm.is_running():
            return
        try:
            await self.start(netvm, start_guid)
        except QubesException as exc:
            raise with_message(
                exc, f"{vm.name} cannot start: its netvm {netvm.name} did not start: {exc}"
            ) from exc

    def _check_devices(self, vm: Any) -> None:
        """Required assignments must name an existing backend that is running."""
        for devclass, assignments in vm.devices.items():
            for assignment in assignments:
                if assignment.mode != "required":
                    continue
                backend = self.core.app.domains.get(assignment.backend_domain)
                if backend is None or not backend.is_running():
                    raise QubesException(
                        f"{devclass.upper() if devclass == 'pci' else devclass.capitalize()} "
                        f"device {assignment.backend_domain}:{assignment.port_id} not available"
                    )

    async def _kill(self, vm: Any, uuid: str) -> None:
        await self._destroy_quietly(uuid)
        await self.core.apply(vm, VirtState.HALTED)

    async def _destroy_quietly(self, uuid: str) -> None:
        try:
            await self.core.connection().destroy(uuid)
        except (VirtDomainNotFoundError, VirtInvalidOperationError):
            pass  # not running: nothing to undo
        except VirtError as exc:
            log.warning("cannot destroy domain %s after a failed start: %s", uuid, exc)

    async def _stop_storage(self, vm: Any, storage: Any) -> None:
        try:
            await asyncio.to_thread(storage.stop)
        except Exception:
            log.exception("stopping the storage of %s after a failed start failed", vm.name)

    @staticmethod
    def _failed(vm: Any, reason: str) -> None:
        log.warning("start of %s failed: %s", vm.name, reason)
        vm.fire("domain-start-failed", reason=reason)
