"""The rules of reference/core-model.md §4.6, one behaviour at a time."""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from backend.errors import QubesValueError
from backend.virt.domainxml import (
    Accel,
    BlockAssignment,
    CpuQuirks,
    DiskDevType,
    DomainSpec,
    HvmOptions,
    KernelCmdline,
    KernelSpec,
    KvmOptions,
    NetMode,
    NetworkSpec,
    PciDevice,
    VirtMode,
    Volume,
    for_test_driver,
    kernel_cmdline,
    kvm_domain_xml,
    xen_domain_xml,
)

UUID = uuid.UUID("7db78950-c467-4863-94d1-af59806384ea")
KERNEL = KernelSpec.in_dir("/k")
NET = NetworkSpec(
    mac="00:16:3e:5e:6c:00", ip="10.137.0.9", backend_domain="sys-firewall", gateway="10.138.0.1"
)


def spec(**changes: Any) -> DomainSpec:
    base = DomainSpec(
        name="vm",
        uuid=UUID,
        virt_mode=VirtMode.PVH,
        memory=400,
        maxmem=4000,
        vcpus=2,
        kernel=KERNEL,
    )
    return dataclasses.replace(base, **changes)


def xen(**changes: Any) -> ET.Element:
    return ET.fromstring(xen_domain_xml(spec(**changes)))


def kvm(options: KvmOptions | None = None, **changes: Any) -> ET.Element:
    return ET.fromstring(kvm_domain_xml(spec(**changes), options))


def text(dom: ET.Element, path: str) -> str | None:
    elem = dom.find(path)
    return None if elem is None else elem.text


def targets(dom: ET.Element) -> list[str]:
    return [d.get("dev", "") for d in dom.findall("devices/disk/target")]


# -- memory ---------------------------------------------------------------------------


def test_memory_is_maxmem_when_balanced() -> None:
    dom = xen()
    assert (text(dom, "memory"), text(dom, "currentMemory")) == ("4000", "400")
    assert dom.find("maxMemory") is None


def test_memory_is_initial_memory_without_balancing() -> None:
    dom = xen(maxmem=0)
    assert (text(dom, "memory"), text(dom, "currentMemory")) == ("400", "400")


def test_hvm_with_pci_gets_fixed_memory() -> None:
    dom = xen(virt_mode=VirtMode.HVM, pci_devices=(PciDevice.from_bdf("00:14.0"),))
    assert text(dom, "memory") == "400"


def test_pvh_with_pci_keeps_maxmem() -> None:
    assert text(xen(pci_devices=(PciDevice.from_bdf("00:14.0"),)), "memory") == "4000"


def test_memory_hotplug_starts_small_with_one_slot_up_to_maxmem() -> None:
    dom = xen(memory_hotplug=True)
    max_memory = dom.find("maxMemory")
    assert max_memory is not None
    assert (max_memory.get("slots"), max_memory.get("unit"), max_memory.text) == (
        "1",
        "MiB",
        "4000",
    )
    assert text(dom, "memory") == "400"


def test_spec_rejects_nonpositive_memory() -> None:
    with pytest.raises(ValueError):
        spec(memory=0)


# -- cpu, os, features, clock ------------------------------------------------------------


def test_pv_has_no_cpu_element_and_no_hvm_features() -> None:
    dom = xen(virt_mode=VirtMode.PV)
    assert dom.find("cpu") is None
    assert list(dom.find("features") or []) == []


def test_cpu_disables_nested_virtualisation_and_requires_invtsc() -> None:
    features = {(f.get("name"), f.get("policy")) for f in xen().findall("cpu/feature")}
    assert features == {("vmx", "disable"), ("svm", "disable"), ("invtsc", "require")}


@pytest.mark.parametrize(
    ("family", "model", "disabled"), [(6, 58, True), (6, 62, True), (6, 60, False), (23, 58, False)]
)
def test_rdrand_disabled_only_on_affected_cpus(family: int, model: int, disabled: bool) -> None:
    names = [
        f.get("name") for f in xen(cpu=CpuQuirks.for_cpu(family, model)).findall("cpu/feature")
    ]
    assert ("rdrand" in names) is disabled


