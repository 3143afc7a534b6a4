"""Volume configurations as stored in the ``<volume>`` elements of qubes.xml."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.errors import QubesValueError

_TRUE_WORDS = frozenset({"1", "yes", "true", "on"})
_FALSE_WORDS = frozenset({"0", "no", "false", "off"})
# Optional attributes written as "None" by some upstream versions mean "not set".
_NONE_WORDS = frozenset({"", "None"})
_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)

# Attribute order of upstream's <volume> element (core-model.md §1.10).
_KNOWN_ATTRS = (
    "name",
    "pool",
    "vid",
    "revisions_to_keep",
    "rw",
    "save_on_stop",
    "snap_on_start",
    "size",
    "source",
    "ephemeral",
)


class VolumeKind(enum.Enum):
    """The four combinations of snap_on_start / save_on_stop (core-model.md §3.3)."""

    VOLATILE = "volatile"
    SNAPSHOT = "snapshot"
    ORIGIN = "origin"
    ORIGIN_SNAPSHOT = "origin-snapshot"

    @classmethod
    def of(cls, snap_on_start: bool, save_on_stop: bool) -> VolumeKind:
        if snap_on_start:
            return cls.ORIGIN_SNAPSHOT if save_on_stop else cls.SNAPSHOT
        return cls.ORIGIN if save_on_stop else cls.VOLATILE


def parse_bool(value: object, what: str) -> bool:
    """Parse a boolean the way qubesd does: ``0 no false off`` / ``1 yes true on``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise QubesValueError(f"Invalid value for {what}: {value!r} (expected True or False)")


def format_bool(value: bool) -> str:
    return "True" if value else "False"


def parse_int(value: object, what: str, minimum: int | None = None) -> int:
    """Parse an integer given as int or decimal string, refusing bools and floats."""
    if isinstance(value, bool):
        raise QubesValueError(f"Invalid value for {what}: {value!r} (expected an integer)")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_RE.fullmatch(value):
        number = int(value)
    else:
        raise QubesValueError(f"Invalid value for {what}: {value!r} (expected an integer)")
    if minimum is not None and number < minimum:
        raise QubesValueError(f"Invalid value for {what}: {number} (must be at least {minimum})")
    return number


def _check_text(value: str, what: str) -> None:
    if not value.isprintable() or "\n" in value:
        raise QubesValueError(f"Invalid {what}: {value!r} (must be printable text)")


@dataclass(frozen=True)
class VolumeConfig:
    """One volume of a qube as configured; ``None`` means "not set, use the default".

    ``source`` is the vid of the volume a snapshot is taken from (same pool).
    ``extra`` keeps attributes we do not interpret, so that loading and saving a
    qubes.xml written by another version loses nothing.
    """

    name: str
    pool: str | None = None
    vid: str | None = None
    rw: bool = False
    snap_on_start: bool = False
    save_on_stop: bool = False
    source: str | None = None
    revisions_to_keep: int | None = None
    size: int | None = None
    ephemeral: bool | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise QubesValueError(f"Invalid volume name: {self.name!r}")
        _check_text(self.name, "volume name")
        for what, text in (("pool", self.pool), ("vid", self.vid), ("source", self.source)):
            if text is not None:
                _check_text(text, f"volume {what}")
        if self.source == "":
            raise QubesValueError("Invalid volume source: empty (use None for no source)")
        if self.revisions_to_keep is not None:
            parse_int(self.revisions_to_keep, "revisions_to_keep", minimum=-1)
        if self.size is not None:
            parse_int(self.size, "size", minimum=0)
        for key, value in self.extra:
            if key in _KNOWN_ATTRS:
                raise QubesValueError(f"Volume attribute {key!r} is not an extra attribute")
            _check_text(key, "volume attribute name")
            _check_text(value, f"volume attribute {key}")

    @property
    def kind(self) -> VolumeKind:
        return VolumeKind.of(self.snap_on_start, self.save_on_stop)

    def replace(self, **changes: Any) -> VolumeConfig:
        return dataclasses.replace(self, **changes)

    def to_attrs(self) -> dict[str, str]:
        """String attributes of the ``<volume>`` element, in upstream order."""
        attrs: dict[str, str] = {"name": self.name}
        if self.pool is not None:
            attrs["pool"] = self.pool
        if self.vid is not None:
            attrs["vid"] = self.vid
        if self.revisions_to_keep is not None:
            attrs["revisions_to_keep"] = str(self.revisions_to_keep)
        attrs["rw"] = format_bool(self.rw)
        attrs["save_on_stop"] = format_bool(self.save_on_stop)
        attrs["snap_on_start"] = format_bool(self.snap_on_start)
        if self.size is not None:
            attrs["size"] = str(self.size)
        if self.source is not None:
            attrs["source"] = self.source
        if self.ephemeral is not None:
            attrs["ephemeral"] = format_bool(self.ephemeral)
        attrs.update(self.extra)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, str]) -> VolumeConfig:
        """Parse the attributes of a ``<volume>`` element."""
        if "name" not in attrs:
            raise QubesValueError("Volume configuration without a name")

        def optional(key: str) -> str | None:
            value = attrs.get(key)
            return None if value is None or value in _NONE_WORDS else value

        revisions = optional("revisions_to_keep")
        size = optional("size")
        ephemeral = optional("ephemeral")
        return cls(
            name=attrs["name"],
            pool=optional("pool"),
            vid=attrs.get("vid"),
            rw=parse_bool(attrs.get("rw", "False"), "rw"),
            snap_on_start=parse_bool(attrs.get("snap_on_start", "False"), "snap_on_start"),
            save_on_stop=parse_bool(attrs.get("save_on_stop", "False"), "save_on_stop"),
            source=optional("source"),
            revisions_to_keep=None
            if revisions is None
            else parse_int(revisions, "revisions_to_keep", minimum=-1),
            size=None if size is None else parse_int(size, "size", minimum=0),
            ephemeral=None if ephemeral is None else parse_bool(ephemeral, "ephemeral"),
            extra=tuple((k, v) for k, v in attrs.items() if k not in _KNOWN_ATTRS),
        )
