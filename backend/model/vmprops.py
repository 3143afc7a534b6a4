"""The property tables of qubes (core-model.md §1.3): defaults and validation rules."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from backend.errors import QubesValueError
from backend.model import network
from backend.model.names import validate_name
from backend.model.properties import Default, Prop, PropType, const

VIRT_MODES = ("hvm", "pv", "pvh")
DEFAULT_MEMORY = 400
DEFAULT_VCPUS = 2
DEFAULT_MAC = "00:16:3e:5e:6c:00"
MAX_KERNELOPTS = 512
_DEFAULT_USER = re.compile(r"^[A-Za-z0-9_+,.-]+$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
_KB_LAYOUT = re.compile(r"^[A-Za-z]+$")
_KB_VARIANT = re.compile(r"^[A-Za-z0-9_-]*$")
_KB_OPTIONS = re.compile(r"^[A-Za-z0-9_:,-]*$")
_DENIED_CODE = re.compile(r"^[bump*][0-9a-fA-F*]{6}$")

Validator = Callable[[Any, Prop, Any], Any]


# --- helpers shared by defaults -----------------------------------------------------
def tpl_or(name: str, fallback: Default) -> Default:
    """The template's value of ``name`` when the qube has a template, else ``fallback``."""

    def default(vm: Any) -> Any:
        template = vm.template
        if template is not None:
            return template.get(name)
        return fallback(vm)

    return default


def global_value(name: str) -> Default:
    return lambda vm: vm.app.globals.get_or(name)


def is_networked(vm: Any) -> bool:
    return vm.netvm is not None or bool(vm.get("provides_network"))


