"""libvirt operations the lifecycle needs beyond ``VirtConnection``'s public methods.

``VirtConnection`` has no calls (yet) for device hot-plug, PM suspend, ``info()`` of
one domain, or the live facts of one domain (id, console pty). Until it offers them
(``attach_device``, ``detach_device``, ``pm_suspend``, ``pm_wakeup``, ``info``), they
go through its generic worker-thread call path, which keeps its reconnect and error
mapping (``libvirtError`` → ``VirtError``). A public method of the same name is
preferred as soon as it exists. libvirt itself is not imported here: the flag values
are libvirt's stable ABI numbers.

WORKAROUND: uses ``VirtConnection._call``; see the lifecycle report for the request.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from backend.virt.connection import VirtConnection

T = TypeVar("T")

AFFECT_LIVE = 1  # VIR_DOMAIN_AFFECT_LIVE
SUSPEND_TARGET_MEM = 0  # VIR_NODE_SUSPEND_TARGET_MEM


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


async def _on_domain(conn: VirtConnection, uuid: str, action: str, fn: Callable[[Any], T]) -> T:
    def call(raw: Any) -> T:
        return fn(raw.lookupByUUIDString(uuid))

    result: T = await conn._call(f"{action} {uuid}", call)
    return result


async def attach_device(conn: VirtConnection, uuid: str, xml: str) -> None:
    public = getattr(conn, "attach_device", None)
    if public is not None:
        await public(uuid, xml)
        return
    await _on_domain(
        conn,
        uuid,
        "Cannot attach a device to domain",
        lambda dom: dom.attachDeviceFlags(xml, AFFECT_LIVE),
    )


async def detach_device(conn: VirtConnection, uuid: str, xml: str) -> None:
    public = getattr(conn, "detach_device", None)
    if public is not None:
        await public(uuid, xml)
        return
    await _on_domain(
        conn,
        uuid,
        "Cannot detach a device from domain",
        lambda dom: dom.detachDeviceFlags(xml, AFFECT_LIVE),
    )


async def pm_suspend(conn: VirtConnection, uuid: str) -> None:
    public = getattr(conn, "pm_suspend", None)
    if public is not None:
        await public(uuid)
        return
    await _on_domain(
        conn,
        uuid,
        "Cannot suspend domain",
        lambda dom: dom.pMSuspendForDuration(SUSPEND_TARGET_MEM, 0, 0),
    )


async def pm_wakeup(conn: VirtConnection, uuid: str) -> None:
    public = getattr(conn, "pm_wakeup", None)
    if public is not None:
        await public(uuid)
        return
    await _on_domain(conn, uuid, "Cannot wake up domain", lambda dom: dom.pMWakeup(0))


async def info(conn: VirtConnection, uuid: str) -> DomainInfo:
    def read(dom: Any) -> DomainInfo:
        _state, max_kb, mem_kb, vcpus, cpu_ns = dom.info()
        return DomainInfo(int(max_kb), int(mem_kb), int(vcpus), int(cpu_ns))

    return await _on_domain(conn, uuid, "Cannot read the state of domain", read)


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
