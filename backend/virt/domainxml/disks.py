"""Which disk gets which frontend name: shared by the Xen and KVM builders.

Xen names are ``xvd<letters>``; KVM reuses the same letters with its own prefix, so a
volume keeps its position (root is always the first disk) on both hypervisors.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.virt.domainxml.spec import DiskDevType, DomainSpec

# fixed letters of the qube's own volumes
VOLUME_LETTERS = {"root": "a", "private": "b", "volatile": "c", "kernel": "d"}
FIRST_EXTRA_VOLUME = 4  # xvde
FIRST_BLOCK_DEVICE = 8  # xvdi
CDROM_LETTER = "d"  # a cdrom prefers xvdd when no kernel volume takes it


@dataclass(frozen=True)
class PlannedDisk:
    path: str
    letters: str  # "a" for xvda / vda
    devtype: DiskDevType
    readonly: bool
    backend_domain: str | None  # None: served by the local (dom0) backend
    script: str | None


def letters(index: int) -> str:
    """Disk suffix as Linux names them: 0 → a, 25 → z, 26 → aa."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("a") + rem) + name
    return name


def _next_free(used: set[str], start: int) -> str:
    index = start
    while letters(index) in used:
        index += 1
    return letters(index)


def plan_disks(spec: DomainSpec) -> list[PlannedDisk]:
    """Volumes in the given order, then block assignments (targets from xvdi)."""
    used = {VOLUME_LETTERS[v.name] for v in spec.volumes if v.name in VOLUME_LETTERS}
    used |= {dev.frontend_dev.removeprefix("xvd") for dev in spec.block_devices if dev.frontend_dev}
    plan: list[PlannedDisk] = []
    for volume in spec.volumes:
        letter = VOLUME_LETTERS.get(volume.name)
        if letter is None:
            letter = _next_free(used, FIRST_EXTRA_VOLUME)
            used.add(letter)
        plan.append(
            PlannedDisk(
                path=volume.path,
                letters=letter,
                devtype=volume.devtype,
                readonly=not volume.rw,
                backend_domain=volume.backend_domain,
                script=volume.script,
            )
        )
    for dev in spec.block_devices:
        if dev.frontend_dev:
            letter = dev.frontend_dev.removeprefix("xvd")
        elif dev.devtype is DiskDevType.CDROM and spec.kernel is None and CDROM_LETTER not in used:
            letter = CDROM_LETTER
            used.add(letter)
        else:
            letter = _next_free(used, FIRST_BLOCK_DEVICE)
            used.add(letter)
        plan.append(
            PlannedDisk(
                path=dev.path,
                letters=letter,
                devtype=dev.devtype,
                readonly=dev.read_only,
                backend_domain=None if dev.backend_domain == "dom0" else dev.backend_domain,
                script=dev.script,
            )
        )
    return plan
