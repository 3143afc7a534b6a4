"""DomainSpec of demo qubes: virt modes, memory, kernel, volumes, network, PCI, HVM knobs."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.demo import DEMO_KERNEL, build_demo
from backend.lifecycle.spec import (
    KernelFiles,
    build_spec,
    domain_xml,
    interface_xml,
    kernel_dir,
    network_spec,
    probe_kernel,
    uses_kvm,
)
from backend.model.vm import DeviceAssignment
from backend.storage.pool import BlockDevice
from backend.system import System
from backend.virt.domainxml import DiskDevType, PciDevice, VirtMode


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    system = System.open(tmp_path / "state", initial=build_demo)
    try:
        yield system
    finally:
        system.close()


def qube(system: System, name: str) -> Any:
    return system.app.domains[name]


def test_pvh_qube_with_netvm_gets_its_uplink_and_dom0_kernel(system: System) -> None:
    work = qube(system, "work")
    spec = build_spec(system, work)
    assert spec.name == "work" and spec.uuid == uuid.UUID(work.uuid)
    assert spec.virt_mode is VirtMode.PVH
    assert (spec.memory, spec.maxmem, spec.vcpus) == (400, 4000, 2)
    assert spec.network is not None
    assert spec.network.backend_domain == "sys-firewall"
    assert spec.network.ip == work.get("ip") == f"10.137.0.{work.qid}"
    assert spec.network.mac == "00:16:3e:5e:6c:00"
    assert spec.network.gateway == qube(system, "sys-firewall").get("visible_ip")
    assert spec.network.dns == ("10.139.1.1", "10.139.1.2")
    assert spec.pci_devices == ()
    assert spec.kernel is not None
    kernels = system.state_dir / "vm-kernels"
    assert spec.kernel.vmlinuz == f"{kernels}/{DEMO_KERNEL}/vmlinuz"
    assert spec.vm_kernels_dir == str(kernels)
    assert spec.cmdline.os_linux  # feature os=Linux through the template


def test_hvm_qube_with_pci_and_no_netvm(system: System) -> None:
    sys_net = qube(system, "sys-net")
    spec = build_spec(system, sys_net)
    assert spec.virt_mode is VirtMode.HVM
    assert spec.network is None
    assert spec.pci_devices == (PciDevice(segment=0, bus=0, slot=0x14, function=3),)
    assert spec.hvm.linux_stubdom and spec.hvm.video_model == "vga"
    assert spec.pci_e820_host


def test_pci_options_and_hvm_features_are_carried(system: System) -> None:
    sys_usb = qube(system, "sys-usb")
    sys_usb.devices["pci"] = [
        DeviceAssignment(
            "dom0",
            "00_0d.0",
            "8086:461e",
            "required",
            {"permissive": "True", "no-strict-reset": "yes"},
        ),
        DeviceAssignment("dom0", "00_0e.0", "*", "ask-to-attach"),
    ]
    sys_usb.features.set("video-model", "none")
    sys_usb.features.set("uefi", "1")
    spec = build_spec(system, sys_usb)
    (pci,) = spec.pci_devices  # only the required assignment
    assert pci.bdf == "0000:00:0d.0" and pci.permissive and pci.no_strict_reset
    assert spec.hvm.video_model == "none" and spec.hvm.uefi
    xml = domain_xml(spec, "test:///default")
    hostdev = ET.fromstring(xml).find("devices/hostdev")
    assert hostdev is not None and hostdev.get("nostrictreset") == "yes"


def test_pv_qube_without_netvm_has_no_interface(system: System) -> None:
    vault = qube(system, "vault")
    vault.set("virt_mode", "pv")
    spec = build_spec(system, vault)
    assert spec.virt_mode is VirtMode.PV
    assert spec.network is None and network_spec(vault) is None
    dom = ET.fromstring(domain_xml(spec, "xen:///system"))
    assert dom.find("devices/interface") is None
    os_type = dom.find("os/type")
    assert os_type is not None and os_type.text == "linux"


def test_pci_assignment_makes_a_qube_hvm_with_its_network(system: System) -> None:
    work = qube(system, "work")
    work.devices["pci"] = [DeviceAssignment("dom0", "03_00.0", "10ec:8168", "required")]
    spec = build_spec(system, work)
    assert spec.virt_mode is VirtMode.HVM
    assert spec.network is not None and spec.network.backend_domain == "sys-firewall"
    assert [d.bdf for d in spec.pci_devices] == ["0000:03:00.0"]


def test_started_volumes_become_disks_in_order(system: System) -> None:
    work = qube(system, "work")
    devices = [
        BlockDevice(path="/p/root", name="root", rw=False),
        BlockDevice(path="/p/private", name="private", rw=True),
        BlockDevice(path="/p/volatile", name="volatile", rw=True),
        BlockDevice(path="/k/modules.img", name="kernel", rw=False),
    ]
    spec = build_spec(system, work, volumes=devices)
    assert [(v.name, v.path, v.rw) for v in spec.volumes] == [
        ("root", "/p/root", False),
        ("private", "/p/private", True),
        ("volatile", "/p/volatile", True),
        ("kernel", "/k/modules.img", False),
    ]
    disks = ET.fromstring(domain_xml(spec, "test:///default")).findall("devices/disk")
    targets = [
        (d.find("source").get("dev"), d.find("target").get("dev"))  # type: ignore[union-attr]
        for d in disks
    ]
    assert targets == [
        ("/p/root", "xvda"),
        ("/p/private", "xvdb"),
        ("/p/volatile", "xvdc"),
        ("/k/modules.img", "xvdd"),
    ]


def test_kernel_features_shape_the_command_line(system: System) -> None:
    work = qube(system, "work")
    work.features.set("apparmor", "1")
    work.features.set("no-nomodeset", "1")
    work.set("kernelopts", "quiet")
    spec = build_spec(system, work, kernel_files=KernelFiles(initramfs=False))
    assert spec.cmdline.apparmor and spec.cmdline.no_nomodeset
    assert spec.cmdline.kernelopts == "quiet"
    assert spec.kernel is not None and spec.kernel.initramfs is None
    cmdline = ET.fromstring(domain_xml(spec, "test:///default")).find("os/cmdline")
    assert cmdline is not None and cmdline.text is not None
    assert "apparmor=1 security=apparmor" in cmdline.text and "nomodeset" not in cmdline.text


def test_no_kernel_boots_the_qubes_own(system: System) -> None:
    work = qube(system, "work")
    work.set("kernel", "")
    assert kernel_dir(system, work) is None
    spec = build_spec(system, work)
    assert spec.kernel is None
    kernel = ET.fromstring(domain_xml(spec, "test:///default")).find("os/kernel")
    assert kernel is not None and kernel.text is not None
    assert kernel.text.endswith("pvgrub2-pvh/vmlinuz")


def test_probe_kernel_sees_the_initramfs(system: System) -> None:
    directory = kernel_dir(system, qube(system, "work"))
    assert directory is not None
    assert probe_kernel(directory) == KernelFiles(initramfs=True)
    assert probe_kernel(str(system.state_dir)) == KernelFiles(initramfs=False)


def test_required_block_assignment_is_attached(system: System) -> None:
    work = qube(system, "work")
    work.devices["block"] = [
        DeviceAssignment(
            "sys-usb", "sdb", "*", "required", {"read-only": "yes", "devtype": "cdrom"}
        ),
        DeviceAssignment("sys-usb", "sdc", "*", "auto-attach"),
    ]
    (dev,) = build_spec(system, work).block_devices
    assert (dev.path, dev.backend_domain, dev.read_only, dev.devtype) == (
        "/dev/sdb",
        "sys-usb",
        True,
        DiskDevType.CDROM,
    )


def test_kvm_xml_only_on_qemu_uris(system: System) -> None:
    assert uses_kvm("qemu:///system") and uses_kvm("qemu+ssh://host/system")
    assert not uses_kvm("xen:///system") and not uses_kvm("test:///default")
    spec = build_spec(system, qube(system, "vault"))
    assert ET.fromstring(domain_xml(spec, "qemu:///session")).get("type") == "kvm"
    assert ET.fromstring(domain_xml(spec, "test:///x")).get("type") == "xen"


def test_interface_xml_names_the_netvm_backend(system: System) -> None:
    network = network_spec(qube(system, "work"))
    assert network is not None
    iface = ET.fromstring(interface_xml(network, "xen:///"))
    assert iface.tag == "interface" and iface.get("type") == "ethernet"
    backend = iface.find("backenddomain")
    assert backend is not None and backend.get("name") == "sys-firewall"
    mac = iface.find("mac")
    assert mac is not None and mac.get("address") == "00:16:3e:5e:6c:00"
