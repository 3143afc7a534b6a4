"""Properties of the XML builders over generated specs (hypothesis)."""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from backend.virt.domainxml import (
    BlockAssignment,
    DiskDevType,
    DomainSpec,
    KernelCmdline,
    KernelSpec,
    VirtMode,
    Volume,
    kernel_cmdline,
    kvm_domain_xml,
    xen_domain_xml,
)

FIXED = {"root": "xvda", "private": "xvdb", "volatile": "xvdc", "kernel": "xvdd"}

# text libvirt can carry: XML 1.0 characters without control characters
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30
)

volume_names = st.lists(
    st.sampled_from(["root", "private", "volatile", "kernel", "a", "b", "c", "d", "e", "f"]),
    unique=True,
    max_size=10,
)


@st.composite
def specs(draw: st.DrawFn) -> DomainSpec:
    names = draw(volume_names)
    volumes = tuple(Volume(n, f"/dev/{n}", rw=draw(st.booleans())) for n in names)
    frontends = draw(st.lists(st.sampled_from(["xvdi", "xvdj", "xvdk", "xvdz"]), unique=True))
    blocks = [BlockAssignment(f"/dev/sd{i}", frontend_dev=f) for i, f in enumerate(frontends)]
    blocks += [
        BlockAssignment(f"/dev/sr{i}", devtype=draw(st.sampled_from(list(DiskDevType))))
        for i in range(draw(st.integers(0, 4)))
    ]
    blocks = draw(st.permutations(blocks))
    return DomainSpec(
        name="vm",
        uuid=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        virt_mode=draw(st.sampled_from(list(VirtMode))),
        memory=draw(st.integers(1, 64 * 1024)),
        maxmem=draw(st.integers(0, 64 * 1024)),
        vcpus=draw(st.integers(1, 64)),
        memory_hotplug=draw(st.booleans()),
        kernel=draw(st.none() | st.just(KernelSpec.in_dir("/k"))),
        volumes=volumes,
        block_devices=tuple(blocks),
    )


@given(specs())
def test_disk_targets_are_unique_and_fixed_volumes_keep_their_names(spec: DomainSpec) -> None:
    dom = ET.fromstring(xen_domain_xml(spec))
    disks = dom.findall("devices/disk")
    devs = [d.find("target").get("dev", "") for d in disks]  # type: ignore[union-attr]
    assert len(devs) == len(set(devs)) == len(spec.volumes) + len(spec.block_devices)
    for volume, dev in zip(spec.volumes, devs, strict=False):
        if volume.name in FIXED:
            assert dev == FIXED[volume.name]
        else:
            assert dev not in FIXED.values()


@given(specs())
def test_kvm_lays_out_the_same_disks_in_the_same_order(spec: DomainSpec) -> None:
    xen = ET.fromstring(xen_domain_xml(spec))
    kvm = ET.fromstring(kvm_domain_xml(spec))
    xen_devs = [t.get("dev", "")[3:] for t in xen.findall("devices/disk/target")]
    kvm_devs = [t.get("dev", "")[2:] for t in kvm.findall("devices/disk/target")]
    assert xen_devs == kvm_devs


@given(specs())
def test_current_memory_is_always_the_initial_memory(spec: DomainSpec) -> None:
    dom = ET.fromstring(xen_domain_xml(spec))
    assert dom.findtext("currentMemory") == str(spec.memory)
    assert int(dom.findtext("memory") or 0) in (spec.memory, spec.maxmem)


@given(xml_text, xml_text)
def test_names_and_options_survive_xml_escaping(name: str, kernelopts: str) -> None:
    spec = DomainSpec(
        name=name,
        uuid=uuid.UUID(int=1),
        virt_mode=VirtMode.PVH,
        memory=400,
        maxmem=0,
        vcpus=1,
        kernel=KernelSpec.in_dir("/k"),
        cmdline=KernelCmdline(kernelopts=kernelopts, no_default_kernelopts=True),
    )
    dom = ET.fromstring(xen_domain_xml(spec))
    assert dom.findtext("name") == name
    assert dom.findtext("os/cmdline") == kernel_cmdline(spec)


@given(
    st.text(alphabet=' ab=\t"', max_size=20),
    st.text(alphabet=" cd=", max_size=20),
    st.booleans(),
    st.booleans(),
)
def test_cmdline_pieces_are_joined_by_one_space(
    kernelopts: str, boot: str, apparmor: bool, linux: bool
) -> None:
    spec = DomainSpec(
        name="vm",
        uuid=uuid.UUID(int=7),
        virt_mode=VirtMode.PVH,
        memory=400,
        maxmem=0,
        vcpus=1,
        kernel=KernelSpec.in_dir("/k"),
        cmdline=KernelCmdline(
            kernelopts=kernelopts, boot_mode_opts=boot, apparmor=apparmor, os_linux=linux
        ),
    )
    line = kernel_cmdline(spec)
    assert line is not None and line == line.strip()
    # the user's options are kept verbatim inside (quoting may need their blanks)
    pieces = [kernelopts.strip()] + (["apparmor=1 security=apparmor"] if apparmor else [])
    pieces.append(boot.strip())
    tail = " ".join(p for p in pieces if p)
    assert line.endswith(f" {tail}" if tail else "xen_privcmd.unrestricted")


def test_replace_keeps_specs_frozen() -> None:
    spec = DomainSpec(
        name="vm", uuid=uuid.UUID(int=1), virt_mode=VirtMode.PV, memory=1, maxmem=0, vcpus=1
    )
    try:
        spec.name = "other"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("DomainSpec must be frozen")
