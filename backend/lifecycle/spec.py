"""A qube's :class:`DomainSpec`: the model resolved into the plain values the XML needs.

Reads the model only (call it on the event loop's thread). What needs the disk — the
started volumes' block devices and whether the kernel directory has an initramfs —
is looked up in a worker thread first and passed in.
"""

from __future__ import annotations

import os
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.errors import QubesValueError
from backend.model.network import CLIENT_NETMASK, DNS_SERVERS
from backend.model.vm import AdminVM
from backend.storage.pool import BlockDevice
from backend.virt.domainxml import (
    QUBES_BLOCK_SCRIPT,
    BlockAssignment,
    DiskDevType,
    DomainSpec,
    HvmOptions,
    KernelCmdline,
    KernelSpec,
    KvmOptions,
    NetworkSpec,
    PciDevice,
    VirtMode,
    Volume,
    kvm_domain_xml,
    xen_domain_xml,
)
from backend.virt.domainxml.spec import VM_KERNELS_DIR

KERNEL_POOL_DRIVER = "linux-kernel"
_TRUE_OPTIONS = ("1", "yes", "true", "on")


@dataclass(frozen=True)
class KernelFiles:
    """What a kernel directory holds, looked up off the event loop."""

    initramfs: bool = True


def probe_kernel(directory: str) -> KernelFiles:
    """Blocking: call in a worker thread."""
    return KernelFiles(initramfs=os.path.exists(os.path.join(directory, "initramfs")))


def kernels_dir(system: Any, vm: Any) -> str:
    """The linux-kernel pool directory serving ``vm`` (its kernel volume's pool first)."""
    names: list[str] = []
    storage = system.storages.get(vm.name)
    if storage is not None:
        config = storage.configs().get("kernel")
        if config is not None and config.pool:
            names.append(config.pool)
    default = system.app.globals.get_or("default_pool_kernel")
    if default is not None:
        names.append(str(getattr(default, "name", default)))
    names += sorted(system.pools)
    for name in names:
        pool = system.pools.get(name)
        if pool is not None and pool.driver == KERNEL_POOL_DRIVER:
            return str(pool.dir_path)
    return VM_KERNELS_DIR


def kernel_dir(system: Any, vm: Any) -> str | None:
    """``<kernels dir>/<kernel>``, or None when the qube boots its own kernel."""
    name = vm.get_or("kernel")
    if not name:
        return None
    return f"{kernels_dir(system, vm)}/{name}"


def _feature(vm: Any, name: str, default: str | None = None) -> str | None:
    value = vm.features.check_with_template_or(name, default)
    return None if value is None else str(value)


def _flag(vm: Any, name: str, default: str = "") -> bool:
    return bool(_feature(vm, name, default))


def _cmdline(vm: Any) -> KernelCmdline:
    mode = vm.get_or("bootmode") or "default"
    boot_opts = "" if mode == "default" else _feature(vm, f"boot-mode.kernelopts.{mode}", "")
    return KernelCmdline(
        kernelopts=vm.get_or("kernelopts") or "",
        os_linux=_feature(vm, "os") == "Linux",
        no_default_kernelopts=_flag(vm, "no-default-kernelopts"),
        no_nomodeset=_flag(vm, "no-nomodeset"),
        apparmor=_feature(vm, "apparmor") == "1",
        selinux=_feature(vm, "selinux") == "1",
        boot_mode_opts=boot_opts or "",
    )


def network_spec(vm: Any) -> NetworkSpec | None:
    """The uplink through ``vm``'s netvm, or None when it has no netvm."""
    netvm = vm.netvm
    if netvm is None or isinstance(netvm, AdminVM):
        return None
    ip = vm.get_or("ip")
    if not ip:
        return None
    dns = tuple((vm.get_or("dns") or "").split()) or DNS_SERVERS
    return NetworkSpec(
        mac=vm.get("mac"),
        ip=ip,
        backend_domain=netvm.name,
        gateway=vm.get_or("visible_gateway") or netvm.get_or("gateway") or "",
        netmask=vm.get_or("visible_netmask") or CLIENT_NETMASK,
        dns=(dns[0], dns[1] if len(dns) > 1 else dns[0]),
        ip6=vm.get_or("ip6"),
    )


def _option(options: dict[str, str], name: str) -> bool:
    return str(options.get(name, "")).strip().lower() in _TRUE_OPTIONS


def pci_devices(vm: Any) -> tuple[PciDevice, ...]:
    """Required PCI assignments; options are enabled by any non-empty value (upstream)."""
    devices = []
    for assignment in vm.devices.get("pci", ()):
        if assignment.mode != "required":
            continue
        try:
            devices.append(
                PciDevice.from_bdf(
                    assignment.port_id,
                    permissive=bool(assignment.options.get("permissive")),
                    no_strict_reset=bool(assignment.options.get("no-strict-reset")),
                )
            )
        except ValueError as exc:
            raise QubesValueError(f"{vm.name}: PCI device {assignment.port_id}: {exc}") from None
    return tuple(devices)


