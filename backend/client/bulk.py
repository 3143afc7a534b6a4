"""Our daemon's optional bulk read, ``admin.backend.GetAllData`` (feature-detected).

One call answers what ``admin.vm.List``, a ``GetAll`` per qube, the global
``GetAll``, and the feature and tag calls of every qube would. The answer is blocks
of lines (the method's docstring in ``backend/api/methods/qubes_bulk.py``):
``global`` or ``qube <admin.vm.List line>`` start a block, then ``p <GetAll line>``,
``f <feature> <escaped value>`` and ``t <tag>`` lines; unknown kinds are skipped.
Labels are not in it and are read with the label calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import MappingProxyType

from backend import errors
from backend.client import loader
from backend.client.client import AdminClient
from backend.client.model import PropertyValue, QubeSnapshot, SystemData
from backend.client.parse import parse_vm_list
from backend.protocol import (
    QubesDaemonAccessError,
    QubesDaemonCommunicationError,
    parse_property_value,
    unescape_getall_value,
)

METHOD = "admin.backend.GetAllData"

#: what a daemon without the method (a real qubesd), or a policy denying it, answers
UNSUPPORTED = (errors.ProtocolError, errors.PermissionDenied, QubesDaemonAccessError)


@dataclass
class _Block:
    """The lines of one holder while parsing."""

    header: str | None  # None: the global block
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    features: dict[str, str] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class AllData:
    """A parsed answer; ``global_properties`` is None when the block was left out."""

    qubes: dict[str, QubeSnapshot]
    global_properties: dict[str, PropertyValue] | None


def parse_all_data(body: str) -> AllData:
    """Parse the answer; blocks may be empty, unknown line kinds are skipped."""
    blocks: list[_Block] = []
    # most values repeat from qube to qube (defaults): parse each distinct one once and
    # share the (immutable) result
    parsed: dict[str, PropertyValue] = {}
    for line in body.split("\n"):
        kind, _, rest = line.partition(" ")
        if kind == "p" or kind == "f" or kind == "t":
            if not blocks:
                raise QubesDaemonCommunicationError(f"{METHOD}: {kind!r} line before any block")
            block = blocks[-1]
            if kind == "t":
                if rest:
                    block.tags.add(rest)
                continue
            name, _, text = rest.partition(" ")
            if kind == "f":
                block.features[name] = unescape_getall_value(text)
                continue
            value = parsed.get(text)
            if value is None:
                value = parsed[text] = parse_property_value(unescape_getall_value(text))
            block.properties[name] = value
        elif kind == "qube":
            blocks.append(_Block(rest))
        elif kind == "global" and not rest:
            blocks.append(_Block(None))
    global_properties: dict[str, PropertyValue] | None = None
    qubes: dict[str, QubeSnapshot] = {}
    for block in blocks:
        if block.header is None:
            global_properties = block.properties
            continue
        for name, entry in parse_vm_list(block.header + "\n").items():
            qubes[name] = QubeSnapshot(
                name, entry.klass, entry.state, entry.uuid,
                MappingProxyType(block.properties),
                features=MappingProxyType(block.features),
                tags=frozenset(block.tags),
            )
    return AllData(qubes, global_properties)


async def load(client: AdminClient) -> SystemData:
    """Read the system with the bulk method (raises one of UNSUPPORTED without it)."""
    labels_task = asyncio.ensure_future(loader.fetch_labels(client))
    try:
        data = parse_all_data(await client.call(METHOD))
        global_properties = data.global_properties
        if global_properties is None:  # hidden from us in bulk: ask the usual way
            global_properties = await loader.fetch_properties(client, None)
        labels = await labels_task
    finally:
        labels_task.cancel()
    return SystemData(data.qubes, labels, global_properties, details_included=True)
