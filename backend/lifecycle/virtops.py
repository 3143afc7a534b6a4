"""libvirt operations the lifecycle needs, in the lifecycle's terms.

Thin adapters over ``VirtConnection`` (which keeps reconnect and error mapping), plus
the parsing of a live domain XML for the facts the lifecycle reads from it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TypeVar

from backend.virt.connection import VirtConnection

T = TypeVar("T")



@dataclass(frozen=True)
class DomainInfo:
    """``virDomain.info()`` in our terms."""

    max_kb: int
    memory_kb: int
    vcpus: int
    cpu_time_ns: int


@dataclass(frozen=True)
class LiveFacts:
    """What the live XML of a running domain tells: its id and its console pty."""

    xid: int
    console_tty: str | None


async def attach_device(conn: VirtConnection, uuid: str, xml: str) -> None:
    await conn.attach_device(uuid, xml)


async def detach_device(conn: VirtConnection, uuid: str, xml: str) -> None:
    await conn.detach_device(uuid, xml)


async def pm_suspend(conn: VirtConnection, uuid: str) -> None:
    await conn.pm_suspend(uuid)


async def pm_wakeup(conn: VirtConnection, uuid: str) -> None:
    await conn.pm_wakeup(uuid)


async def info(conn: VirtConnection, uuid: str) -> DomainInfo:
    max_kb, mem_kb, vcpus, cpu_ns = await conn.info(uuid)
    return DomainInfo(max_kb, mem_kb, vcpus, cpu_ns)


async def live_facts(conn: VirtConnection, uuid: str) -> LiveFacts:
    return parse_live_facts(await conn.xml(uuid))


def parse_live_facts(xml: str) -> LiveFacts:
    """Domain id (``id`` attribute, -1 when absent) and console pty of a live XML."""
    dom = ET.fromstring(xml)
    try:
        xid = int(dom.get("id", "-1"))
    except ValueError:
        xid = -1
    tty = None
    console = dom.find("devices/console")
    if console is not None:
        source = console.find("source")
        tty = console.get("tty") or (source.get("path") if source is not None else None)
    return LiveFacts(xid=xid, console_tty=tty or None)
