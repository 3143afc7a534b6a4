"""Domain XML for Xen and KVM/QEMU, built from a :class:`DomainSpec`."""

from backend.virt.domainxml.cmdline import kernel_cmdline
from backend.virt.domainxml.kvm import Accel, KvmOptions, NetMode, kvm_domain_xml
from backend.virt.domainxml.spec import (
    QUBES_BLOCK_SCRIPT,
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
from backend.virt.domainxml.testdriver import for_test_driver
from backend.virt.domainxml.xen import stubdom_cmdline, xen_domain_xml

__all__ = [
    "QUBES_BLOCK_SCRIPT",
    "Accel",
    "BlockAssignment",
    "CpuQuirks",
    "DiskDevType",
    "DomainSpec",
    "HvmOptions",
    "KernelCmdline",
    "KernelSpec",
    "KvmOptions",
    "NetMode",
    "NetworkSpec",
    "PciDevice",
    "VirtMode",
    "Volume",
    "for_test_driver",
    "kernel_cmdline",
    "kvm_domain_xml",
    "stubdom_cmdline",
    "xen_domain_xml",
]
