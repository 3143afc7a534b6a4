"""libvirt XML of a qube on Xen (libxl), as qubesd renders ``libvirt/xen.xml``.

The shape follows reference/core-model.md §4.6. Some elements are extensions of
Qubes' patched libvirt (stub-domain ``<emulator>`` attributes, ``<graphics
type="qubes">``, disk ``<script>``, the PCI reset/filtering options, the bare
``hvmloader`` loader name); stock libvirt's schema does not know them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from backend.virt.domainxml._xml import root, serialise, sub
from backend.virt.domainxml.cmdline import kernel_cmdline
from backend.virt.domainxml.disks import plan_disks
from backend.virt.domainxml.spec import DomainSpec, VirtMode

HVMLOADER = "hvmloader"  # resolved by libxl in Xen's firmware dir
OVMF = "/usr/share/edk2/xen/OVMF.fd"
STUBDOM_FULL_KERNEL = "/usr/libexec/xen/boot/qemu-stubdom-linux-full-kernel"
STUBDOM_FULL_RAMDISK = "/usr/libexec/xen/boot/qemu-stubdom-linux-full-rootfs"
VIF_SCRIPT = "vif-route-qubes"


def xen_domain_xml(spec: DomainSpec) -> str:
    dom = root("domain", {"type": "xen"})
    sub(dom, "name", text=spec.name)
    sub(dom, "uuid", text=str(spec.uuid))
    _memory(dom, spec)
    sub(dom, "vcpu", {"placement": "static"}, str(spec.vcpus))
    if spec.virt_mode is not VirtMode.PV:
        _cpu(dom, spec)
    _os(dom, spec)
    _features(dom, spec)
    _clock(dom, spec)
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        sub(dom, event, text="destroy")
    _devices(sub(dom, "devices"), spec)
    return serialise(dom)


def _memory(dom: ET.Element, spec: DomainSpec) -> None:
    hvm_with_pci = spec.virt_mode is VirtMode.HVM and bool(spec.pci_devices)
    if hvm_with_pci or spec.maxmem == 0:
        sub(dom, "memory", {"unit": "MiB"}, str(spec.memory))
    elif spec.memory_hotplug:
        sub(dom, "memory", {"unit": "MiB"}, str(spec.memory))
        sub(dom, "maxMemory", {"unit": "MiB", "slots": 1}, str(spec.maxmem))
    else:
        sub(dom, "memory", {"unit": "MiB"}, str(spec.maxmem))
    sub(dom, "currentMemory", {"unit": "MiB"}, str(spec.memory))


def _cpu(dom: ET.Element, spec: DomainSpec) -> None:
    cpu = sub(dom, "cpu", {"mode": "host-passthrough"})
    # no nested HVM
    sub(cpu, "feature", {"name": "vmx", "policy": "disable"})
    sub(cpu, "feature", {"name": "svm", "policy": "disable"})
    # the TSC is safe to use: qubes never migrate
    sub(cpu, "feature", {"name": "invtsc", "policy": "require"})
    if spec.cpu.disable_rdrand:
        sub(cpu, "feature", {"name": "rdrand", "policy": "disable"})


def _os(dom: ET.Element, spec: DomainSpec) -> None:
    os_ = sub(dom, "os")
    if spec.virt_mode is VirtMode.HVM:
        sub(os_, "type", {"arch": "x86_64", "machine": "xenfv"}, "hvm")
        # libvirt's libxl driver picks OVMF or SeaBIOS by the loader type
        if spec.hvm.uefi:
            sub(os_, "loader", {"type": "pflash"}, OVMF)
        else:
            sub(os_, "loader", {"type": "rom"}, HVMLOADER)
        sub(os_, "boot", {"dev": "cdrom"})
        sub(os_, "boot", {"dev": "hd"})
    else:
        if spec.virt_mode is VirtMode.PVH:
            sub(os_, "type", {"arch": "x86_64", "machine": "xenpvh"}, "xenpvh")
        else:
            sub(os_, "type", {"arch": "x86_64", "machine": "xenpv"}, "linux")
        if spec.kernel is not None:
            sub(os_, "kernel", text=spec.kernel.vmlinuz)
            if spec.kernel.initramfs is not None:
                sub(os_, "initrd", text=spec.kernel.initramfs)
        else:
            grub = "pvgrub2-pvh" if spec.virt_mode is VirtMode.PVH else "pvgrub2"
            sub(os_, "kernel", text=f"{spec.vm_kernels_dir}/{grub}/vmlinuz")
    cmdline = kernel_cmdline(spec)
    if cmdline is not None:
        sub(os_, "cmdline", text=cmdline)


def _features(dom: ET.Element, spec: DomainSpec) -> None:
    features = sub(dom, "features")
    if spec.virt_mode is not VirtMode.PV:
        for name in ("pae", "acpi", "apic", "viridian"):
            sub(features, name)
    if spec.pci_devices and spec.pci_e820_host:
        sub(sub(features, "xen"), "e820_host", {"state": "on"})


def _clock(dom: ET.Element, spec: DomainSpec) -> None:
    if spec.virt_mode is not VirtMode.HVM:
        clock = sub(dom, "clock", {"offset": "utc", "adjustment": "reset"})
        sub(clock, "timer", {"name": "tsc", "mode": "native"})
        return
    timezone = (spec.hvm.timezone or "").strip().lower()
    if timezone == "localtime":
        adjustment, basis = "0", "localtime"
    elif timezone.lstrip("+-").isdigit():
        adjustment, basis = str(int(timezone)), "utc"
    else:
        adjustment, basis = "0", "utc"
    sub(dom, "clock", {"offset": "variable", "adjustment": adjustment, "basis": basis})


def _devices(devices: ET.Element, spec: DomainSpec) -> None:
    for disk in plan_disks(spec):
        elem = sub(devices, "disk", {"type": "block", "device": disk.devtype.value})
        sub(elem, "driver", {"name": "phy"})
        sub(elem, "source", {"dev": disk.path})
        sub(elem, "target", {"dev": f"xvd{disk.letters}"})
        if disk.readonly:
            sub(elem, "readonly")
        if disk.backend_domain is not None:
            sub(elem, "backenddomain", {"name": disk.backend_domain})
        if disk.script is not None:
            sub(elem, "script", {"path": disk.script})
    if spec.network is not None:
        net = spec.network
        iface = sub(devices, "interface", {"type": "ethernet"})
        sub(iface, "mac", {"address": net.mac})
        sub(iface, "ip", {"address": net.ip})
        if net.ip6:
            sub(iface, "ip", {"address": net.ip6, "family": "ipv6"})
        sub(iface, "backenddomain", {"name": net.backend_domain})
        sub(iface, "script", {"path": VIF_SCRIPT})
    for pci in spec.pci_devices:
        hostdev = sub(
            devices,
            "hostdev",
            {
                "type": "pci",
                "managed": "yes",
                "nostrictreset": "yes" if pci.no_strict_reset else None,
            },
        )
        source = sub(
            hostdev,
            "source",
            {
                "writeFiltering": "no" if pci.permissive else None,
                "powerManagementFiltering": "no" if spec.dom0_suspend_s0ix else None,
            },
        )
        sub(
            source,
            "address",
            {
                "domain": f"0x{pci.segment:04x}",
                "bus": f"0x{pci.bus:02x}",
                "slot": f"0x{pci.slot:02x}",
                "function": f"0x{pci.function:x}",
            },
        )
    if spec.virt_mode is VirtMode.HVM:
        _hvm_devices(devices, spec)
    console = sub(devices, "console", {"type": "pty"})
    sub(console, "target", {"type": "xen", "port": 0})


def stubdom_cmdline(spec: DomainSpec) -> str:
    """Arguments for QEMU in the stub domain (audio, extra args, debug, network)."""
    args = [f"-qubes-audio:audiovm_xid={spec.hvm.audiovm_xid}"]
    if spec.hvm.qemu_extra_args.strip():
        args.append(spec.hvm.qemu_extra_args.strip())
    if spec.debug:
        args.append("-trace xen_platform_log")
    if spec.network is not None:
        net = spec.network
        args.append(
            f"-qubes-net:client_ip={net.ip},dns_0={net.dns[0]},dns_1={net.dns[1]},"
            f"gw={net.gateway},netmask={net.netmask}"
        )
    return " ".join(args)


def _hvm_devices(devices: ET.Element, spec: DomainSpec) -> None:
    hvm = spec.hvm
    # the full stub domain carries PulseAudio and the qrexec agent
    full = bool(hvm.audio_model) or hvm.stubdom_qrexec
    sub(
        devices,
        "emulator",
        {
            "type": "stubdom-linux" if hvm.linux_stubdom else "stubdom",
            "cmdline": stubdom_cmdline(spec),
            "memory": hvm.stubdom_mem * 1024 if hvm.stubdom_mem else None,
            "kernel": STUBDOM_FULL_KERNEL if full else None,
            "ramdisk": STUBDOM_FULL_RAMDISK if full else None,
        },
    )
    sub(devices, "input", {"type": "tablet", "bus": "usb"})
    if hvm.audio_model:
        sub(devices, "sound", {"model": hvm.audio_model})
    if hvm.video_model != "none":
        sub(sub(devices, "video"), "model", {"type": hvm.video_model})
        if hvm.linux_stubdom:
            sub(
                devices,
                "graphics",
                {
                    "type": "qubes",
                    "domain": hvm.guivm,
                    "log_level": 2 if spec.debug else None,
                },
            )
