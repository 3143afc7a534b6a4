"""The production Xen XML on libvirt's test driver: accepted, and the essentials kept.

These also pin the facts ``backend.virt.domainxml.testdriver`` is built on; if a libvirt
upgrade changes them, they fail and say which adaptation to revisit.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from backend.virt.connection import VirtConnection
from backend.virt.domainxml import DomainSpec, xen_domain_xml
from backend.virt.states import PowerState
from tests.backend.virt import specs
from tests.backend.virt.conftest import run

SPECS = {"pvh": specs.PVH, "hvm": specs.HVM, "pv": specs.PV}


def kib(elem: ET.Element | None) -> int | None:
    if elem is None or elem.text is None:
        return None
    factor = {"KiB": 1, "MiB": 1024, "GiB": 1024 * 1024}[elem.get("unit", "KiB")]
    return int(elem.text) * factor


def essentials(xml: str) -> dict[str, Any]:
    dom = ET.fromstring(xml)
    return {
        "type": dom.get("type"),
        "name": dom.findtext("name"),
        "uuid": dom.findtext("uuid"),
        "memory": kib(dom.find("memory")),
        "maxMemory": kib(dom.find("maxMemory")),
        "currentMemory": kib(dom.find("currentMemory")),
        "vcpus": dom.findtext("vcpu"),
        "os": (
            dom.findtext("os/type"),
            dom.findtext("os/kernel"),
            dom.findtext("os/initrd"),
            dom.findtext("os/cmdline"),
        ),
        "disks": [
            (
                disk.get("device"),
                disk.find("source").get("dev"),  # type: ignore[union-attr]
                disk.find("target").get("dev"),  # type: ignore[union-attr]
                disk.find("readonly") is not None,
                disk.find("backenddomain").get("name")  # type: ignore[union-attr]
                if disk.find("backenddomain") is not None
                else None,
            )
            for disk in dom.findall("devices/disk")
        ],
        "interfaces": [
            (
                iface.get("type"),
                iface.find("mac").get("address"),  # type: ignore[union-attr]
                [ip.get("address") for ip in iface.findall("ip")],
                iface.find("backenddomain").get("name"),  # type: ignore[union-attr]
                iface.find("script").get("path"),  # type: ignore[union-attr]
            )
            for iface in dom.findall("devices/interface")
        ],
        "pci": [
            dict(hostdev.find("source/address").attrib)  # type: ignore[union-attr]
            for hostdev in dom.findall("devices/hostdev")
        ],
    }


@pytest.mark.parametrize("mode", sorted(SPECS))
def test_xen_xml_round_trips_through_the_test_driver(mode: str, world_uri: str) -> None:
    spec: DomainSpec = SPECS[mode]
    xml = xen_domain_xml(spec)

    async def main() -> str:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xml)
            assert uuid == str(spec.uuid)
            return await conn.xml(uuid, inactive=True)

    assert essentials(run(main)) == essentials(xml)


@pytest.mark.parametrize("mode", sorted(SPECS))
def test_xen_domains_go_through_a_whole_lifecycle(mode: str, world_uri: str) -> None:
    spec: DomainSpec = SPECS[mode]

    async def main() -> list[PowerState]:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xen_domain_xml(spec))
            seen = [await conn.state(uuid)]
            await conn.start_paused(uuid)
            seen.append(await conn.state(uuid))
            await conn.resume(uuid)
            seen.append(await conn.state(uuid))
            await conn.destroy(uuid)
            seen.append(await conn.state(uuid))
            await conn.undefine(uuid)
            return seen

    assert run(main) == [
        PowerState.HALTED,
        PowerState.PAUSED,
        PowerState.RUNNING,
        PowerState.HALTED,
    ]


def test_test_driver_still_refuses_the_qubes_display(world_uri: str) -> None:
    # the reason for_test_driver exists; bypasses VirtConnection.define on purpose
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            conn._conn.defineXML(xen_domain_xml(specs.HVM))

    with pytest.raises(Exception, match="graphics"):
        run(main)


def test_test_driver_drops_the_qubes_extensions_it_does_not_know(world_uri: str) -> None:
    async def main() -> str:
        async with VirtConnection(world_uri) as conn:
            return await conn.xml(await conn.define(xen_domain_xml(specs.HVM)), inactive=True)

    stored = run(main)
    assert "<script path='/etc/xen/scripts/qubes-block'/>" not in stored
    assert "<emulator" not in stored
    assert "nostrictreset" not in stored and "powerManagementFiltering" not in stored