def test_hvm_boots_hvmloader_and_uefi_boots_ovmf() -> None:
    loader = xen(virt_mode=VirtMode.HVM).find("os/loader")
    assert loader is not None and (loader.get("type"), loader.text) == ("rom", "hvmloader")
    loader = xen(virt_mode=VirtMode.HVM, hvm=HvmOptions(uefi=True)).find("os/loader")
    assert loader is not None
    assert (loader.get("type"), loader.text) == ("pflash", "/usr/share/edk2/xen/OVMF.fd")


def test_hvm_with_kernel_gets_cmdline_but_no_kernel_element() -> None:
    dom = xen(virt_mode=VirtMode.HVM)
    assert dom.find("os/kernel") is None
    assert text(dom, "os/cmdline")


@pytest.mark.parametrize(
    ("mode", "grub"), [(VirtMode.PVH, "pvgrub2-pvh"), (VirtMode.PV, "pvgrub2")]
)
def test_in_vm_kernel_boots_pvgrub_without_cmdline(mode: VirtMode, grub: str) -> None:
    dom = xen(virt_mode=mode, kernel=None)
    assert text(dom, "os/kernel") == f"/var/lib/qubes/vm-kernels/{grub}/vmlinuz"
    assert dom.find("os/initrd") is None
    assert dom.find("os/cmdline") is None


def test_initrd_only_when_the_kernel_has_one() -> None:
    assert text(xen(), "os/initrd") == "/k/initramfs"
    assert xen(kernel=KernelSpec.in_dir("/k", initramfs=False)).find("os/initrd") is None


def test_e820_host_only_with_pci_devices_unless_disabled() -> None:
    pci = (PciDevice.from_bdf("00:14.0"),)
    assert xen().find("features/xen") is None
    assert xen(pci_devices=pci).find("features/xen/e820_host") is not None
    assert xen(pci_devices=pci, pci_e820_host=False).find("features/xen") is None


@pytest.mark.parametrize(
    ("timezone", "adjustment", "basis"),
    [
        ("localtime", "0", "localtime"),
        ("3600", "3600", "utc"),
        ("-7200", "-7200", "utc"),
        (None, "0", "utc"),
        ("Europe/Warsaw", "0", "utc"),
    ],
)
def test_hvm_clock_follows_timezone(timezone: str | None, adjustment: str, basis: str) -> None:
    clock = xen(virt_mode=VirtMode.HVM, hvm=HvmOptions(timezone=timezone)).find("clock")
    assert clock is not None
    assert clock.attrib == {"offset": "variable", "adjustment": adjustment, "basis": basis}


def test_pv_and_pvh_clock_is_utc_with_native_tsc() -> None:
    for mode in (VirtMode.PV, VirtMode.PVH):
        dom = xen(virt_mode=mode)
        clock = dom.find("clock")
        assert clock is not None and clock.attrib == {"offset": "utc", "adjustment": "reset"}
        timer = dom.find("clock/timer")
        assert timer is not None and timer.attrib == {"name": "tsc", "mode": "native"}


def test_every_domain_is_destroyed_on_poweroff_reboot_and_crash() -> None:
    dom = xen()
    assert [text(dom, e) for e in ("on_poweroff", "on_reboot", "on_crash")] == ["destroy"] * 3


# -- kernel command line --------------------------------------------------------------


def test_cmdline_starts_with_machine_id_for_linux() -> None:
    line = kernel_cmdline(spec(cmdline=KernelCmdline(kernelopts="quiet")))
    assert line is not None
    assert line.startswith(f"systemd.machine_id={UUID.hex} root=/dev/mapper/dmroot ro nomodeset")
    assert line.endswith("xen_privcmd.unrestricted quiet")


def test_cmdline_without_linux_has_no_machine_id() -> None:
    line = kernel_cmdline(spec(cmdline=KernelCmdline(os_linux=False)))
    assert line is not None and "machine_id" not in line


def test_kernel_dir_common_options_replace_the_default() -> None:
    kernel = KernelSpec.in_dir("/k", kernelopts_common="root=/dev/xvda1 nomodeset \n")
    line = kernel_cmdline(
        spec(kernel=kernel, cmdline=KernelCmdline(os_linux=False, kernelopts="x=1"))
    )
    assert line == "root=/dev/xvda1 nomodeset x=1"


