"""Immutable views of the system the client caches: qubes, labels, volumes, statistics."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from backend.protocol import PropertyType, PropertyValue

__all__ = [
    "EMPTY",
    "LabelInfo",
    "PowerState",
    "PropertyType",
    "PropertyValue",
    "QubeClass",
    "QubeSnapshot",
    "QubeStats",
    "SystemData",
    "VolumeInfo",
]

#: an empty read-only mapping, shared
EMPTY: Mapping[str, str] = MappingProxyType({})


class PowerState(enum.StrEnum):
    """``state=`` of ``admin.vm.List`` (upstream's power states)."""

    HALTED = "Halted"
    TRANSIENT = "Transient"
    RUNNING = "Running"
    PAUSED = "Paused"
    SUSPENDED = "Suspended"
    HALTING = "Halting"
    DYING = "Dying"
    CRASHED = "Crashed"
    NA = "NA"

    @classmethod
    def parse(cls, text: str) -> PowerState:
        """A state name; anything unknown (a newer qubesd) is NA."""
        try:
            return cls(text)
        except ValueError:
            return cls.NA

    @property
    def is_running(self) -> bool:
        """Not halted (upstream's ``is_running()``: transient, paused… count)."""
        return self not in (PowerState.HALTED, PowerState.NA, PowerState.CRASHED)


class QubeClass(enum.StrEnum):
    """``class=`` of ``admin.vm.List``."""

    ADMIN_VM = "AdminVM"
    TEMPLATE_VM = "TemplateVM"
    APP_VM = "AppVM"
    DISP_VM = "DispVM"
    STANDALONE_VM = "StandaloneVM"
    REMOTE_VM = "RemoteVM"
    #: a class this client does not know (a newer qubesd)
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, text: str) -> QubeClass:
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """A label: its name, colour (``0xRRGGBB``) and index."""

    name: str
    color: str
    index: int

    @property
    def rgb(self) -> int:
        """The colour as an integer (0 when the daemon sent something odd)."""
        try:
            return int(self.color, 16)
        except ValueError:
            return 0

    @property
    def icon(self) -> str:
        """The theme icon name upstream uses for qubes of this label."""
        return f"appvm-{self.name}"


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """``admin.vm.volume.Info`` of one volume (sizes in bytes)."""

    name: str
    pool: str
    vid: str
    size: int
    usage: int
    rw: bool
    source: str | None
    path: str
    save_on_stop: bool
    snap_on_start: bool
    revisions_to_keep: int
    ephemeral: bool | None
    #: None when the pool driver cannot tell
    is_outdated: bool | None
    #: every key the daemon sent, for what the fields above do not cover
    raw: Mapping[str, str] = field(default_factory=lambda: EMPTY, compare=False)


@dataclass(frozen=True, slots=True)
class QubeSnapshot:
    """One qube as last seen; a new snapshot replaces it on every change.

    ``features``, ``tags`` and ``volumes`` are None until loaded (features and tags
    right after the properties; volumes only on request).
    """

    name: str
    klass: QubeClass
    state: PowerState
    uuid: str | None
    properties: Mapping[str, PropertyValue]
    features: Mapping[str, str] | None = None
    tags: frozenset[str] | None = None
    volumes: Mapping[str, VolumeInfo] | None = None

    # --- reading ---------------------------------------------------------------
    @property
    def label(self) -> str | None:
        """The label's name (None when unknown or hidden by policy)."""
        value = self.properties.get("label")
        return value.value or None if value is not None else None

    def prop(self, name: str) -> str | None:
        """A property's value as text: None if absent, ``''`` if unset/none."""
        value = self.properties.get(name)
        return None if value is None else value.value

    def prop_or(self, name: str, default: str) -> str:
        value = self.properties.get(name)
        return default if value is None or not value.value else value.value

    def bool_prop(self, name: str, default: bool = False) -> bool:
        value = self.properties.get(name)
        if value is None or not value.value:
            return default
        return value.value == "True"

    def int_prop(self, name: str, default: int = 0) -> int:
        value = self.properties.get(name)
        try:
            return int(value.value) if value is not None else default
        except ValueError:
            return default

    def is_default(self, name: str) -> bool | None:
        value = self.properties.get(name)
        return None if value is None else value.is_default

    def feature(self, name: str, default: str | None = None) -> str | None:
        """A feature's value when loaded and set, else ``default``."""
        if self.features is None:
            return default
        return self.features.get(name, default)

    def has_tag(self, tag: str) -> bool:
        return self.tags is not None and tag in self.tags

    @property
    def is_running(self) -> bool:
        return self.state.is_running

    @property
    def is_internal(self) -> bool:
        """The ``internal`` feature is set to a true value (hidden from menus)."""
        return bool(self.feature("internal"))

    # --- changing (returns a new snapshot) -----------------------------------------
    def with_property(self, name: str, value: PropertyValue | None) -> QubeSnapshot:
        props = dict(self.properties)
        if value is None:
            props.pop(name, None)
        else:
            props[name] = value
        return replace(self, properties=MappingProxyType(props))

    def with_feature(self, name: str, value: str | None) -> QubeSnapshot:
        features = dict(self.features or {})
        if value is None:
            features.pop(name, None)
        else:
            features[name] = value
        return replace(self, features=MappingProxyType(features))

    def with_tag(self, tag: str, present: bool) -> QubeSnapshot:
        tags = set(self.tags or ())
        if present:
            tags.add(tag)
        else:
            tags.discard(tag)
        return replace(self, tags=frozenset(tags))

    def with_state(self, state: PowerState) -> QubeSnapshot:
        return replace(self, state=state)

    def with_volumes(self, volumes: Mapping[str, VolumeInfo] | None) -> QubeSnapshot:
        frozen = None if volumes is None else MappingProxyType(dict(volumes))
        return replace(self, volumes=frozen)


@dataclass(frozen=True, slots=True)
class QubeStats:
    """One ``vm-stats`` record of ``admin.vm.Stats``."""

    name: str
    memory_kb: int
    cpu_time: int
    cpu_usage: int
    online_vcpus: int | None = None
    memory_assigned_total: int | None = None
    memory_with_swap_used: int | None = None
    raw: Mapping[str, str] = field(default_factory=lambda: EMPTY, compare=False)


@dataclass(frozen=True, slots=True)
class SystemData:
    """Everything one load read; ``details_included``: features and tags are in the snapshots."""

    qubes: Mapping[str, QubeSnapshot]
    labels: Mapping[str, LabelInfo]
    global_properties: Mapping[str, PropertyValue]
    details_included: bool
