"""The app: the collection of qubes, labels, pools and global properties."""

from __future__ import annotations

import random
import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from backend.errors import (
    QubesException,
    QubesNoTemplateError,
    QubesValueError,
    QubesVMAlreadyExistsError,
    QubesVMInUseError,
    QubesVMInvalidUUIDError,
    QubesVMNotFoundError,
    QubesVMNotHaltedError,
)
from backend.events import EventBus
from backend.model.globalprops import GlobalProperties
from backend.model.labels import LabelSet
from backend.model.names import validate_name
from backend.model.properties import NoValue, PropType
from backend.model.vm import VM_CLASSES, AdminVM, BaseVM, DispVM

MAX_QID = 10000
MAX_DISPID = 10000
DISPID_QUARANTINE_S = 7 * 24 * 3600
#: global properties that are reset (not refused) when the qube they name is removed
RESET_ON_REMOVE = ("default_guivm", "default_netvm", "clockvm", "updatevm", "default_template")


@dataclass(frozen=True)
class HostInfo:
    memory_mib: int = 16384
    cpus: int = 4
    is_xen: bool = True  # memory balancing exists only on Xen
    dom0_maxmem_mib: int = 4096


@dataclass(frozen=True)
class KernelInfo:
    name: str
    kernelopts_common: str | None = None
    kernelopts_pci: str = ""
    kernelopts_nopci: str | None = None
    has_modules: bool = False