@pytest.mark.parametrize(
    "changes",
    [
        {"cmdline": KernelCmdline(no_nomodeset=True)},
        {"pci_devices": (PciDevice.from_bdf("00:02.0", display=True),)},
    ],
)
def test_nomodeset_dropped_for_no_nomodeset_or_display_device(changes: dict[str, Any]) -> None:
    line = kernel_cmdline(spec(**changes))
    assert line is not None and "nomodeset" not in line.split()


def test_security_modules_and_boot_mode_come_last() -> None:
    line = kernel_cmdline(
        spec(
            cmdline=KernelCmdline(
                kernelopts="k=1", apparmor=True, selinux=True, boot_mode_opts="single"
            )
        )
    )
    assert line is not None
    assert line.endswith("k=1 apparmor=1 security=apparmor selinux=1 security=selinux single")


def test_no_default_kernelopts_keeps_only_kernelopts_and_boot_mode() -> None:
    line = kernel_cmdline(
        spec(
            cmdline=KernelCmdline(
                kernelopts="k=1", no_default_kernelopts=True, apparmor=True, boot_mode_opts="single"
            )
        )
    )
    assert line == "k=1 single"


def test_no_cmdline_without_kernel() -> None:
    assert kernel_cmdline(spec(kernel=None)) is None


# -- disks ----------------------------------------------------------------------------


VOLUMES = (
    Volume("private", "/p"),
    Volume("root", "/r", rw=False),
    Volume("volatile", "/v"),
    Volume("kernel", "/k/modules.img", rw=False),
    Volume("extra", "/e"),
    Volume("extra2", "/e2"),
)


def test_volumes_keep_their_order_and_fixed_targets() -> None:
    dom = xen(volumes=VOLUMES)
    assert [s.get("dev") for s in dom.findall("devices/disk/source")] == [
        "/p",
        "/r",
        "/v",
        "/k/modules.img",
        "/e",
        "/e2",
    ]
    assert targets(dom) == ["xvdb", "xvda", "xvdc", "xvdd", "xvde", "xvdf"]


def test_read_only_volume_gets_readonly() -> None:
    disks = xen(volumes=VOLUMES).findall("devices/disk")
    assert [d.find("readonly") is not None for d in disks] == [
        False,
        True,
        False,
        True,
        False,
        False,
    ]


def test_block_assignments_start_at_xvdi() -> None:
    dom = xen(
        volumes=VOLUMES, block_devices=(BlockAssignment("/dev/sdb"), BlockAssignment("/dev/sdc"))
    )
    assert targets(dom)[-2:] == ["xvdi", "xvdj"]


def test_frontend_dev_is_honoured_and_not_handed_out_twice() -> None:
    dom = xen(
        block_devices=(
            BlockAssignment("/dev/sdb"),
            BlockAssignment("/dev/sdc", frontend_dev="xvdi"),
        )
    )
    assert targets(dom) == ["xvdj", "xvdi"]


def test_cdrom_prefers_xvdd_without_kernel() -> None:
    cdrom = BlockAssignment("/dev/sr0", devtype=DiskDevType.CDROM, read_only=True)
    assert targets(xen(kernel=None, virt_mode=VirtMode.HVM, block_devices=(cdrom,))) == ["xvdd"]
    assert targets(xen(block_devices=(cdrom,))) == ["xvdi"]
    disk = xen(block_devices=(cdrom,)).find("devices/disk")
    assert disk is not None and disk.get("device") == "cdrom"


def test_backenddomain_for_assignments_only_outside_dom0() -> None:
    dom = xen(
        block_devices=(
            BlockAssignment("/dev/sdb"),
            BlockAssignment("/dev/xvdi", backend_domain="sys-usb"),
        )
    )
    assert [d.find("backenddomain") is None for d in dom.findall("devices/disk")] == [True, False]
    backend = dom.find("devices/disk[2]/backenddomain")
    assert backend is not None and backend.get("name") == "sys-usb"


def test_disks_use_phy_driver_and_qubes_block_script() -> None:
    disk = xen(volumes=VOLUMES[:1]).find("devices/disk")
    assert disk is not None
    assert [child.tag for child in disk] == ["driver", "source", "target", "script"]
    script = disk.find("script")
    assert script is not None and script.get("path") == "/etc/xen/scripts/qubes-block"


# -- network, PCI, HVM devices ------------------------------------------------------------


