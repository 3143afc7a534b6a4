"""What depends on a qube: before deleting it, before shutting it down (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from PyQt6.QtCore import QCoreApplication

from backend.client import PropertyValue, QubeSnapshot


@dataclass(frozen=True, slots=True, order=True)
class Dependency:
    """``qube``'s property ``prop`` names the qube (``qube`` None: a global property)."""

    qube: str | None
    prop: str

    def describe(self) -> str:
        if self.qube is None:
            return QCoreApplication.translate("Dependency", "global property %1") \
                .replace("%1", self.prop)
        return QCoreApplication.translate("Dependency", "property %1 of qube %2") \
            .replace("%1", self.prop).replace("%2", self.qube)


def dependencies(name: str, qubes: Mapping[str, QubeSnapshot],
                 global_properties: Mapping[str, PropertyValue]) -> list[Dependency]:
    """Where ``name`` is used (upstream's ``vm_dependencies``): every global property
    that names it, and every qube property set to it explicitly (a property that only
    follows a global default is reported through that global property)."""
    found = [Dependency(None, prop) for prop, value in global_properties.items()
             if value.type == "vm" and value.value == name]
    for other in qubes.values():
        if other.name == name:
            continue
        for prop, value in other.properties.items():
            if value.type == "vm" and value.value == name and not value.is_default:
                found.append(Dependency(other.name, prop))
    return sorted(found, key=lambda d: (d.qube is not None, d.qube or "", d.prop))


def running_clients(names: Iterable[str], qubes: Mapping[str, QubeSnapshot]) -> list[str]:
    """Running qubes that use any of ``names`` as netvm, directly or through others
    (upstream's recursive ``connected_vms``), not counting ``names`` themselves."""
    targets = set(names)
    found: list[str] = []
    queue = list(targets)
    while queue:
        netvm = queue.pop()
        for qube in qubes.values():
            if qube.name in targets or qube.name in found or not qube.is_running:
                continue
            if qube.prop("netvm") == netvm:
                found.append(qube.name)
                queue.append(qube.name)
    return sorted(found)