class DomainCollection:
    """Qubes by qid, name and UUID; iterates dom0 first, then by name (like qubesd)."""

    def __init__(self) -> None:
        self._by_qid: dict[int, BaseVM] = {}
        self._by_name: dict[str, BaseVM] = {}
        self._by_uuid: dict[str, BaseVM] = {}
        self._order: list[BaseVM] | None = None

    def __len__(self) -> int:
        return len(self._by_qid)

    def __iter__(self) -> Iterator[Any]:
        if self._order is None:
            self._order = sorted(self._by_qid.values(), key=lambda vm: (vm.qid != 0, vm.name))
        return iter(list(self._order))

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __getitem__(self, key: object) -> Any:
        if isinstance(key, BaseVM):
            if self._by_qid.get(key.qid) is key:
                return key
            raise QubesVMNotFoundError(key.name)
        if isinstance(key, int) and not isinstance(key, bool):
            if key in self._by_qid:
                return self._by_qid[key]
            raise QubesVMNotFoundError(str(key))
        if isinstance(key, str):
            if key.startswith("uuid:"):
                try:
                    normal = str(uuidlib.UUID(key[5:]))
                except ValueError:
                    raise QubesVMInvalidUUIDError(f"Invalid UUID: {key[5:]!r}") from None
                if normal in self._by_uuid:
                    return self._by_uuid[normal]
                raise QubesVMNotFoundError(key)
            if key in self._by_name:
                return self._by_name[key]
        raise QubesVMNotFoundError(str(key))

    def get(self, key: object, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def add(self, vm: BaseVM) -> None:
        self._by_qid[vm.qid] = vm
        self._by_name[vm.name] = vm
        self._by_uuid[vm.uuid] = vm
        self._order = None

    def remove(self, vm: BaseVM) -> None:
        del self._by_qid[vm.qid]
        del self._by_name[vm.name]
        self._by_uuid.pop(vm.uuid, None)
        self._order = None

    def qids(self) -> set[int]:
        return set(self._by_qid)


class Qubes:
    """The whole model. Changes go through its methods so they are validated first."""

    def __init__(
        self,
        host: HostInfo | None = None,
        kernels: dict[str, KernelInfo] | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.events = events or EventBus()
        self.host = host or HostInfo()
        self.labels = LabelSet()
        self.domains = DomainCollection()
        self.globals = GlobalProperties(self)
        self.pool_configs: dict[str, dict[str, str]] = {}
        self._kernels = kernels
        self._freed_dispids: dict[int, float] = {}
        self._random = random.SystemRandom()

    # --- environment facts ---------------------------------------------------------
    def installed_kernels(self) -> set[str] | None:
        return None if self._kernels is None else set(self._kernels)

    def kernel_info(self, name: str) -> KernelInfo | None:
        return None if self._kernels is None else self._kernels.get(name)

    def set_kernels(self, kernels: dict[str, KernelInfo]) -> None:
        self._kernels = dict(kernels)

    def pool_names(self) -> set[str]:
        return set(self.pool_configs)

    def default_pool_name(self) -> str:
        if "default" in self.pool_configs:
            return "default"
        for name, config in self.pool_configs.items():
            if config.get("driver") in ("file", "file-reflink") and name == "varlibqubes":
                return name
        for name, config in self.pool_configs.items():
            if config.get("driver") in ("file", "file-reflink"):
                return name
        raise NoValue("default_pool")

    # --- relations used by validators and events -------------------------------------
    def netvm_loop_with_default(self, candidate: Any) -> bool:
        """Would making ``candidate`` the global default_netvm create a loop?"""
        seen: list[Any] = []
        current = candidate
        while current is not None:
            if current in seen:
                return True
            seen.append(current)
            if current.is_default("netvm") and current.uses_global("netvm"):
                current = candidate
            else:
                current = current.netvm
        return False

    def announce_to_dependants(self, vm: Any, name: str) -> None:
        """Echo a change of ``name`` on ``vm`` to the qubes whose default follows it."""
        for other in self.domains:
            if other.template is vm and name in other.PROPS and other.is_default(name):
                other.announce([name])
                self.announce_to_dependants(other, name)

    def dispvm_template_users(self, vm: Any) -> list[str]:
        users: list[str] = []
        for prop in ("default_dispvm", "management_dispvm"):
            if not self.globals.is_default(prop) and self.globals.get(prop) is vm:
                users.append(f"global {prop}")
        for other in self.domains:
            for prop in ("default_dispvm", "management_dispvm"):
                if prop in other.PROPS and not other.is_default(prop) and other.get(prop) is vm:
                    users.append(f"{other.name} ({prop})")
            if isinstance(other, DispVM) and other.template is vm:
                users.append(f"{other.name} (template)")
        return users

    def references_to(self, vm: Any) -> list[str]:
        """Explicit references that keep ``vm`` from being removed, for the message."""
        refs: list[str] = []
        for other in self.domains:
            if other is vm:
                continue
            for name, prop in other.PROPS.items():
                if prop.type is PropType.VM and not other.is_default(name):
                    if other.get(name) is vm:
                        refs.append(f"{other.name}.{name}")
            for devclass, assignments in other.devices.items():
                if any(a.backend_domain == vm.name for a in assignments):
                    refs.append(f"{other.name} ({devclass} devices)")
        for name, prop in self.globals.PROPS.items():
            if prop.type is PropType.VM and name not in RESET_ON_REMOVE:
                if not self.globals.is_default(name) and self.globals.get(name) is vm:
                    refs.append(f"global {name}")
        return refs

    # --- allocation ------------------------------------------------------------------
    def allocate_qid(self) -> int:
        used = self.domains.qids()
        for qid in range(1, MAX_QID):
            if qid not in used:
                return qid
        raise QubesException("No free qid: too many qubes")

    def allocate_dispid(self) -> int:
        now = time.time()
        recent = {d for d, t in self._freed_dispids.items() if now - t < DISPID_QUARANTINE_S}
        used = {vm.dispid for vm in self.domains if isinstance(vm, DispVM)} | recent
        if len(used) >= MAX_DISPID:
            raise QubesException("No free disposable id")
        while True:
            dispid = self._random.randrange(MAX_DISPID)
            if dispid not in used and f"disp{dispid}" not in self.domains:
                return dispid

    # --- creation ---------------------------------------------------------------------
    def create_adminvm(self) -> AdminVM:
        dom0 = AdminVM(self)
        dom0.set("name", "dom0", loading=True)
        dom0.set("qid", 0, loading=True)
        dom0.set("uuid", "00000000-0000-0000-0000-000000000000", loading=True)
        dom0.set("label", "black", loading=True)
        self.domains.add(dom0)
        return dom0

    def add_new_vm(
        self,
        klass: str,
        name: str,
        label: Any,
        template: Any = None,
        properties: dict[str, Any] | None = None,
        qid: int | None = None,
        uuid: str | None = None,
    ) -> Any:
        """Validate everything, then add the qube and fire ``domain-add``."""
        cls = VM_CLASSES.get(klass)
        if cls is None or cls is AdminVM:
            raise QubesValueError(f"Cannot create a qube of class {klass!r}")
        validate_name(name)
        if name in self.domains:
            raise QubesVMAlreadyExistsError(f"A qube named {name!r} already exists")
        vm = cls(self)
        vm.set("name", name, loading=True)
        vm.set("qid", self.allocate_qid() if qid is None else qid, loading=True)
        vm.set("uuid", uuid or str(uuidlib.uuid4()), loading=True)
        vm.set("label", self.labels.get(label), loading=True)
        if "template" in cls.PROPS:
            if template is None:
                default = "default_dispvm" if klass == "DispVM" else "default_template"
                template = self.globals.value_or_none(default)
                if template is None:
                    raise QubesNoTemplateError(f"No template given for {name} and no {default}")
            self._validated_quiet(vm, "template", template)
        elif template is not None:
            raise QubesValueError(f"A {klass} has no template")
        if klass == "DispVM" and "dispid" not in (properties or {}):
            properties = {**(properties or {}), "dispid": self.allocate_dispid()}
        for prop_name, value in (properties or {}).items():
            if prop_name in ("name", "qid", "uuid", "label", "template"):
                raise QubesValueError(f"{prop_name} cannot be given as an extra property")
            self._validated_quiet(vm, prop_name, value)
        self._initial_tags(vm)
        if "provides_network" in vm.PROPS and vm.get("provides_network"):
            vm.features.load("servicevm", "1")
        if not self.globals.get("check_updates_vm"):
            vm.features.load("check-updates", "")
        self.domains.add(vm)
        self.events.fire(None, "domain-add", vm=vm)
        return vm

    def _validated_quiet(self, vm: Any, name: str, value: Any) -> None:
        prop = vm.prop(name)
        if prop.stateless or prop.read_only:
            raise vm.value_error(prop, value, "property is read-only")
        typed = vm.convert(prop, value)
        if prop.validate is not None:
            typed = prop.validate(vm, prop, typed)
        vm._values[name] = typed

    def _initial_tags(self, vm: Any) -> None:
        for prop in ("guivm", "audiovm"):
            if prop in vm.PROPS:
                target = vm.get_or(prop)
                if target is not None:
                    vm.tags.load(f"{prop}-{target.name}")

    def create_dispvm(
        self, template: Any, *, name: str | None = None, auto_cleanup: bool = True
    ) -> DispVM:
        """A disposable of ``template`` with its settings copied (core-model.md §1.5)."""
        if not template.get_or("template_for_dispvms", False):
            raise QubesValueError(f"{template.name} is not a disposable template")
        dispid = self.allocate_dispid()
        props: dict[str, Any] = {"dispid": dispid, "auto_cleanup": auto_cleanup}
        for prop_name, prop in template.PROPS.items():
            if (
                prop.clone
                and not template.is_default(prop_name)
                and prop_name in DispVM.PROPS
                and prop_name not in props
                and not DispVM.PROPS[prop_name].stateless
                and not DispVM.PROPS[prop_name].read_only
                and prop_name not in ("template_for_dispvms", "label")
            ):
                props[prop_name] = template.get(prop_name)
        vm = self.add_new_vm(
            "DispVM", name or f"disp{dispid}", template.label, template=template,
            properties=props,
        )
        for feature, value in template.features.items():
            if not feature.startswith("preload-dispvm"):
                vm.features.load(feature, value)
        for tag in template.tags:
            vm.tags.load(tag)
        assert isinstance(vm, DispVM)
        return vm

    # --- removal ------------------------------------------------------------------------
    def check_remove(self, vm: Any) -> None:
        if isinstance(vm, AdminVM):
            raise QubesVMInUseError("dom0 cannot be removed")
        if vm.get_or("installed_by_rpm", False):
            raise QubesVMInUseError(
                f"{vm.name} was installed by a package; remove the package instead"
            )
        if not vm.is_halted():
            raise QubesVMNotHaltedError(f"{vm.name} must be halted before it is removed")
        refs = self.references_to(vm)
        if refs:
            raise QubesVMInUseError(f"{vm.name} is still in use by: {', '.join(refs)}")

    def remove_vm(self, vm: Any) -> None:
        self.check_remove(vm)
        self.events.fire(None, "domain-pre-delete", vm=vm)
        for name in RESET_ON_REMOVE:
            if not self.globals.is_default(name) and self.globals.get(name) is vm:
                self.globals.reset(name)
        self.domains.remove(vm)
        if isinstance(vm, DispVM):
            self._freed_dispids[vm.dispid] = time.time()
        self.events.fire(None, "domain-delete", vm=vm)
