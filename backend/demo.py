"""The demo system: the qubes of a fresh Qubes install, for the test:/// driver.

Only the model is filled here; the daemon creates the qubes' volumes and libvirt
domains. Guests themselves cannot run on the test driver: a started demo qube is a
libvirt test domain with no operating system inside (DESIGN.md, "Demo system").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.model.app import Qubes
from backend.model.vm import DeviceAssignment

TEMPLATE_FEATURES = {"qrexec": "1", "gui": "1", "os": "Linux", "qubes-agent-version": "4.3"}


@dataclass(frozen=True)
class DemoQube:
    name: str
    klass: str
    label: str
    template: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    features: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    pci: tuple[tuple[str, str], ...] = ()  # (port, device id) assigned from dom0


def _template(name: str, distro: str, version: str, **extra: str) -> DemoQube:
    return DemoQube(name, "TemplateVM", "black", features={
        **TEMPLATE_FEATURES, "os-distribution": distro, "os-version": version,
        "template-name": name, "template-release": "1", "template-reponame": "qubes-templates",
        "template-summary": f"Qubes template for {distro} {version}", **extra,
    })


DEMO_QUBES: tuple[DemoQube, ...] = (
    _template("fedora-42", "fedora", "42"),
    _template("debian-13", "debian", "13", **{"os-distribution-like": "debian"}),
    _template("whonix-gateway-18", "whonix", "18", **{"os-distribution-like": "debian"}),
    _template("whonix-workstation-18", "whonix", "18", **{"os-distribution-like": "debian"}),
    DemoQube("sys-net", "AppVM", "red", "debian-13",
             {"provides_network": True, "netvm": None, "virt_mode": "hvm", "autostart": True,
              "memory": 425},
             pci=(("00_14.3", "0x8086:0x51f0::p028000"),)),
    DemoQube("sys-firewall", "AppVM", "green", "fedora-42",
             {"provides_network": True, "netvm": "sys-net", "autostart": True, "memory": 500}),
    DemoQube("sys-usb", "AppVM", "red", "fedora-42",
             {"netvm": None, "virt_mode": "hvm", "autostart": True},
             pci=(("00_0d.0", "0x8086:0x461e::p0c0330"),)),
    DemoQube("sys-whonix", "AppVM", "black", "whonix-gateway-18",
             {"provides_network": True, "netvm": "sys-firewall", "autostart": True},
             tags=("whonix-updatevm", "anon-gateway")),
    DemoQube("default-dvm", "AppVM", "red", "fedora-42",
             {"template_for_dispvms": True}, features={"appmenus-dispvm": "1"}),
    DemoQube("work", "AppVM", "blue", "fedora-42"),
    DemoQube("personal", "AppVM", "yellow", "fedora-42"),
    DemoQube("untrusted", "AppVM", "red", "fedora-42"),
    DemoQube("vault", "AppVM", "black", "fedora-42", {"netvm": None}),
    DemoQube("anon-whonix", "AppVM", "red", "whonix-workstation-18",
             {"netvm": "sys-whonix"}, tags=("anon-vm",)),
)

DEMO_GLOBALS = {
    "default_template": "fedora-42",
    "default_netvm": "sys-firewall",
    "default_dispvm": "default-dvm",
    "updatevm": "sys-firewall",
    "clockvm": "sys-net",
}


def populate_demo(app: Qubes, extra_qubes: int = 0) -> list[Any]:
    """Add the demo qubes (and ``extra_qubes`` more AppVMs) to ``app``; returns them."""
    added = []
    for spec in DEMO_QUBES:
        if spec.name in app.domains:
            continue
        # the table lists network qubes before their clients, so references resolve
        vm = app.add_new_vm(spec.klass, spec.name, spec.label, template=spec.template,
                            properties=spec.properties)
        if spec.pci:
            vm.devices["pci"] = [
                DeviceAssignment("dom0", port, dev, "required") for port, dev in spec.pci
            ]
        for key, value in spec.features.items():
            vm.features.load(key, value)
        for tag in spec.tags:
            vm.tags.load(tag)
        added.append(vm)
    for name, value in DEMO_GLOBALS.items():
        if app.globals.is_default(name):
            app.globals.set(name, value)
    existing = {vm.name for vm in app.domains}
    labels = ("red", "orange", "yellow", "green", "gray", "blue", "purple", "black")
    index = 1
    while len(added) < len(DEMO_QUBES) + extra_qubes:
        name = f"qube-{index:04d}"
        index += 1
        if name in existing:
            continue
        added.append(app.add_new_vm("AppVM", name, labels[index % len(labels)]))
    return added


DEMO_KERNEL = "6.12.59-1.fc41"


def install_demo_kernel(kernels_dir: Path) -> None:
    """A stand-in kernel directory: the demo's qubes never boot, but the kernel
    property, its volume and the domain XML need one to point at."""
    kdir = kernels_dir / DEMO_KERNEL
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "vmlinuz").write_bytes(b"demo kernel image\n")
    (kdir / "initramfs").write_bytes(b"demo initramfs\n")
    with open(kdir / "modules.img", "wb") as modules:
        modules.truncate(64 * 1024 * 1024)  # sparse: allocates nothing


def build_demo(system: Any, extra_qubes: int = 0) -> None:
    """Fill a brand-new :class:`backend.system.System` with the demo qubes."""
    install_demo_kernel(system.state_dir / "vm-kernels")
    system.refresh_kernels()
    system.app.globals.set("default_kernel", DEMO_KERNEL)
    for vm in populate_demo(system.app, extra_qubes):
        storage = system.new_storage(vm)
        storage.create()
        system.storages[vm.name] = storage
