"""admin.backend.GetAllData: one answer agreeing with the per-item upstream calls."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from backend.api.methods.qubes_bulk import prefixed
from backend.errors import PermissionDenied, ProtocolError
from backend.protocol import parse_getall, unescape_getall_value

from .conftest import RunningDaemon
from .test_api_qubes_helpers import write_policy


@dataclass
class Block:
    header: str
    properties: list[str] = field(default_factory=list)  # GetAll lines, with newline
    features: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def parse_all_data(body: str) -> dict[str, Block]:
    """A reader of the documented format (``global`` block under the key ``""``)."""
    blocks: dict[str, Block] = {}
    current: Block | None = None
    assert body.endswith("\n")
    for line in body[:-1].split("\n"):
        kind, _, rest = line.partition(" ")
        if kind == "global":
            current = blocks[""] = Block("")
        elif kind == "qube":
            current = blocks[rest.split(" ", 1)[0]] = Block(rest)
        elif kind == "p":
            assert current is not None
            current.properties.append(rest + "\n")
        elif kind == "f":
            assert current is not None
            name, _, value = rest.partition(" ")
            current.features[name] = unescape_getall_value(value)
        elif kind == "t":
            assert current is not None
            current.tags.append(rest)
        else:
            raise AssertionError(f"unknown line {line!r}")
    return blocks


def test_all_data_agrees_with_list_getall_features_and_tags(running: RunningDaemon) -> None:
    running.call("admin.vm.feature.Set", "work", "odd", b"back\\slash and  spaces ")
    running.call("admin.vm.feature.Set", "work", "empty", b"")
    running.call("admin.vm.property.Set", "work", "kernelopts", b"two\nlines")
    raw = running.raw("admin.backend.GetAllData")
    assert raw.startswith(b"0\0global\np ")
    blocks = parse_all_data(raw[2:].decode())
    listed = running.call("admin.vm.List").splitlines()
    assert [b.header for name, b in blocks.items() if name] == listed
    assert "".join(blocks[""].properties) == running.call("admin.property.GetAll")
    for name, block in blocks.items():
        if not name:
            continue
        assert "".join(block.properties) == running.call("admin.vm.property.GetAll", name)
        assert list(block.features) == running.call("admin.vm.feature.List", name).split()
        for feature, value in block.features.items():
            assert value == running.call("admin.vm.feature.Get", name, feature)
        assert block.tags == running.call("admin.vm.tag.List", name).split()
    assert blocks["work"].features["odd"] == "back\\slash and  spaces "
    assert blocks["work"].features["empty"] == ""
    assert parse_getall("".join(blocks["work"].properties))["kernelopts"].value == "two\nlines"


def test_all_data_follows_changes(running: RunningDaemon) -> None:
    first = parse_all_data(running.call("admin.backend.GetAllData"))
    running.call("admin.vm.property.Set", "work", "label", b"red")
    running.call("admin.vm.tag.Set", "work", "fresh")
    second = parse_all_data(running.call("admin.backend.GetAllData"))
    assert "label default=False type=label blue\n" in first["work"].properties
    assert "label default=False type=label red\n" in second["work"].properties
    assert "fresh" in second["work"].tags and "fresh" not in first["work"].tags


def test_all_data_needs_dom0_as_destination_and_nothing_else(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError, match="expected destination to be AdminVM"):
        running.call("admin.backend.GetAllData", "work")
    with pytest.raises(ProtocolError, match="unexpected argument"):
        running.call("admin.backend.GetAllData", "dom0", "x")


def test_a_qube_gets_only_what_policy_grants(running: RunningDaemon) -> None:
    with pytest.raises(PermissionDenied):
        running.call("admin.backend.GetAllData", source="sys-usb")
    write_policy(
        running,
        "\n".join(
            [
                "admin.backend.GetAllData * sys-usb dom0 allow",
                "admin.vm.List * sys-usb work allow",
                "admin.vm.List * sys-usb personal allow",
                "admin.vm.property.GetAll * sys-usb work allow",
                "admin.vm.tag.List * sys-usb personal allow",
                "admin.vm.feature.Get +os sys-usb @anyvm allow",
            ]
        )
        + "\n",
    )
    running.call("admin.vm.feature.Set", "work", "os", b"Linux")
    running.call("admin.vm.feature.Set", "work", "secret", b"x")
    blocks = parse_all_data(running.call("admin.backend.GetAllData", source="sys-usb"))
    assert sorted(blocks) == ["personal", "work"]  # no global block, two qubes
    assert blocks["work"].properties and not blocks["personal"].properties
    assert blocks["work"].features == {"os": "Linux"}
    assert blocks["personal"].tags and not blocks["work"].tags


def test_prefixed_prefixes_every_line() -> None:
    assert prefixed("a 1\nb 2\n", "p ") == "p a 1\np b 2\n"
    assert prefixed("", "p ") == ""