def test_network_interface_goes_through_the_netvm() -> None:
    iface = xen(network=dataclasses.replace(NET, ip6="fd09::9")).find("devices/interface")
    assert iface is not None and iface.get("type") == "ethernet"
    assert [(c.tag, c.attrib) for c in iface] == [
        ("mac", {"address": "00:16:3e:5e:6c:00"}),
        ("ip", {"address": "10.137.0.9"}),
        ("ip", {"address": "fd09::9", "family": "ipv6"}),
        ("backenddomain", {"name": "sys-firewall"}),
        ("script", {"path": "vif-route-qubes"}),
    ]


def test_no_netvm_no_interface() -> None:
    assert xen().find("devices/interface") is None


@pytest.mark.parametrize("bdf", ["0000:03:00.1", "03:00.1", "03_00.1"])
def test_pci_address_forms(bdf: str) -> None:
    dev = PciDevice.from_bdf(bdf)
    assert (dev.segment, dev.bus, dev.slot, dev.function, dev.bdf) == (0, 3, 0, 1, "0000:03:00.1")


def test_pci_address_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        PciDevice.from_bdf("03:00")


def test_pci_options_map_to_hostdev_attributes() -> None:
    plain, tuned = xen(
        pci_devices=(
            PciDevice.from_bdf("0000:0a:1f.7"),
            PciDevice.from_bdf("01:00.0", permissive=True, no_strict_reset=True),
        )
    ).findall("devices/hostdev")
    assert plain.attrib == {"type": "pci", "managed": "yes"}
    source = plain.find("source")
    assert source is not None and source.attrib == {}
    address = plain.find("source/address")
    assert address is not None
    assert address.attrib == {"domain": "0x0000", "bus": "0x0a", "slot": "0x1f", "function": "0x7"}
    assert tuned.get("nostrictreset") == "yes"
    source = tuned.find("source")
    assert source is not None and source.attrib == {"writeFiltering": "no"}


def test_dom0_s0ix_turns_off_power_management_filtering() -> None:
    source = xen(pci_devices=(PciDevice.from_bdf("01:00.0"),), dom0_suspend_s0ix=True).find(
        "devices/hostdev/source"
    )
    assert source is not None and source.get("powerManagementFiltering") == "no"


def test_pv_and_pvh_have_no_emulated_devices() -> None:
    for mode in (VirtMode.PV, VirtMode.PVH):
        devices = xen(virt_mode=mode).find("devices")
        assert devices is not None
        assert [c.tag for c in devices] == ["console"]


def emulator(**changes: Any) -> ET.Element:
    elem = xen(virt_mode=VirtMode.HVM, **changes).find("devices/emulator")
    assert elem is not None
    return elem


def test_default_stubdom_is_linux_with_audio_off() -> None:
    assert emulator().attrib == {"type": "stubdom-linux", "cmdline": "-qubes-audio:audiovm_xid=-1"}


def test_stubdom_cmdline_order_audio_extra_debug_network() -> None:
    elem = emulator(
        network=NET, debug=True, hvm=HvmOptions(audiovm_xid=3, qemu_extra_args=" -usb ")
    )
    assert elem.get("cmdline") == (
        "-qubes-audio:audiovm_xid=3 -usb -trace xen_platform_log "
        "-qubes-net:client_ip=10.137.0.9,dns_0=10.139.1.1,dns_1=10.139.1.2,"
        "gw=10.138.0.1,netmask=255.255.255.255"
    )


def test_stubdom_memory_in_kib() -> None:
    assert emulator(hvm=HvmOptions(stubdom_mem=128)).get("memory") == "131072"


@pytest.mark.parametrize(
    ("hvm", "full"),
    [
        (HvmOptions(), False),
        (HvmOptions(audio_model="ich6"), True),
        (HvmOptions(stubdom_qrexec=True), True),
    ],
)
def test_full_stubdom_only_for_audio_or_qrexec(hvm: HvmOptions, full: bool) -> None:
    elem = emulator(hvm=hvm)
    assert ("kernel" in elem.attrib and "ramdisk" in elem.attrib) is full


def test_legacy_stubdom_has_no_qubes_display() -> None:
    dom = xen(virt_mode=VirtMode.HVM, hvm=HvmOptions(linux_stubdom=False))
    assert dom.find("devices/emulator[@type='stubdom']") is not None
    assert dom.find("devices/video") is not None
    assert dom.find("devices/graphics") is None


