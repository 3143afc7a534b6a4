"""A small model like a fresh Qubes install, without storage or libvirt."""

from __future__ import annotations

from typing import Any

import pytest

from backend.model.app import HostInfo, KernelInfo, Qubes


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str | None, str, dict[str, Any]]] = []

    def __call__(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        self.events.append((None if subject is None else str(subject), event, kwargs))

    def names(self, subject: str | None = None) -> list[str]:
        return [e for s, e, _ in self.events if subject is None or s == subject]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def app() -> Qubes:
    kernels = {
        "6.6.1": KernelInfo("6.6.1", kernelopts_nopci="swiotlb=4096", kernelopts_pci="pci=nomsi"),
        "6.1.9": KernelInfo("6.1.9"),
    }
    app = Qubes(host=HostInfo(memory_mib=16000, cpus=8), kernels=kernels)
    app.create_adminvm()
    app.pool_configs["varlibqubes"] = {
        "name": "varlibqubes", "driver": "file-reflink", "dir_path": "/var/lib/qubes",
    }
    app.pool_configs["linux-kernel"] = {
        "name": "linux-kernel", "driver": "linux-kernel", "dir_path": "/var/lib/qubes/vm-kernels",
    }
    fedora = app.add_new_vm("TemplateVM", "fedora", "black")
    app.add_new_vm("TemplateVM", "debian", "gray")
    app.globals.set("default_template", fedora)
    app.globals.set("default_kernel", "6.6.1")
    net = app.add_new_vm("AppVM", "sys-net", "red",
                         properties={"provides_network": True, "netvm": None})
    fw = app.add_new_vm("AppVM", "sys-firewall", "green",
                        properties={"provides_network": True, "netvm": net})
    app.globals.set("default_netvm", fw)
    dvm = app.add_new_vm("AppVM", "default-dvm", "red",
                         properties={"template_for_dispvms": True})
    app.globals.set("default_dispvm", dvm)
    app.add_new_vm("AppVM", "work", "blue")
    app.add_new_vm("AppVM", "vault", "black", properties={"netvm": None})
    app.add_new_vm("StandaloneVM", "standalone", "purple")
    return app


@pytest.fixture
def recorder(app: Qubes) -> Recorder:
    rec = Recorder()
    app.events.subscribe(rec)
    return rec
