"""libvirt XML of a qube on QEMU: KVM when the host has it, TCG emulation otherwise.

The KVM equivalent of the Xen layout: the same volumes in the same order as virtio
disks (``vda`` root, ``vdb`` private, ``vdc`` volatile, ``vdd`` kernel, extra volumes
from ``vde``, block assignments from ``vdi``), direct kernel boot when a dom0 kernel is
set, and a plain QEMU network instead of a netvm (there are no driver domains on KVM,
so a device or volume served by another qube cannot be attached).
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from backend.errors import QubesValueError
from backend.virt.domainxml._xml import root, serialise, sub
from backend.virt.domainxml.cmdline import kernel_cmdline
from backend.virt.domainxml.disks import plan_disks
from backend.virt.domainxml.spec import DiskDevType, DomainSpec, VirtMode


class Accel(enum.Enum):
    KVM = "kvm"  # hardware virtualisation
    TCG = "qemu"  # pure emulation, for hosts (and CI machines) without /dev/kvm


class NetMode(enum.Enum):
    USER = "user"  # unprivileged user-mode networking (NAT by QEMU)
    BRIDGE = "bridge"  # tap on an existing host bridge


@dataclass(frozen=True)
class KvmOptions:
    accel: Accel = Accel.KVM
    net_mode: NetMode = NetMode.USER
    bridge: str = "virbr0"  # used with NetMode.BRIDGE
    machine: str = "q35"


def kvm_domain_xml(spec: DomainSpec, options: KvmOptions | None = None) -> str:
    opts = options or KvmOptions()
    dom = root("domain", {"type": opts.accel.value})
    sub(dom, "name", text=spec.name)
    sub(dom, "uuid", text=str(spec.uuid))
    # the balloon can hand back down to currentMemory; without PCI passthrough the
    # qube may grow to maxmem, like on Xen
    ceiling = spec.memory if spec.pci_devices or spec.maxmem <= spec.memory else spec.maxmem
    sub(dom, "memory", {"unit": "MiB"}, str(ceiling))
    sub(dom, "currentMemory", {"unit": "MiB"}, str(spec.memory))
    sub(dom, "vcpu", {"placement": "static"}, str(spec.vcpus))
    if opts.accel is Accel.KVM:
        cpu = sub(dom, "cpu", {"mode": "host-passthrough"})
        sub(cpu, "feature", {"name": "vmx", "policy": "disable"})
        sub(cpu, "feature", {"name": "svm", "policy": "disable"})
        if spec.cpu.disable_rdrand:
            sub(cpu, "feature", {"name": "rdrand", "policy": "disable"})
    _os(dom, spec, opts)
    features = sub(dom, "features")
    sub(features, "acpi")
    sub(features, "apic")
    localtime = (spec.hvm.timezone or "").strip().lower() == "localtime"
    sub(dom, "clock", {"offset": "localtime" if localtime else "utc"})
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        sub(dom, event, text="destroy")
    _devices(sub(dom, "devices"), spec, opts)
    return serialise(dom)


def _os(dom: ET.Element, spec: DomainSpec, opts: KvmOptions) -> None:
    uefi = spec.virt_mode is VirtMode.HVM and spec.hvm.uefi and spec.kernel is None
    os_ = sub(dom, "os", {"firmware": "efi" if uefi else None})
    sub(os_, "type", {"arch": "x86_64", "machine": opts.machine}, "hvm")
    if spec.kernel is not None:
        sub(os_, "kernel", text=spec.kernel.vmlinuz)
        if spec.kernel.initramfs is not None:
            sub(os_, "initrd", text=spec.kernel.initramfs)
        cmdline = kernel_cmdline(spec)
        if cmdline is not None:
            sub(os_, "cmdline", text=cmdline)
    else:
        sub(os_, "boot", {"dev": "cdrom"})
        sub(os_, "boot", {"dev": "hd"})


def _local(backend_domain: str | None, what: str, name: str) -> None:
    if backend_domain not in (None, "dom0"):
        raise QubesValueError(
            f"{name}: {what} is served by {backend_domain}, which is not possible on KVM"
        )


def _devices(devices: ET.Element, spec: DomainSpec, opts: KvmOptions) -> None:
    for disk in plan_disks(spec):
        _local(disk.backend_domain, f"disk {disk.path}", spec.name)
        is_block = disk.path.startswith("/dev/")
        elem = sub(
            devices,
            "disk",
            {"type": "block" if is_block else "file", "device": disk.devtype.value},
        )
        sub(elem, "driver", {"name": "qemu", "type": "raw"})
        sub(elem, "source", {"dev" if is_block else "file": disk.path})
        if disk.devtype is DiskDevType.CDROM:  # virtio has no removable media
            sub(elem, "target", {"dev": f"sd{disk.letters}", "bus": "sata"})
        else:
            sub(elem, "target", {"dev": f"vd{disk.letters}", "bus": "virtio"})
        if disk.readonly:
            sub(elem, "readonly")
    if spec.network is not None:
        iface = sub(devices, "interface", {"type": opts.net_mode.value})
        sub(iface, "mac", {"address": spec.network.mac})
        if opts.net_mode is NetMode.BRIDGE:
            sub(iface, "source", {"bridge": opts.bridge})
        sub(iface, "model", {"type": "virtio"})
    for pci in spec.pci_devices:
        hostdev = sub(devices, "hostdev", {"mode": "subsystem", "type": "pci", "managed": "yes"})
        sub(
            sub(hostdev, "source"),
            "address",
            {
                "domain": f"0x{pci.segment:04x}",
                "bus": f"0x{pci.bus:02x}",
                "slot": f"0x{pci.slot:02x}",
                "function": f"0x{pci.function:x}",
            },
        )
    sub(devices, "input", {"type": "tablet", "bus": "usb"})
    if spec.hvm.audio_model:
        sub(devices, "sound", {"model": spec.hvm.audio_model})
    if spec.virt_mode is VirtMode.HVM and spec.hvm.video_model != "none":
        sub(sub(devices, "video"), "model", {"type": spec.hvm.video_model})
    # hvc0 in the guest, as on Xen (admin.vm.Console)
    console = sub(devices, "console", {"type": "pty"})
    sub(console, "target", {"type": "virtio", "port": 0})
    sub(devices, "memballoon", {"model": "virtio"})
    rng = sub(devices, "rng", {"model": "virtio"})
    sub(rng, "backend", {"model": "random"}, "/dev/urandom")