def test_video_none_drops_video_and_display() -> None:
    dom = xen(virt_mode=VirtMode.HVM, hvm=HvmOptions(video_model="none"))
    assert dom.find("devices/video") is None and dom.find("devices/graphics") is None


def test_display_goes_to_the_guivm_and_logs_in_debug() -> None:
    graphics = xen(virt_mode=VirtMode.HVM, debug=True, hvm=HvmOptions(guivm="sys-gui")).find(
        "devices/graphics"
    )
    assert graphics is not None
    assert graphics.attrib == {"type": "qubes", "domain": "sys-gui", "log_level": "2"}


def test_hvm_device_order_ends_with_the_console() -> None:
    devices = xen(virt_mode=VirtMode.HVM, hvm=HvmOptions(audio_model="ich6")).find("devices")
    assert devices is not None
    assert [c.tag for c in devices] == [
        "emulator",
        "input",
        "sound",
        "video",
        "graphics",
        "console",
    ]
    console = devices.find("console/target")
    assert console is not None and console.attrib == {"type": "xen", "port": "0"}


# -- KVM --------------------------------------------------------------------------------


def test_kvm_domain_type_follows_the_accelerator() -> None:
    assert kvm().get("type") == "kvm"
    tcg = kvm(KvmOptions(accel=Accel.TCG))
    assert tcg.get("type") == "qemu"
    assert tcg.find("cpu") is None  # host-passthrough needs KVM


def test_kvm_virtio_disks_mirror_the_xen_letters() -> None:
    dom = kvm(
        volumes=VOLUMES,
        block_devices=(
            BlockAssignment("/dev/sdb"),
            BlockAssignment("/dev/sr0", devtype=DiskDevType.CDROM),
        ),
    )
    assert targets(dom) == ["vdb", "vda", "vdc", "vdd", "vde", "vdf", "vdi", "sdj"]
    assert [t.get("bus") for t in dom.findall("devices/disk/target")][-2:] == ["virtio", "sata"]


def test_kvm_files_and_block_devices() -> None:
    dom = kvm(volumes=(Volume("root", "/dev/vg/root"), Volume("private", "/var/p.img")))
    assert [d.get("type") for d in dom.findall("devices/disk")] == ["block", "file"]
    assert [s.attrib for s in dom.findall("devices/disk/source")] == [
        {"dev": "/dev/vg/root"},
        {"file": "/var/p.img"},
    ]


def test_kvm_direct_kernel_boot_or_disk_boot() -> None:
    dom = kvm()
    assert text(dom, "os/kernel") == "/k/vmlinuz" and text(dom, "os/cmdline")
    dom = kvm(kernel=None, virt_mode=VirtMode.HVM, hvm=HvmOptions(uefi=True))
    os_ = dom.find("os")
    assert os_ is not None and os_.get("firmware") == "efi" and os_.find("kernel") is None
    assert [b.get("dev") for b in os_.findall("boot")] == ["cdrom", "hd"]


def test_kvm_network_user_or_bridge() -> None:
    iface = kvm(network=NET).find("devices/interface")
    assert iface is not None and iface.get("type") == "user" and iface.find("source") is None
    iface = kvm(KvmOptions(net_mode=NetMode.BRIDGE, bridge="br0"), network=NET).find(
        "devices/interface"
    )
    assert iface is not None and iface.get("type") == "bridge"
    source = iface.find("source")
    assert source is not None and source.get("bridge") == "br0"


def test_kvm_refuses_devices_served_by_another_qube() -> None:
    with pytest.raises(QubesValueError, match="sys-usb"):
        kvm_domain_xml(spec(block_devices=(BlockAssignment("/dev/sdb", backend_domain="sys-usb"),)))


# -- test driver adaptation -----------------------------------------------------------


def test_for_test_driver_drops_only_the_qubes_display() -> None:
    original = ET.fromstring(xen_domain_xml(spec(virt_mode=VirtMode.HVM, network=NET)))
    adapted = ET.fromstring(for_test_driver(ET.tostring(original, encoding="unicode")))
    devices = original.find("devices")
    graphics = original.find("devices/graphics")
    assert devices is not None and graphics is not None
    devices.remove(graphics)
    assert ET.tostring(adapted) == ET.tostring(original)


def test_for_test_driver_leaves_other_xml_untouched() -> None:
    xml = xen_domain_xml(spec())
    assert for_test_driver(xml) is xml
