"""Sample domain specs shared by the golden-file and test-driver tests."""

from __future__ import annotations

import uuid

from backend.virt.domainxml import (
    BlockAssignment,
    CpuQuirks,
    DiskDevType,
    DomainSpec,
    HvmOptions,
    KernelCmdline,
    KernelSpec,
    NetworkSpec,
    PciDevice,
    VirtMode,
    Volume,
)

KERNEL_DIR = "/var/lib/qubes/vm-kernels/6.6.63-1.fc37"
POOL = "/var/lib/qubes/appvms"


def appvm_volumes(name: str, *, kernel: bool = True) -> tuple[Volume, ...]:
    volumes = [
        Volume("root", "/dev/loop10", rw=False, backend_domain="dom0"),
        Volume("private", f"{POOL}/{name}/private.img", backend_domain="dom0"),
        Volume("volatile", f"{POOL}/{name}/volatile.img", backend_domain="dom0"),
    ]
    if kernel:
        volumes.append(
            Volume("kernel", f"{KERNEL_DIR}/modules.img", rw=False, backend_domain="dom0")
        )
    return tuple(volumes)


NET = NetworkSpec(
    mac="00:16:3e:5e:6c:00",
    ip="10.137.0.12",
    ip6="fd09:24ef:4179::a89:c",
    backend_domain="sys-firewall",
    gateway="10.138.0.3",
)

PVH = DomainSpec(
    name="work",
    uuid=uuid.UUID("7db78950-c467-4863-94d1-af59806384ea"),
    virt_mode=VirtMode.PVH,
    memory=400,
    maxmem=4000,
    memory_hotplug=True,
    vcpus=2,
    kernel=KernelSpec.in_dir(KERNEL_DIR),
    cmdline=KernelCmdline(kernelopts="swiotlb=2048", apparmor=True),
    volumes=appvm_volumes("work") + (Volume("scratch", f"{POOL}/work/scratch.img"),),
    block_devices=(BlockAssignment("/dev/sdb", backend_domain="sys-usb", read_only=True),),
    network=NET,
)

HVM = DomainSpec(
    name="sys-net",
    uuid=uuid.UUID("0b4cb2e6-34a3-4b0e-a0d5-3f7e6cfc2b71"),
    virt_mode=VirtMode.HVM,
    memory=425,
    maxmem=4000,
    vcpus=2,
    kernel=KernelSpec.in_dir(KERNEL_DIR),
    cmdline=KernelCmdline(kernelopts="iommu=soft swiotlb=8192"),
    volumes=appvm_volumes("sys-net"),
    block_devices=(BlockAssignment("/dev/sr0", devtype=DiskDevType.CDROM, read_only=True),),
    network=NetworkSpec(
        mac="00:16:3e:5e:6c:01",
        ip="10.137.0.5",
        backend_domain="sys-firewall",
        gateway="10.138.0.3",
    ),
    pci_devices=(
        PciDevice.from_bdf("00_14.3", permissive=True),
        PciDevice.from_bdf("0000:02:00.0", no_strict_reset=True),
    ),
    dom0_suspend_s0ix=True,
    hvm=HvmOptions(
        stubdom_mem=256,
        audio_model="ich6",
        qemu_extra_args="-usb",
        timezone="localtime",
        guivm="sys-gui",
        audiovm_xid=4,
    ),
    cpu=CpuQuirks.for_cpu(6, 58),
    debug=True,
)

PV = DomainSpec(
    name="legacy",
    uuid=uuid.UUID("f3b1f1f8-5d0a-4a51-8a0e-2f4bd3d6a9c2"),
    virt_mode=VirtMode.PV,
    memory=400,
    maxmem=4000,
    vcpus=1,
    kernel=KernelSpec.in_dir(KERNEL_DIR, initramfs=False),
    cmdline=KernelCmdline(os_linux=False, boot_mode_opts="single"),
    volumes=appvm_volumes("legacy"),
)

# the KVM golden file renders the same qube as the PVH one, with a kernel
KVM = PVH.__class__(
    **{
        **PVH.__dict__,
        "block_devices": (BlockAssignment("/dev/sdb", read_only=True),),
        "volumes": tuple(Volume(v.name, v.path, rw=v.rw, devtype=v.devtype) for v in PVH.volumes),
    }
)
