"""What a domain's libvirt XML is built from: frozen records the model fills in.

Nothing here knows about qubes, features or pools: the model resolves defaults,
features and templates into plain values, and the builders turn them into XML.
Memory sizes are MiB, as the qubesd properties are.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field

QUBES_BLOCK_SCRIPT = "/etc/xen/scripts/qubes-block"
VM_KERNELS_DIR = "/var/lib/qubes/vm-kernels"


class VirtMode(enum.Enum):
    PVH = "pvh"
    HVM = "hvm"
    PV = "pv"


class DiskDevType(enum.Enum):
    DISK = "disk"
    CDROM = "cdrom"


@dataclass(frozen=True)
class KernelSpec:
    """A dom0-provided kernel (the ``kernel`` property is set)."""

    dir: str  # e.g. /var/lib/qubes/vm-kernels/6.6.1
    vmlinuz: str
    initramfs: str | None = None  # None when the kernel dir has none
    # contents of <dir>/default-kernelopts-common.txt, None when the file is absent
    default_kernelopts_common: str | None = None

    @classmethod
    def in_dir(
        cls, directory: str, *, initramfs: bool = True, kernelopts_common: str | None = None
    ) -> KernelSpec:
        return cls(
            dir=directory,
            vmlinuz=f"{directory}/vmlinuz",
            initramfs=f"{directory}/initramfs" if initramfs else None,
            default_kernelopts_common=kernelopts_common,
        )


@dataclass(frozen=True)
class KernelCmdline:
    """The pieces of the kernel command line (used only when a kernel is set)."""

    kernelopts: str = ""
    os_linux: bool = True  # feature os=Linux: prefix systemd.machine_id=<uuid hex>
    no_default_kernelopts: bool = False
    no_nomodeset: bool = False
    apparmor: bool = False
    selinux: bool = False
    boot_mode_opts: str = ""  # kernelopts of the active boot mode


@dataclass(frozen=True)
class Volume:
    """One of the qube's own volumes, already started by its pool."""

    name: str  # root, private, volatile, kernel, or any other volume name
    path: str
    rw: bool = True
    devtype: DiskDevType = DiskDevType.DISK
    backend_domain: str | None = None  # qube exporting the device; None = local
    script: str | None = QUBES_BLOCK_SCRIPT


@dataclass(frozen=True)
class BlockAssignment:
    """A ``required`` block device assignment, attached at start."""

    path: str  # device node in the backend domain
    backend_domain: str = "dom0"
    devtype: DiskDevType = DiskDevType.DISK
    read_only: bool = False
    frontend_dev: str | None = None  # option frontend-dev, e.g. "xvdl"
    script: str | None = QUBES_BLOCK_SCRIPT


@dataclass(frozen=True)
class NetworkSpec:
    """The qube's uplink through its netvm."""

    mac: str
    ip: str
    backend_domain: str  # the netvm's name
    gateway: str  # the netvm's gateway, for the HVM stubdom
    netmask: str = "255.255.255.255"
    dns: tuple[str, str] = ("10.139.1.1", "10.139.1.2")
    ip6: str | None = None


_BDF = re.compile(
    r"^(?:(?P<segment>[0-9a-fA-F]{4}):)?(?P<bus>[0-9a-fA-F]{2})[:_]"
    r"(?P<slot>[0-9a-fA-F]{2})\.(?P<function>[0-7])$"
)


@dataclass(frozen=True)
class PciDevice:
    """A ``required`` PCI assignment; options as the assignment stores them."""

    segment: int
    bus: int
    slot: int
    function: int
    permissive: bool = False
    no_strict_reset: bool = False
    display: bool = False  # display-class device: the kernel keeps modesetting

    @classmethod
    def from_bdf(cls, bdf: str, **options: bool) -> PciDevice:
        """Parse ``0000:00:14.0``, ``00:14.0`` or the Qubes port form ``00_14.0``."""
        match = _BDF.match(bdf)
        if match is None:
            raise ValueError(f"not a PCI address: {bdf!r}")
        return cls(
            segment=int(match["segment"] or "0", 16),
            bus=int(match["bus"], 16),
            slot=int(match["slot"], 16),
            function=int(match["function"]),
            **options,
        )

    @property
    def bdf(self) -> str:
        return f"{self.segment:04x}:{self.bus:02x}:{self.slot:02x}.{self.function}"


@dataclass(frozen=True)
class HvmOptions:
    """HVM-only knobs (features of the qube, resolved through its template)."""

    uefi: bool = False
    linux_stubdom: bool = True
    stubdom_mem: int | None = None  # MiB
    stubdom_qrexec: bool = False
    audio_model: str | None = None
    video_model: str = "vga"  # "none" leaves out video and the qubes display
    qemu_extra_args: str = ""
    timezone: str | None = None  # "localtime", seconds east of UTC, or None for UTC
    guivm: str | None = None  # a running GuiVM other than dom0
    audiovm_xid: int = -1  # -1 when there is no running AudioVM


@dataclass(frozen=True)
class CpuQuirks:
    disable_rdrand: bool = False  # broken RDRAND on CPU family/model 6/58 and 6/62

    @classmethod
    def for_cpu(cls, family: int, model: int) -> CpuQuirks:
        return cls(disable_rdrand=(family, model) in {(6, 58), (6, 62)})


@dataclass(frozen=True)
class DomainSpec:
    name: str
    uuid: uuid.UUID
    virt_mode: VirtMode
    memory: int  # MiB, initial memory
    maxmem: int  # MiB, 0 when the qube takes no part in memory balancing
    vcpus: int
    memory_hotplug: bool = False
    kernel: KernelSpec | None = None  # None: the qube boots its own kernel
    cmdline: KernelCmdline = field(default_factory=KernelCmdline)
    volumes: tuple[Volume, ...] = ()
    block_devices: tuple[BlockAssignment, ...] = ()
    network: NetworkSpec | None = None
    pci_devices: tuple[PciDevice, ...] = ()
    pci_e820_host: bool = True
    dom0_suspend_s0ix: bool = False  # dom0 feature suspend-s0ix
    hvm: HvmOptions = field(default_factory=HvmOptions)
    cpu: CpuQuirks = field(default_factory=CpuQuirks)
    debug: bool = False
    vm_kernels_dir: str = VM_KERNELS_DIR  # where pvgrub2 / pvgrub2-pvh live

    def __post_init__(self) -> None:
        if self.memory <= 0 or self.vcpus <= 0 or self.maxmem < 0:
            raise ValueError(
                f"{self.name}: memory and vcpus must be positive and maxmem not negative"
            )
