"""Fetching the pieces of the cache with the upstream per-qube calls.

Each function makes the fewest calls upstream allows and tolerates what an older or
stricter qubesd does (``reference/admin-api.md`` §5.4): a refusal may come as an empty
response (QubesDaemonAccessError) instead of PermissionDenied, and then the piece is
left out rather than failing the whole load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from backend import errors
from backend.client.client import AdminClient
from backend.client.model import LabelInfo, PropertyValue, VolumeInfo
from backend.client.parse import ListEntry, parse_lines, parse_vm_list, parse_volume_info
from backend.protocol import QubesDaemonAccessError, parse_getall, parse_property_value

log = logging.getLogger("backend.client")

#: refusals: the piece is hidden from us (policy), not broken
REFUSED = (errors.PermissionDenied, QubesDaemonAccessError)


async def fetch_list(client: AdminClient, dest: str = "dom0") -> dict[str, ListEntry]:
    """``admin.vm.List``: every qube (dest dom0) or only ``dest``."""
    return parse_vm_list(await client.call("admin.vm.List", dest))


async def fetch_properties(client: AdminClient, qube: str | None) -> dict[str, PropertyValue]:
    """All properties of a qube (None: the global ones) with one ``GetAll``.

    When ``GetAll`` is refused, fall back to ``List`` + ``Get`` each, as the official
    client does; properties that stay refused are left out.
    """
    prefix, dest = ("admin.property", "dom0") if qube is None else ("admin.vm.property", qube)
    try:
        return parse_getall(await client.call(f"{prefix}.GetAll", dest))
    except REFUSED:
        log.debug("%s.GetAll refused for %s, asking one property at a time", prefix, dest)
    try:
        names = parse_lines(await client.call(f"{prefix}.List", dest))
    except REFUSED:
        return {}
    values = await asyncio.gather(*(_get_or_none(client, prefix, dest, n) for n in names))
    return {name: value for name, value in zip(names, values, strict=True) if value is not None}


async def _get_or_none(client: AdminClient, prefix: str, dest: str,
                       name: str) -> PropertyValue | None:
    try:
        return parse_property_value(await client.call(f"{prefix}.Get", dest, name))
    except (*REFUSED, errors.QubesNoSuchPropertyError):
        return None


async def fetch_property(client: AdminClient, qube: str | None, name: str) -> PropertyValue | None:
    """One property; None when it does not exist or is hidden from us."""
    prefix, dest = ("admin.property", "dom0") if qube is None else ("admin.vm.property", qube)
    return await _get_or_none(client, prefix, dest, name)


async def fetch_features(client: AdminClient, qube: str,
                         wanted: Collection[str] | None = None) -> dict[str, str]:
    """The qube's features (only those in ``wanted`` when given): List, then Get each."""
    names = parse_lines(await client.call("admin.vm.feature.List", qube))
    if wanted is not None:
        names = [name for name in names if name in wanted]

    async def get(name: str) -> str | None:
        try:
            return await client.call("admin.vm.feature.Get", qube, name)
        except (*REFUSED, errors.QubesFeatureNotFoundError):
            return None

    values = await asyncio.gather(*(get(name) for name in names))
    return {name: value for name, value in zip(names, values, strict=True) if value is not None}


async def fetch_tags(client: AdminClient, qube: str) -> frozenset[str]:
    return frozenset(parse_lines(await client.call("admin.vm.tag.List", qube)))


async def fetch_labels(client: AdminClient) -> dict[str, LabelInfo]:
    """Every label with its colour and index (three calls a label; labels are few)."""
    names = parse_lines(await client.call("admin.label.List"))
    labels = await asyncio.gather(*(fetch_label(client, name) for name in names))
    return {label.name: label for label in labels if label is not None}


async def fetch_label(client: AdminClient, name: str) -> LabelInfo | None:
    try:
        color, index = await asyncio.gather(
            client.call("admin.label.Get", "dom0", name),
            client.call("admin.label.Index", "dom0", name),
        )
    except (*REFUSED, errors.QubesLabelNotFoundError):
        return None
    try:
        return LabelInfo(name, color.strip(), int(index))
    except ValueError:
        return LabelInfo(name, color.strip(), 0)


async def fetch_volumes(client: AdminClient, qube: str) -> dict[str, VolumeInfo]:
    """``volume.List`` and one ``volume.Info`` per volume."""
    names = parse_lines(await client.call("admin.vm.volume.List", qube))
    infos = await asyncio.gather(*(client.call("admin.vm.volume.Info", qube, n) for n in names))
    return {name: parse_volume_info(name, body) for name, body in zip(names, infos, strict=True)}

