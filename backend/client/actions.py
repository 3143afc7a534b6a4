"""The changing calls windows make, named and typed (each is one Admin API call).

They return when the daemon has done the change; the cache learns about it from the
events that follow, so callers do not update anything themselves.
"""

from __future__ import annotations

import enum

from backend.client.client import AdminClient
from backend.protocol import PropertyValue, parse_property_default


class ShutdownMode(enum.Flag):
    """``admin.vm.Shutdown`` arguments: ``force`` skips dependency checks; ``wait`` blocks."""

    NORMAL = 0
    FORCE = enum.auto()
    WAIT = enum.auto()

    @property
    def argument(self) -> str:
        return "+".join(word for flag, word in ((ShutdownMode.FORCE, "force"),
                                                (ShutdownMode.WAIT, "wait")) if flag in self)


async def start(client: AdminClient, qube: str) -> None:
    await client.call("admin.vm.Start", qube)


async def shutdown(client: AdminClient, qube: str,
                   mode: ShutdownMode = ShutdownMode.NORMAL) -> None:
    await client.call("admin.vm.Shutdown", qube, mode.argument)


async def kill(client: AdminClient, qube: str) -> None:
    await client.call("admin.vm.Kill", qube)


async def pause(client: AdminClient, qube: str) -> None:
    await client.call("admin.vm.Pause", qube)


async def unpause(client: AdminClient, qube: str) -> None:
    await client.call("admin.vm.Unpause", qube)


async def remove(client: AdminClient, qube: str) -> None:
    await client.call("admin.vm.Remove", qube)


async def set_property(client: AdminClient, qube: str | None, name: str, value: str) -> None:
    """Set a qube's property (qube None: a global one); ``''`` means none."""
    method, dest = _property_target(qube)
    await client.call(f"{method}.Set", dest, name, value.encode("utf-8"))


async def reset_property(client: AdminClient, qube: str | None, name: str) -> None:
    method, dest = _property_target(qube)
    await client.call(f"{method}.Reset", dest, name)


async def property_default(client: AdminClient, qube: str | None,
                           name: str) -> PropertyValue | None:
    """What the property would be after a reset; None when it has no default."""
    method, dest = _property_target(qube)
    return parse_property_default(await client.call(f"{method}.GetDefault", dest, name))


def _property_target(qube: str | None) -> tuple[str, str]:
    return ("admin.property", "dom0") if qube is None else ("admin.vm.property", qube)


async def set_feature(client: AdminClient, qube: str, name: str, value: str) -> None:
    await client.call("admin.vm.feature.Set", qube, name, value.encode("ascii"))


async def remove_feature(client: AdminClient, qube: str, name: str) -> None:
    await client.call("admin.vm.feature.Remove", qube, name)


async def add_tag(client: AdminClient, qube: str, tag: str) -> None:
    await client.call("admin.vm.tag.Set", qube, tag)


async def remove_tag(client: AdminClient, qube: str, tag: str) -> None:
    await client.call("admin.vm.tag.Remove", qube, tag)
