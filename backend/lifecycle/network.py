"""Live network changes: re-plugging a running qube when its netvm changes, and
unplugging / plugging clients when their netvm stops / starts (core-model.md §1.7).

The model has already validated the change (the new netvm runs). The old interface
is detached and the new one attached through libvirt; the persistent definition is
updated as well. Hypervisors that cannot hot-plug (libvirt's test driver) keep the
live interface, and the change takes effect at the next start. A paused qube is
re-plugged when it is unpaused.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

from backend.lifecycle import spec as specs
from backend.lifecycle import virtops
from backend.lifecycle.core import Core
from backend.model.vm import PowerState, QubesVM
from backend.virt.domainxml import KvmOptions
from backend.virt.errors import VirtDomainNotFoundError, VirtError, VirtUnsupportedError

log = logging.getLogger("backend.lifecycle")

NETVM_EVENTS = ("property-set:netvm", "property-reset:netvm")


class NetworkPlug:
    def __init__(self, core: Core, kvm: KvmOptions | None = None) -> None:
        self.core = core
        self.kvm = kvm
        self._deferred: set[str] = set()

    def on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        if not isinstance(subject, QubesVM):
            return
        if event == "domain-shutdown":
            self._deferred.discard(subject.uuid)
            if subject.get_or("provides_network"):
                self._spawn_clients(subject, plug=False)
        elif subject.is_halted():
            return
        elif event in NETVM_EVENTS or (
            event == "domain-unpaused" and subject.uuid in self._deferred
        ):
            self.core.spawn(self.replug(subject), f"re-plugging the network of {subject.name}")
        elif event == "domain-start" and subject.get_or("provides_network"):
            self._spawn_clients(subject, plug=True)

    def _spawn_clients(self, netvm: Any, *, plug: bool) -> None:
        # only the clients running now: one that starts later gets its interface then
        clients = [vm for vm in netvm.connected_vms() if not vm.is_halted()]
        if clients:
            what = f"{'connecting' if plug else 'disconnecting'} {netvm.name}'s clients"
            self.core.spawn(self._clients(netvm, clients, plug=plug), what)

    async def replug(self, vm: Any) -> None:
        async with self.core.lock(vm):
            if vm.is_halted():
                return
            if vm.power_state in (PowerState.PAUSED, PowerState.SUSPENDED):
                self._deferred.add(vm.uuid)
                return
            self._deferred.discard(vm.uuid)
            await self._replug_locked(vm)

    async def _replug_locked(self, vm: Any) -> None:
        conn = self.core.connection()
        network = specs.network_spec(vm)
        new = None if network is None else specs.interface_xml(network, self.core.uri, self.kvm)
        live = await self._unplug(vm)
        if live and new is not None:
            live = await self._plug(vm, new)
        if not live:
            log.info(
                "%s: the hypervisor cannot re-plug network interfaces; the new netvm "
                "takes effect at the next start",
                vm.name,
            )
        elif network is not None:
            self.core.app.domains[network.backend_domain].fire("net-domain-connect", vm=vm)
        try:
            await self._update_definition(conn, vm, new)
        except VirtError as exc:
            log.warning("cannot update the definition of %s: %s", vm.name, exc)

    async def _unplug(self, vm: Any) -> bool:
        """Detach the live interfaces; False when the hypervisor cannot."""
        conn = self.core.connection()
        try:
            live = ET.fromstring(await conn.xml(vm.uuid))
        except VirtDomainNotFoundError:
            return False
        for iface in live.findall("devices/interface"):
            try:
                await virtops.detach_device(conn, vm.uuid, ET.tostring(iface, encoding="unicode"))
            except VirtUnsupportedError:
                return False
        return True

    async def _plug(self, vm: Any, iface: str) -> bool:
        try:
            await virtops.attach_device(self.core.connection(), vm.uuid, iface)
        except VirtUnsupportedError:
            return False
        return True

    @staticmethod
    async def _update_definition(conn: Any, vm: Any, iface: str | None) -> None:
        try:
            doc = ET.fromstring(await conn.xml(vm.uuid, inactive=True))
        except VirtDomainNotFoundError:
            return
        devices = doc.find("devices")
        if devices is None:
            return
        for old in devices.findall("interface"):
            devices.remove(old)
        if iface is not None:
            devices.append(ET.fromstring(iface))
        await conn.define(ET.tostring(doc, encoding="unicode"))

    async def _clients(self, netvm: Any, clients: list[Any], *, plug: bool) -> None:
        """(Dis)connect the running qubes that use ``netvm``, live only."""
        for client in clients:
            async with self.core.lock(client):
                if client.is_halted() or client.netvm is not netvm:
                    continue
                try:
                    if not plug:
                        await self._unplug(client)
                        continue
                    network = specs.network_spec(client)
                    if network is not None and await self._unplug(client):
                        iface = specs.interface_xml(network, self.core.uri, self.kvm)
                        if await self._plug(client, iface):
                            netvm.fire("net-domain-connect", vm=client)
                except VirtError as exc:
                    log.warning(
                        "cannot %s %s: %s", "connect" if plug else "disconnect", client.name, exc
                    )
