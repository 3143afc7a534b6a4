"""The kernel command line of a qube booted with a dom0-provided kernel."""

from __future__ import annotations

from backend.virt.domainxml.spec import DomainSpec

# used when the kernel dir has no default-kernelopts-common.txt
DEFAULT_KERNELOPTS_COMMON = (
    "root=/dev/mapper/dmroot ro nomodeset console=hvc0 rd_NO_PLYMOUTH "
    "rd.plymouth.enable=0 plymouth.enable=0 xen_privcmd.unrestricted"
)


def kernel_cmdline(spec: DomainSpec) -> str | None:
    """The ``<cmdline>`` text, or None when the qube boots its own kernel.

    Pieces are joined by single spaces (upstream concatenates them and may leave a
    trailing blank; the kernel does not care).
    """
    if spec.kernel is None:
        return None
    opts = spec.cmdline
    parts: list[str] = []
    if not opts.no_default_kernelopts:
        if opts.os_linux:
            parts.append(f"systemd.machine_id={spec.uuid.hex}")
        common = spec.kernel.default_kernelopts_common
        tokens = (DEFAULT_KERNELOPTS_COMMON if common is None else common).split()
        if opts.no_nomodeset or any(dev.display for dev in spec.pci_devices):
            tokens = [token for token in tokens if token != "nomodeset"]
        parts.extend(tokens)
    parts.append(opts.kernelopts)
    if not opts.no_default_kernelopts:
        if opts.apparmor:
            parts.append("apparmor=1 security=apparmor")
        if opts.selinux:
            parts.append("selinux=1 security=selinux")
    parts.append(opts.boot_mode_opts)
    return " ".join(part.strip() for part in parts if part.strip())
