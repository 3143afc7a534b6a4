"""The daemon: the system state, the Admin API server, policy and domain control."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Any

from backend.api.dispatch import Dispatcher
from backend.api.methods import build_table
from backend.api.server import AdminServer
from backend.errors import PermissionDenied
from backend.lifecycle import Lifecycle
from backend.model.vm import AdminVM
from backend.policy.engine import PolicyEngine
from backend.policy.sysinfo import SystemInfo
from backend.system import System

log = logging.getLogger("backend.daemon")

#: events after which the policy's view of the system may have changed
_SYSINFO_EVENTS = ("domain-add", "domain-delete", "domain-tag-", "domain-start", "domain-shutdown",
                   "domain-paused", "domain-unpaused", "property-set:", "property-reset:",
                   "domain-feature-set:internal", "domain-feature-delete:internal")


class Resolver:
    """Names and ``uuid:`` references on the wire → qubes of the model."""

    def __init__(self, system: System) -> None:
        self._system = system

    def resolve(self, ref: str) -> Any:
        return self._system.app.domains[ref]

    @staticmethod
    def is_adminvm(obj: Any) -> bool:
        return isinstance(obj, AdminVM)


class Daemon:
    """Owns everything the Admin API handlers reach through ``daemon.<part>``."""

    def __init__(
        self,
        system: System,
        *,
        socket_path: str | os.PathLike[str],
        libvirt_uri: str,
        policy_dirs: list[Path] | None = None,
        debug: bool = False,
    ) -> None:
        self.system = system
        self.app = system.app
        self.socket_path = Path(socket_path)
        self.libvirt_uri = libvirt_uri
        self.debug = debug
        if policy_dirs is None:
            policy_dirs = [system.state_dir / "policy.d"]
            policy_dirs[0].mkdir(exist_ok=True)
        dirs = policy_dirs
        self.policy = PolicyEngine([str(d) for d in dirs])
        self._sysinfo: SystemInfo | None = None
        self.app.events.subscribe(self._on_event)
        self.lifecycle = Lifecycle(self)
        self.table = build_table(self)
        self.dispatcher = Dispatcher(self.table, Resolver(system), policy=self._check_policy)
        self.server = AdminServer(self.socket_path, self.dispatcher, debug=debug)

    async def start(self) -> None:
        await self.lifecycle.start()
        # the model is long-lived: keep it out of the collector's full passes, which
        # otherwise pause a large daemon for tens of milliseconds
        gc.collect()
        gc.freeze()
        await self.server.start()
        log.info("serving the Admin API on %s", self.socket_path)

    async def stop(self) -> None:
        await self.server.close()
        firewalls = getattr(self, "firewalls", None)
        if firewalls is not None:
            await firewalls.close()
        reactions = getattr(self, "device_reactions", None)
        if reactions is not None:
            reactions.close()
        await self.lifecycle.stop()
        self.system.close()

    # --- policy for callers other than dom0 ------------------------------------------
    def system_info(self) -> SystemInfo:
        """What the policy engine knows about the qubes (rebuilt after changes)."""
        if self._sysinfo is None:
            self._sysinfo = SystemInfo.from_mapping({"domains": {
                vm.name: self.qube_info(vm) for vm in self.app.domains
            }})
        return self._sysinfo

    @staticmethod
    def qube_info(vm: Any) -> dict[str, Any]:
        dispvm = vm.get_or("default_dispvm") if "default_dispvm" in vm.PROPS else None
        guivm = vm.get_or("guivm") if "guivm" in vm.PROPS else None
        return {
            "type": vm.klass,
            "tags": list(vm.tags),
            "default_dispvm": dispvm.name if dispvm is not None else None,
            "template_for_dispvms": bool(vm.get_or("template_for_dispvms", False))
            if "template_for_dispvms" in vm.PROPS else False,
            "icon": vm.get("icon"),
            "label": vm.label.name if vm.label is not None else None,
            "guivm": guivm.name if guivm is not None else None,
            "power_state": vm.power_state.value,
            "uuid": vm.uuid,
            "internal": bool(vm.features.get("internal")),
        }

    def _on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        if self._sysinfo is not None and event.startswith(_SYSINFO_EVENTS):
            self._sysinfo = None

    def _check_policy(self, source: Any, method: str, dest: Any, arg: str) -> None:
        if isinstance(source, AdminVM):
            return
        if self.policy.error is not None:
            raise PermissionDenied(f"{method} denied: the policy has an error")
        self.policy.check_admin_call(source.name, method, arg, dest.name, self.system_info())

    def visible_to(self, source: Any, vm: Any) -> bool:
        """May ``source`` see ``vm`` in lists and event streams?"""
        if isinstance(source, AdminVM):
            return True
        return self.policy.vm_list_allowed(source.name, vm.name, self.system_info())


def default_socket_path() -> Path:
    if os.geteuid() == 0:
        return Path("/var/run/qubesd.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/qubes-backend-{os.getuid()}"
    return Path(runtime) / "qubesd.sock"


def demo_libvirt_uri(state_dir: Path) -> str:
    """libvirt's test driver with an empty node of our own (no default test domains)."""
    node = state_dir / "test-node.xml"
    if not node.exists():
        node.write_text("<node/>\n")
    return f"test://{node}"

