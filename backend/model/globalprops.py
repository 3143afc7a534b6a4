"""Global (app) properties (core-model.md §1.9) and the events their changes cause."""

from __future__ import annotations

from typing import Any

from backend.model import vmprops
from backend.model.properties import NoValue, Prop, PropertyHolder, PropType, build_props, const


def _v_template(app_props: Any, prop: Prop, value: Any) -> Any:
    if value is not None and value.klass != "TemplateVM":
        raise app_props.value_error(prop, value, f"{value.name} is not a TemplateVM")
    return value


def _v_netvm(app_props: Any, prop: Prop, value: Any) -> Any:
    if value is None:
        return None
    if not value.get_or("provides_network", False):
        raise app_props.value_error(prop, value, f"{value.name} does not provide network")
    if app_props.app.netvm_loop_with_default(value):
        raise app_props.value_error(
            prop, value, f"{value.name} would create a network loop for qubes using the default"
        )
    return value


def _v_kernel(app_props: Any, prop: Prop, value: Any) -> Any:
    if value:
        installed = app_props.app.installed_kernels()
        if installed is not None and value not in installed:
            raise app_props.value_error(prop, value, f"kernel {value!r} is not installed")
    return value


def _v_pool(app_props: Any, prop: Prop, value: Any) -> Any:
    if value not in app_props.app.pool_names():
        raise app_props.value_error(prop, value, f"no such storage pool: {value!r}")
    return value


def _default_pool(app_props: Any) -> str:
    return str(app_props.app.default_pool_name())


def _host(attr: str) -> Any:
    return lambda app_props: getattr(app_props.app.host, attr)


def _pool_alias(app_props: Any) -> Any:
    return app_props.get("default_pool")


GLOBAL_PROPS = build_props(
    (
        Prop("default_template", PropType.VM, "Template used for new qubes", validate=_v_template,
             load_stage=3),
        Prop("default_netvm", PropType.VM, "Default network qube for new qubes",
             default=const(None), validate=_v_netvm, load_stage=3),
        Prop("default_guivm", PropType.VM, "Default qube providing the GUI",
             default=lambda p: p.app.domains.get(0), load_stage=3),
        Prop("default_audiovm", PropType.VM, "Default qube providing audio",
             default=lambda p: p.app.domains.get(0), load_stage=3),
        Prop("default_dispvm", PropType.VM, "Default disposable template",
             default=const(None), validate=vmprops.v_dispvm_ref, load_stage=3),
        Prop("management_dispvm", PropType.VM, "Disposable template for management tasks",
             default=const(None), validate=vmprops.v_dispvm_ref, load_stage=3),
        Prop("updatevm", PropType.VM, "Qube used to download dom0 and template updates",
             default=const(None), load_stage=3),
        Prop("clockvm", PropType.VM, "Qube that synchronises the clock",
             default=const(None), load_stage=3),
        Prop("default_kernel", PropType.STR, "Kernel used by qubes by default",
             validate=_v_kernel, load_stage=3),
        Prop("default_pool", PropType.STR, "Default storage pool", default=_default_pool,
             validate=_v_pool, load_stage=3),
        *(
            Prop(f"default_pool_{vol}", PropType.STR, f"Default pool for {vol} volumes",
                 default=_pool_alias, validate=_v_pool, load_stage=3)
            for vol in ("root", "private", "volatile", "kernel")
        ),
        Prop("default_qrexec_timeout", PropType.INT, "Default qrexec agent timeout (s)",
             default=const(60), validate=vmprops.positive, load_stage=3),
        Prop("default_shutdown_timeout", PropType.INT, "Default shutdown timeout (s)",
             default=const(60), validate=vmprops.positive, load_stage=3),
        Prop("stats_interval", PropType.INT, "Seconds between vm-stats events",
             default=const(3), validate=vmprops.positive, load_stage=3),
        Prop("check_updates_vm", PropType.BOOL, "Qubes check for updates by default",
             default=const(True), load_stage=3),
        Prop("maxmem", PropType.INT, "Total memory of the host in MiB",
             default=_host("memory_mib"), read_only=True, load_stage=3),
        Prop("no_cpus", PropType.INT, "Number of CPUs of the host", default=_host("cpus"),
             read_only=True, load_stage=3),
    )
)

#: global property → the per-qube property whose default follows it
_ECHOED_AS_RESET = {
    "default_netvm": "netvm",
    "default_dispvm": "default_dispvm",
    "management_dispvm": "management_dispvm",
    "default_kernel": "kernel",
    "default_qrexec_timeout": "qrexec_timeout",
    "default_shutdown_timeout": "shutdown_timeout",
}
_ECHOED_AS_SET = {"default_guivm": "guivm", "default_audiovm": "audiovm"}


class GlobalProperties(PropertyHolder):
    """The app's properties; their events have an empty subject on the wire."""

    PROPS = GLOBAL_PROPS

    @property
    def holder_name(self) -> str:
        return "dom0"

    @property
    def event_subject(self) -> Any:
        return None

    def on_property_changed(self, name: str, old: Any, new: Any) -> None:
        app = self.app
        if name in _ECHOED_AS_RESET:
            vm_prop = _ECHOED_AS_RESET[name]
            for vm in app.domains:
                if vm_prop in vm.PROPS and vm.is_default(vm_prop) and vm.uses_global(vm_prop):
                    vm.announce([vm_prop])
                    if vm_prop == "netvm":
                        vm.announce(vmprops.NETWORK_DERIVED)
                    if vm_prop in vmprops.TEMPLATE_INHERITED:
                        app.announce_to_dependants(vm, vm_prop)
        if name in _ECHOED_AS_SET:
            vm_prop = _ECHOED_AS_SET[name]
            for vm in app.domains:
                if vm_prop in vm.PROPS and vm.is_default(vm_prop):
                    vm.fire(f"property-set:{vm_prop}", name=vm_prop, newvalue=new, oldvalue=old)
                    vm.sync_service_tag(vm_prop, old, new)
        if name == "clockvm":
            if old is not None and old.name in app.domains:
                old.features.discard("service.clocksync")
            if new is not None and "service.clocksync" not in new.features:
                new.features.set("service.clocksync", "1")
        if name == "default_pool":
            for alias in ("root", "private", "volatile", "kernel"):
                if self.is_default(f"default_pool_{alias}"):
                    self.announce([f"default_pool_{alias}"])

    def value_or_none(self, name: str) -> Any:
        try:
            return self.get(name)
        except NoValue:
            return None
