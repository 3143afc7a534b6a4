"""The qube classes: AdminVM (dom0), TemplateVM, AppVM, StandaloneVM, DispVM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.errors import (
    QubesVMInUseError,
    QubesVMNotHaltedError,
    QubesVMNotRunningError,
)
from backend.model import network, vmprops
from backend.model.features import Features, Tags
from backend.model.properties import Prop, PropertyHolder, PropType, build_props, const
from backend.virt.states import PowerState as PowerState  # one enum, model and virt


@dataclass
class Runtime:
    """What the hypervisor tells about a running qube; reset when it stops."""

    xid: int = -1
    stubdom_xid: int = -1
    stubdom_uuid: str = ""
    start_time: str | None = None


@dataclass(frozen=True)
class DeviceAssignment:
    backend_domain: str
    port_id: str
    device_id: str = "*"
    mode: str = "required"  # required / ask-to-attach / auto-attach / manual
    options: dict[str, str] = field(default_factory=dict)


class BaseVM(PropertyHolder):
    """What every qube has: identity, label, features, tags, devices, power state."""

    PROPS = build_props(vmprops.BASE_PROPS)
    #: directory prefix of the qube's files in the pools and in the state dir
    DIR_PREFIX = "appvms"

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.features = Features(self)
        self.tags = Tags(self)
        self.devices: dict[str, list[DeviceAssignment]] = {}
        self.power_state = PowerState.HALTED
        self.runtime = Runtime()
        self.volume_config: dict[str, dict[str, str]] = {}

    # --- identity ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._values.get("name", ""))

    @property
    def qid(self) -> int:
        return int(self._values.get("qid", -1))

    @property
    def uuid(self) -> str:
        return str(self._values.get("uuid", ""))

    @property
    def label(self) -> Any:
        return self.get_or("label")

    @property
    def klass(self) -> str:
        return type(self).__name__

    @property
    def holder_name(self) -> str:
        return self.name or "<new qube>"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{self.klass} {self.name}>"

    @property
    def template(self) -> Any:
        return self._values.get("template") if "template" in self.PROPS else None

    @property
    def netvm(self) -> Any:
        return self.get_or("netvm") if "netvm" in self.PROPS else None

    def uses_global(self, prop: str) -> bool:
        """Whether the default of ``prop`` comes from a global property (not a template)."""
        if prop == "netvm":
            return self.klass != "TemplateVM"
        if prop == "default_dispvm":
            return self.klass != "DispVM"
        if prop in vmprops.TEMPLATE_INHERITED:
            return self.template is None
        return True

    # --- state ---------------------------------------------------------------------
    def is_halted(self) -> bool:
        return self.power_state is PowerState.HALTED

    def is_running(self) -> bool:
        return self.power_state is not PowerState.HALTED

    def has_pci_devices(self) -> bool:
        return bool(self.devices.get("pci"))

    # --- errors written for users ----------------------------------------------------
    def not_halted_error(self, message: str) -> QubesVMNotHaltedError:
        return QubesVMNotHaltedError(f"{self.name}: {message}")

    def not_running_error(self, message: str) -> QubesVMNotRunningError:
        return QubesVMNotRunningError(f"{self.name}: {message}")

    def in_use_error(self, message: str) -> QubesVMInUseError:
        return QubesVMInUseError(message)

    # --- hooks --------------------------------------------------------------------------
    def icon_kind(self) -> str:
        return "appvm"

    def on_feature_changed(self, name: str) -> None:
        """Re-announce values derived from a feature (core-model.md §5.3)."""
        if name == "servicevm":
            self.announce(["icon"])


class AdminVM(BaseVM):
    """dom0: always running, no volumes, no network."""

    PROPS = build_props(vmprops.BASE_PROPS, vmprops.ADMIN_PROPS)

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.power_state = PowerState.RUNNING
        self.runtime = Runtime(xid=0)

    def icon_kind(self) -> str:
        return "adminvm"

    def is_halted(self) -> bool:
        return False

    def is_running(self) -> bool:
        return True


class QubesVM(BaseVM):
    """Everything that is a real domain: the base of T, P, S and D."""

    PROPS = build_props(vmprops.BASE_PROPS, vmprops.QUBE_PROPS)

    # --- derived facts used by defaults and validators -----------------------------------
    def netvm_chain(self) -> list[Any]:
        """The qubes upstream of this one, nearest first (stops at a loop)."""
        chain: list[Any] = []
        current = self.netvm
        while current is not None and current not in chain and current is not self:
            chain.append(current)
            current = current.netvm
        return chain

    def connected_vms(self) -> list[Any]:
        return [vm for vm in self.app.domains if vm is not self and vm.netvm is self]

    def uses_memory_hotplug(self) -> bool:
        value = self.features.check_with_template_or("memory-hotplug", None)
        if value is not None:
            return bool(value)
        if self.get("virt_mode") == "hvm":
            return False
        return bool(self.features.check_with_template_or("supported-feature.memory-hotplug", ""))

    def memory_balancing_possible(self) -> bool:
        if not self.app.host.is_xen or self.has_pci_devices():
            return False
        if self.get("virt_mode") == "hvm":
            if not self.features.check_with_template_or("qrexec", None):
                return False
            services = self._advertised_services()
            if services and "meminfo-writer" not in services:
                return False
        return True

    def _advertised_services(self) -> set[str]:
        prefix = "supported-service."
        owner: Any = self
        while owner is not None:
            names = {n[len(prefix):] for n in owner.features if n.startswith(prefix)}
            if names:
                return names
            owner = owner.template
        return set()

    def known_bootmodes(self) -> set[str]:
        modes = {"default"}
        prefix = "boot-mode.kernelopts."
        owner: Any = self
        while owner is not None:
            modes.update(n[len(prefix):] for n in owner.features if n.startswith(prefix))
            owner = owner.template
        return modes

    def allocated_ipv4(self) -> str:
        return network.ipv4_for(network.QUBE_PREFIX, self.qid)

    def allocated_ipv6(self) -> str:
        return network.ipv6_for(False, self.qid)

    def is_preloaded(self) -> bool:
        return False

    def icon_kind(self) -> str:
        if "template_for_dispvms" in self.PROPS and self.get("template_for_dispvms"):
            return "templatevm"
        if self.features.get("servicevm"):
            return "servicevm"
        return "appvm"

    # --- after a change ---------------------------------------------------------------------
    def on_property_changed(self, name: str, old: Any, new: Any) -> None:
        if name in ("label", "template_for_dispvms"):
            self.announce(["icon"])
        if name == "provides_network":
            if new:
                if not self.features.get("servicevm"):
                    self.features.set("servicevm", "1")
            else:
                self.features.discard("servicevm")
            self.announce(["gateway", "gateway6", "ip", "dns"])
            for client in self.connected_vms():
                client.announce(["visible_gateway", "visible_gateway6"])
        if name in ("netvm", "provides_network"):
            self.announce(vmprops.NETWORK_DERIVED)
        if name in ("ip", "ip6"):
            self.announce(["visible_ip", "visible_ip6", "gateway", "gateway6"])
            for client in self.connected_vms():
                client.announce(["visible_gateway", "visible_gateway6"])
        if name in ("guivm", "audiovm"):
            self.sync_service_tag(name, old, new)
        if name == "guivm":
            self.announce(["keyboard_layout"])
        if name in vmprops.TEMPLATE_INHERITED:
            self.app.announce_to_dependants(self, name)

    def sync_service_tag(self, prop: str, old: Any, new: Any) -> None:
        """Keep exactly one ``guivm-<name>`` / ``audiovm-<name>`` tag (core-model.md §2.3)."""
        for tag in list(self.tags):
            if tag.startswith(f"{prop}-") and (new is None or tag != f"{prop}-{new.name}"):
                self.tags.remove(tag)
        if new is not None:
            self.tags.add(f"{prop}-{new.name}")

    def on_feature_changed(self, name: str) -> None:
        super().on_feature_changed(name)
        if name.startswith("net.fake-"):
            self.announce(["visible_ip", "visible_gateway", "visible_netmask"])
        elif name == "ipv6":
            self.announce(["ip6", "visible_ip6", "visible_gateway6"])
        elif name.startswith("boot-mode."):
            self.announce(["bootmode"])
            if "appvm_default_bootmode" in self.PROPS:
                self.announce(["appvm_default_bootmode"])


class TemplateVM(QubesVM):
    PROPS = build_props(vmprops.BASE_PROPS, vmprops.QUBE_PROPS, vmprops.TEMPLATE_PROPS)
    DIR_PREFIX = "vm-templates"

    def icon_kind(self) -> str:
        return "templatevm"


# a template's netvm defaults to None, not to the global default_netvm
TemplateVM.PROPS["netvm"] = Prop(
    "netvm", PropType.VM, "Qube that provides network to this one",
    default=const(None), validate=vmprops.v_netvm, load_stage=4,
)


class AppVM(QubesVM):
    PROPS = build_props(vmprops.BASE_PROPS, vmprops.QUBE_PROPS, vmprops.APPVM_PROPS)


class StandaloneVM(QubesVM):
    PROPS = build_props(vmprops.BASE_PROPS, vmprops.QUBE_PROPS, vmprops.STANDALONE_PROPS)

    def icon_kind(self) -> str:
        kind = super().icon_kind()
        return "standalonevm" if kind == "appvm" else kind


class DispVM(QubesVM):
    PROPS = build_props(vmprops.BASE_PROPS, vmprops.QUBE_PROPS, vmprops.DISPVM_PROPS)

    def icon_kind(self) -> str:
        kind = super().icon_kind()
        return "dispvm" if kind == "appvm" else kind

    @property
    def dispid(self) -> int:
        return int(self._values.get("dispid", 0))

    def allocated_ipv4(self) -> str:
        return network.ipv4_for(network.DISPVM_PREFIX, self.dispid)

    def allocated_ipv6(self) -> str:
        return network.ipv6_for(True, self.dispid)

    def is_preloaded(self) -> bool:
        template = self.template
        if template is None:
            return False
        listed = (template.features.get("preload-dispvm") or "").split()
        return self.name in listed


VM_CLASSES: dict[str, type[BaseVM]] = {
    cls.__name__: cls for cls in (AdminVM, TemplateVM, AppVM, StandaloneVM, DispVM)
}