# --- validators ---------------------------------------------------------------------
def positive(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None or value <= 0:
        raise vm.value_error(prop, value, "value must be positive")
    return value


def non_negative(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None or value < 0:
        raise vm.value_error(prop, value, "value must not be negative")
    return value


def v_name(vm: Any, prop: Prop, value: Any) -> Any:
    try:
        return validate_name(value)
    except QubesValueError as exc:
        raise vm.value_error(prop, value, str(exc)) from None


def v_uuid(vm: Any, prop: Prop, value: Any) -> Any:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise vm.value_error(prop, value, "not a valid UUID") from None


def v_qid(vm: Any, prop: Prop, value: Any) -> Any:
    if not 0 <= value <= 10000:
        raise vm.value_error(prop, value, "qid must be between 0 and 10000")
    return value


def v_virt_mode(vm: Any, prop: Prop, value: Any) -> Any:
    mode = str(value).lower()
    if mode not in VIRT_MODES:
        raise vm.value_error(prop, value, f"virt_mode must be one of {', '.join(VIRT_MODES)}")
    if mode == "pvh" and vm.has_pci_devices():
        raise vm.value_error(prop, value, "pvh mode cannot be used while PCI devices are assigned")
    return mode


def v_memory(vm: Any, prop: Prop, value: Any) -> Any:
    positive(vm, prop, value)
    maxmem = vm._values.get("maxmem")
    if maxmem and value > maxmem:
        raise vm.value_error(
            prop, value, f"memory ({value} MiB) must not exceed maxmem ({maxmem} MiB)"
        )
    return value


def v_maxmem(vm: Any, prop: Prop, value: Any) -> Any:
    non_negative(vm, prop, value)
    if value and value < vm.get("memory"):
        raise vm.value_error(
            prop, value, f"maxmem ({value} MiB) must not be less than memory "
            f"({vm.get('memory')} MiB); 0 disables memory balancing"
        )
    if not vm.is_halted() and not vm.uses_memory_hotplug():
        raise vm.not_halted_error("maxmem can be changed only while the qube is halted")
    return value


def v_kernel(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None:
        return None
    if "/" in value:
        raise vm.value_error(prop, value, "kernel name must not contain '/'")
    if value:
        installed = vm.app.installed_kernels()
        if installed is not None and value not in installed:
            raise vm.value_error(prop, value, f"kernel {value!r} is not installed")
    return value


def v_kernelopts(vm: Any, prop: Prop, value: Any) -> Any:
    if value is not None and len(value) > MAX_KERNELOPTS:
        raise vm.value_error(prop, value, f"at most {MAX_KERNELOPTS} characters")
    return value


def v_default_user(vm: Any, prop: Prop, value: Any) -> Any:
    if not value or not _DEFAULT_USER.match(value):
        raise vm.value_error(prop, value, "user names may use only A-Z a-z 0-9 _ - + , .")
    return value


def v_mac(vm: Any, prop: Prop, value: Any) -> Any:
    if not _MAC.match(str(value)):
        raise vm.value_error(prop, value, "MAC address must look like xx:xx:xx:xx:xx:xx")
    return str(value).lower()


def v_ipv4(vm: Any, prop: Prop, value: Any) -> Any:
    try:
        return network.valid_ipv4(value)
    except (ValueError, TypeError):
        raise vm.value_error(prop, value, "not a valid IPv4 address") from None


def v_ipv6(vm: Any, prop: Prop, value: Any) -> Any:
    try:
        return network.valid_ipv6(value)
    except (ValueError, TypeError):
        raise vm.value_error(prop, value, "not a valid IPv6 address") from None


def v_keyboard_layout(vm: Any, prop: Prop, value: Any) -> Any:
    parts = str(value).split("+")
    if (
        len(parts) != 3
        or not value.isascii()
        or not _KB_LAYOUT.match(parts[0])
        or not _KB_VARIANT.match(parts[1])
        or not _KB_OPTIONS.match(parts[2])
    ):
        raise vm.value_error(
            prop, value, "keyboard layout must be layout+variant+options (e.g. us++)"
        )
    return value


def normalise_denied(text: str) -> str:
    """Split ``text`` into 7-character interface codes, dedupe and sort them."""
    if len(text) % 7:
        raise QubesValueError("device interface codes are 7 characters each")
    codes = {text[i : i + 7] for i in range(0, len(text), 7)}
    for code in codes:
        if not _DENIED_CODE.match(code):
            raise QubesValueError(f"invalid device interface code {code!r}")
    return "".join(sorted(codes))


def v_devices_denied(vm: Any, prop: Prop, value: Any) -> Any:
    try:
        return normalise_denied(value or "")
    except QubesValueError as exc:
        raise vm.value_error(prop, value, str(exc)) from None


def v_dispvm_ref(vm: Any, prop: Prop, value: Any) -> Any:
    if value is not None and not value.get_or("template_for_dispvms", False):
        raise vm.value_error(prop, value, f"{value.name} is not a disposable template")
    return value


def v_netvm(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None:
        return None
    if not value.get_or("provides_network", False):
        raise vm.value_error(prop, value, f"{value.name} does not provide network")
    if value is vm or vm in value.netvm_chain():
        raise vm.value_error(prop, value, f"{value.name} would create a network loop")
    if vm.is_running() and not value.is_running():
        raise vm.not_running_error(f"{value.name} must be running to connect the running {vm.name}")
    return value


def v_provides_network(vm: Any, prop: Prop, value: Any) -> Any:
    if not value:
        clients = [other.name for other in vm.connected_vms()]
        if clients:
            raise vm.in_use_error(
                f"{vm.name} still provides network to: {', '.join(sorted(clients))}"
            )
    return value


def v_template_for_dispvms(vm: Any, prop: Prop, value: Any) -> Any:
    if not value:
        users = vm.app.dispvm_template_users(vm)
        if users:
            raise vm.in_use_error(
                f"{vm.name} is still used as disposable template by: {', '.join(users)}"
            )
    return value


def v_bootmode(vm: Any, prop: Prop, value: Any) -> Any:
    if value not in vm.known_bootmodes():
        raise vm.value_error(prop, value, f"unknown boot mode {value!r}")
    return value


# --- computed defaults ----------------------------------------------------------------
def default_virt_mode(vm: Any) -> str:
    if vm.has_pci_devices():
        return "hvm"
    return str(tpl_or("virt_mode", const("pvh"))(vm))


def default_maxmem(vm: Any) -> int:
    if not vm.memory_balancing_possible():
        return 0
    template = vm.template
    if template is not None:
        return int(template.get("maxmem"))
    os_name = vm.features.check_with_template_or("os", None)
    base = vm.get("memory") * 10 if os_name == "Linux" else 4000
    return int(min(base, vm.app.host.memory_mib // 2))


def default_kernelopts(vm: Any) -> str:
    kernel = vm.get("kernel")
    if not kernel:
        return ""
    info = vm.app.kernel_info(kernel)
    if vm.has_pci_devices():
        opts = info.kernelopts_pci if info else ""
        if vm.app.domains.get(0) is not None and vm.app.domains[0].features.get("suspend-s0ix"):
            opts += " qubes_exp_pm_use_suspend=1"
        return opts
    if vm.template is not None:
        return str(vm.template.get("kernelopts"))
    if info is not None and info.kernelopts_nopci is not None:
        return str(info.kernelopts_nopci)
    return "swiotlb=2048"


def default_bootmode(vm: Any) -> str:
    active = vm.features.get("boot-mode.active")
    if active and active in vm.known_bootmodes():
        return str(active)
    template = vm.template
    while template is not None:
        if "appvm_default_bootmode" in template.PROPS:
            return str(template.get("appvm_default_bootmode"))
        template = template.template
    return "default"


def default_ip(vm: Any) -> Any:
    if not is_networked(vm):
        return None
    return vm.allocated_ipv4()


def default_ip6(vm: Any) -> Any:
    if not is_networked(vm) or not vm.features.check_with_netvm_or("ipv6", None):
        return None
    return vm.allocated_ipv6()


def default_keyboard_layout(vm: Any) -> str:
    guivm = vm.get_or("guivm") if "guivm" in vm.PROPS else None
    if guivm is not None and guivm is not vm and "keyboard_layout" in guivm.PROPS:
        return str(guivm.get("keyboard_layout"))
    return "us++"


def visible_ip(vm: Any) -> Any:
    fake = vm.features.check_with_template_or("net.fake-ip", None)
    return fake if fake else vm.get("ip")


def visible_gateway(vm: Any) -> Any:
    fake = vm.features.check_with_template_or("net.fake-gateway", None)
    if fake:
        return str(fake)
    return vm.netvm.get("gateway") if vm.netvm is not None else None


def visible_gateway6(vm: Any) -> Any:
    if vm.netvm is None or not vm.features.check_with_netvm_or("ipv6", None):
        return None
    return vm.netvm.get("gateway6")


def visible_netmask(vm: Any) -> Any:
    fake = vm.features.check_with_template_or("net.fake-netmask", None)
    if fake:
        return str(fake)
    return network.CLIENT_NETMASK if vm.netvm is not None else None


def gateway(vm: Any) -> Any:
    return vm.get("visible_ip") if vm.get("provides_network") else None


def gateway6(vm: Any) -> Any:
    return vm.get("visible_ip6") if vm.get("provides_network") else None


def dns(vm: Any) -> Any:
    return " ".join(network.DNS_SERVERS) if is_networked(vm) else None


def icon(vm: Any) -> str:
    return f"{vm.icon_kind()}-{vm.get('label').name}"


# --- the tables -------------------------------------------------------------------------
BASE_PROPS = (
    Prop("name", PropType.STR, "User-visible name of the qube", validate=v_name,
         write_once=True, clone=False),
    Prop("qid", PropType.INT, "Internal, persistent identifier of the qube", validate=v_qid,
         write_once=True, clone=False),
    Prop("uuid", PropType.STR, "UUID of the qube", validate=v_uuid, write_once=True,
         clone=False),
    Prop("label", PropType.LABEL, "Colourful label assigned to the qube"),
    Prop("klass", PropType.STR, "Class of the qube", default=lambda vm: type(vm).__name__,
         stateless=True, clone=False),
    Prop("icon", PropType.STR, "Icon name of the qube", default=icon, stateless=True,
         clone=False),
)

ADMIN_PROPS = (
    Prop("include_in_backups", PropType.BOOL, "Include this qube in backups by default",
         default=const(True)),
    Prop("updateable", PropType.BOOL, "True if the qube can be updated itself",
         default=const(True), read_only=True),
    Prop("default_dispvm", PropType.VM, "Default disposable template for calls from this qube",
         default=global_value("default_dispvm"), validate=v_dispvm_ref, load_stage=4),
    Prop("keyboard_layout", PropType.STR, "Keyboard layout as layout+variant+options",
         default=const("us++"), validate=v_keyboard_layout),
    Prop("devices_denied", PropType.STR, "Device interfaces this qube may not be given",
         default=const(""), validate=v_devices_denied),
    Prop("maxmem", PropType.INT, "Maximum memory of dom0 in MiB",
         default=lambda vm: vm.app.host.dom0_maxmem_mib, read_only=True),
)

_tpl_timeout = {
    name: tpl_or(name, global_value(f"default_{name}"))
    for name in ("qrexec_timeout", "shutdown_timeout")
}

QUBE_PROPS = (
    Prop("virt_mode", PropType.STR, "Virtualisation mode: hvm, pv or pvh",
         default=default_virt_mode, validate=v_virt_mode),
    Prop("memory", PropType.INT, "Initial memory in MiB",
         default=tpl_or("memory", const(DEFAULT_MEMORY)), validate=v_memory),
    Prop("maxmem", PropType.INT, "Maximum memory in MiB; 0 disables memory balancing",
         default=default_maxmem, validate=v_maxmem),
    Prop("stubdom_mem", PropType.INT, "Memory of the HVM stub domain in MiB",
         default=const(None), validate=positive),
    Prop("vcpus", PropType.INT, "Number of virtual CPUs",
         default=tpl_or("vcpus", const(DEFAULT_VCPUS)), validate=positive),
    Prop("kernel", PropType.STR, "Kernel used by the qube; empty uses the qube's own kernel",
         default=tpl_or("kernel", global_value("default_kernel")), validate=v_kernel),
    Prop("kernelopts", PropType.STR, "Kernel command line options",
         default=default_kernelopts, validate=v_kernelopts),
    Prop("bootmode", PropType.STR, "Boot mode of the qube", default=default_bootmode,
         validate=v_bootmode),
    Prop("debug", PropType.BOOL, "Debug mode", default=const(False)),
    Prop("default_user", PropType.STR, "Default user of qrexec calls",
         default=tpl_or("default_user", const("user")), validate=v_default_user),
    Prop("qrexec_timeout", PropType.INT, "Seconds to wait for the qrexec agent at start",
         default=_tpl_timeout["qrexec_timeout"], validate=positive),
    Prop("shutdown_timeout", PropType.INT, "Seconds to wait for a clean shutdown",
         default=_tpl_timeout["shutdown_timeout"], validate=positive),
    Prop("autostart", PropType.BOOL, "Start the qube when the system starts",
         default=const(False)),
    Prop("include_in_backups", PropType.BOOL, "Include this qube in backups by default",
         default=const(True)),
    Prop("backup_timestamp", PropType.INT, "Time of the last backup (epoch seconds)",
         default=const(None), clone=False),
    Prop("installed_by_rpm", PropType.BOOL, "Installed by a package; cannot be removed",
         default=const(False)),
    Prop("updateable", PropType.BOOL, "True if the qube can be updated itself",
         default=lambda vm: vm.template is None and "template" not in vm.PROPS,
         read_only=True),
    Prop("default_dispvm", PropType.VM, "Default disposable template for calls from this qube",
         default=global_value("default_dispvm"), validate=v_dispvm_ref, load_stage=4),
    Prop("management_dispvm", PropType.VM, "Disposable template for management tasks",
         default=tpl_or("management_dispvm", global_value("management_dispvm")),
         validate=v_dispvm_ref, load_stage=4),
    Prop("guivm", PropType.VM, "Qube providing the GUI", default=global_value("default_guivm"),
         load_stage=4),
    Prop("audiovm", PropType.VM, "Qube providing audio",
         default=global_value("default_audiovm"), load_stage=4),
    Prop("keyboard_layout", PropType.STR, "Keyboard layout as layout+variant+options",
         default=default_keyboard_layout, validate=v_keyboard_layout),
    Prop("devices_denied", PropType.STR, "Device interfaces this qube may not be given",
         default=const(""), validate=v_devices_denied),
    Prop("netvm", PropType.VM, "Qube that provides network to this one",
         default=global_value("default_netvm"), validate=v_netvm, load_stage=4),
    Prop("provides_network", PropType.BOOL, "This qube provides network to others",
         default=const(False), validate=v_provides_network),
    Prop("mac", PropType.STR, "MAC address of the qube's network interface",
         default=const(DEFAULT_MAC), validate=v_mac),
    Prop("ip", PropType.STR, "IPv4 address of the qube", default=default_ip, validate=v_ipv4),
    Prop("ip6", PropType.STR, "IPv6 address of the qube", default=default_ip6,
         validate=v_ipv6),
    Prop("visible_ip", PropType.STR, "IPv4 address as the qube sees it", default=visible_ip,
         stateless=True),
    Prop("visible_ip6", PropType.STR, "IPv6 address as the qube sees it",
         default=lambda vm: vm.get("ip6"), stateless=True),
    Prop("visible_gateway", PropType.STR, "Default gateway as the qube sees it",
         default=visible_gateway, stateless=True),
    Prop("visible_gateway6", PropType.STR, "IPv6 gateway as the qube sees it",
         default=visible_gateway6, stateless=True),
    Prop("visible_netmask", PropType.STR, "Netmask as the qube sees it",
         default=visible_netmask, stateless=True),
    Prop("gateway", PropType.STR, "Gateway address this qube offers its clients",
         default=gateway, stateless=True),
    Prop("gateway6", PropType.STR, "IPv6 gateway this qube offers its clients",
         default=gateway6, stateless=True),
    Prop("dns", PropType.STR, "DNS servers the qube uses", default=dns, stateless=True),
    Prop("xid", PropType.INT, "Hypervisor domain id while running, else -1",
         default=lambda vm: vm.runtime.xid, stateless=True),
    Prop("stubdom_xid", PropType.INT, "Domain id of the stub domain, else -1",
         default=lambda vm: vm.runtime.stubdom_xid, stateless=True),
    Prop("stubdom_uuid", PropType.STR, "UUID of the stub domain, else empty",
         default=lambda vm: vm.runtime.stubdom_uuid, stateless=True),
    Prop("start_time", PropType.STR, "Start time of the qube (epoch seconds)",
         default=lambda vm: vm.runtime.start_time, stateless=True),
)

TEMPLATE_PROPS = (
    Prop("appvm_default_bootmode", PropType.STR, "Default boot mode of qubes based on this one",
         default=lambda vm: vm.features.get("boot-mode.appvm-default") or "default",
         validate=v_bootmode),
)


def _v_appvm_template(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None or type(value).__name__ != "TemplateVM":
        raise vm.value_error(prop, value, "template must be a TemplateVM")
    if not vm.is_halted():
        raise vm.not_halted_error("The template can be changed only while the qube is halted")
    return value


def _v_dispvm_template(vm: Any, prop: Prop, value: Any) -> Any:
    if value is None or not value.get_or("template_for_dispvms", False):
        raise vm.value_error(prop, value, "template must be a disposable template")
    if not vm.is_halted():
        raise vm.not_halted_error("The template can be changed only while the qube is halted")
    return value


APPVM_PROPS = (
    Prop("template", PropType.VM, "Template the qube is based on", validate=_v_appvm_template,
         resettable=False, load_stage=4, clone=False),
    Prop("template_for_dispvms", PropType.BOOL, "This qube is a disposable template",
         default=const(False), validate=v_template_for_dispvms),
)

STANDALONE_PROPS = (APPVM_PROPS[1],)

DISPVM_PROPS = (
    Prop("template", PropType.VM, "Disposable template this qube is created from",
         validate=_v_dispvm_template, resettable=False, load_stage=4, clone=False),
    Prop("default_dispvm", PropType.VM, "Default disposable template for calls from this qube",
         default=lambda vm: vm.template, validate=v_dispvm_ref, load_stage=4),
    Prop("include_in_backups", PropType.BOOL, "Include this qube in backups by default",
         default=lambda vm: not vm.get("auto_cleanup")),
    Prop("dispid", PropType.INT, "Disposable id, used for addressing", write_once=True,
         validate=non_negative, clone=False),
    Prop("auto_cleanup", PropType.BOOL, "Remove the qube when it stops",
         default=const(False)),
    Prop("is_preload", PropType.BOOL, "Preloaded disposable, not yet used",
         default=lambda vm: vm.is_preloaded(), stateless=True),
)

#: properties whose defaults follow the template: a change on the template is echoed
#: as property-reset on each qube based on it that still uses the default
TEMPLATE_INHERITED = (
    "virt_mode", "memory", "maxmem", "vcpus", "kernel", "kernelopts", "default_user",
    "qrexec_timeout", "shutdown_timeout", "management_dispvm",
)
NETWORK_DERIVED = (
    "ip", "ip6", "visible_ip", "visible_ip6", "visible_gateway", "visible_gateway6",
    "visible_netmask", "gateway", "gateway6", "dns",
)