def block_assignments(vm: Any) -> tuple[BlockAssignment, ...]:
    result = []
    for assignment in vm.devices.get("block", ()):
        if assignment.mode != "required":
            continue
        options = assignment.options
        devtype = options.get("devtype", "disk")
        if devtype not in ("disk", "cdrom"):
            raise QubesValueError(f"{vm.name}: block device devtype {devtype!r} is not valid")
        result.append(
            BlockAssignment(
                path="/dev/" + assignment.port_id.replace("_", "/"),
                backend_domain=assignment.backend_domain,
                devtype=DiskDevType(devtype),
                read_only=_option(options, "read-only"),
                frontend_dev=options.get("frontend-dev") or None,
            )
        )
    return tuple(result)


def _volume(device: BlockDevice) -> Volume:
    return Volume(
        name=device.name,
        path=device.path,
        rw=device.rw,
        devtype=DiskDevType(device.devtype),
        backend_domain=device.domain,
        script=QUBES_BLOCK_SCRIPT,
    )


def _hvm_options(vm: Any) -> HvmOptions:
    guivm = vm.get_or("guivm")
    audiovm = vm.get_or("audiovm")
    gui_domain = None
    if guivm is not None and not isinstance(guivm, AdminVM) and guivm.is_running():
        gui_domain = guivm.name
    audio_xid = audiovm.runtime.xid if audiovm is not None and audiovm.is_running() else -1
    return HvmOptions(
        uefi=_flag(vm, "uefi"),
        linux_stubdom=_flag(vm, "linux-stubdom", "1"),
        stubdom_mem=vm.get_or("stubdom_mem"),
        stubdom_qrexec=_flag(vm, "stubdom-qrexec"),
        audio_model=_feature(vm, "audio-model") or None,
        video_model=_feature(vm, "video-model") or "vga",
        qemu_extra_args=_feature(vm, "qemu-extra-args") or "",
        timezone=_feature(vm, "timezone") or None,
        guivm=gui_domain,
        audiovm_xid=audio_xid,
    )


def build_spec(
    system: Any,
    vm: Any,
    *,
    volumes: Sequence[BlockDevice] = (),
    kernel_files: KernelFiles | None = None,
) -> DomainSpec:
    """Everything the domain XML of ``vm`` is made of, as of now."""
    kernel = None
    directory = kernel_dir(system, vm)
    if directory is not None:
        info = vm.app.kernel_info(vm.get("kernel"))
        files = kernel_files or KernelFiles()
        kernel = KernelSpec.in_dir(
            directory,
            initramfs=files.initramfs,
            kernelopts_common=info.kernelopts_common if info is not None else None,
        )
    dom0 = vm.app.domains.get(0)
    return DomainSpec(
        name=vm.name,
        uuid=uuidlib.UUID(vm.uuid),
        virt_mode=VirtMode(vm.get("virt_mode")),
        memory=vm.get("memory"),
        maxmem=vm.get("maxmem"),
        vcpus=vm.get("vcpus"),
        memory_hotplug=vm.uses_memory_hotplug(),
        kernel=kernel,
        cmdline=_cmdline(vm),
        volumes=tuple(_volume(device) for device in volumes),
        block_devices=block_assignments(vm),
        network=network_spec(vm),
        pci_devices=pci_devices(vm),
        pci_e820_host=_flag(vm, "pci-e820-host", "1"),
        dom0_suspend_s0ix=bool(dom0 is not None and dom0.features.get("suspend-s0ix")),
        hvm=_hvm_options(vm),
        debug=bool(vm.get("debug")),
        vm_kernels_dir=kernels_dir(system, vm),
    )


def uses_kvm(uri: str) -> bool:
    """Xen XML on ``xen://`` and ``test://`` (so tests exercise it), KVM XML on QEMU."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    return scheme in ("qemu", "kvm")


def domain_xml(spec: DomainSpec, uri: str, kvm: KvmOptions | None = None) -> str:
    if uses_kvm(uri):
        return kvm_domain_xml(spec, kvm)
    return xen_domain_xml(spec)


def interface_xml(network: NetworkSpec, uri: str, kvm: KvmOptions | None = None) -> str:
    """The ``<interface>`` element for ``network``, exactly as the domain XML has it."""
    carrier = DomainSpec(
        name="net",
        uuid=uuidlib.UUID(int=0),
        virt_mode=VirtMode.PVH,
        memory=1,
        maxmem=0,
        vcpus=1,
        network=network,
    )
    iface = ET.fromstring(domain_xml(carrier, uri, kvm)).find("devices/interface")
    if iface is None:  # pragma: no cover - both builders always write one
        raise QubesValueError("the domain XML builder wrote no network interface")
    return ET.tostring(iface, encoding="unicode")
