"""The system info the engine decides on: upstream's ``internal.GetSystemInfo`` shape.

The plain form is ``{"domains": {NAME: {"type": …, "tags": […], "default_dispvm": NAME or
None, "template_for_dispvms": bool, "power_state": "Running"|…, "uuid": "…", "icon": …,
"label": …, "guivm": NAME or None, "internal": feature value or None, …}}}``; our model
or a real qubesd can produce it. Unknown keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.policy.errors import SystemInfoError
from backend.policy.tokens import DOM0, DOM0_UUID, UUID_PREFIX, is_dom0_ref


@dataclass(frozen=True)
class QubeInfo:
    name: str
    type: str
    tags: frozenset[str] = frozenset()
    default_dispvm: str | None = None
    template_for_dispvms: bool = False
    power_state: str = "Halted"
    uuid: str | None = None
    icon: str | None = None
    label: str | None = None
    guivm: str | None = None
    internal: bool = False

    @property
    def is_adminvm(self) -> bool:
        return self.type == "AdminVM" or self.name == DOM0

    @property
    def is_running(self) -> bool:
        return self.power_state == "Running"

    def to_mapping(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "tags": sorted(self.tags),
            "default_dispvm": self.default_dispvm,
            "template_for_dispvms": self.template_for_dispvms,
            "power_state": self.power_state,
            "uuid": self.uuid,
            "icon": self.icon,
            "label": self.label,
            "guivm": self.guivm,
            "internal": "1" if self.internal else None,
        }


_DOM0_DEFAULT = QubeInfo(name=DOM0, type="AdminVM", power_state="Running", uuid=DOM0_UUID)


def _optional_str(name: str, key: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise SystemInfoError(f"system info: {name}.{key} must be a string or null")


def _qube_from_mapping(name: str, data: object) -> QubeInfo:
    if not isinstance(data, Mapping):
        raise SystemInfoError(f"system info: entry of {name!r} is not an object")
    klass = data.get("type")
    if not isinstance(klass, str):
        raise SystemInfoError(f"system info: {name}.type must be a string")
    tags = data.get("tags", ())
    if not isinstance(tags, list | tuple | set | frozenset) or not all(
        isinstance(tag, str) for tag in tags
    ):
        raise SystemInfoError(f"system info: {name}.tags must be a list of strings")
    uuid = _optional_str(name, "uuid", data.get("uuid"))
    return QubeInfo(
        name=name,
        type=klass,
        tags=frozenset(tags),
        default_dispvm=_optional_str(name, "default_dispvm", data.get("default_dispvm")),
        template_for_dispvms=bool(data.get("template_for_dispvms", False)),
        power_state=_optional_str(name, "power_state", data.get("power_state")) or "Halted",
        uuid=uuid.lower() if uuid else None,
        icon=_optional_str(name, "icon", data.get("icon")),
        label=_optional_str(name, "label", data.get("label")),
        guivm=_optional_str(name, "guivm", data.get("guivm")),
        # upstream sends the feature's value; like every feature, any non-empty value is set
        internal=bool(data.get("internal")),
    )


@dataclass(frozen=True)
class SystemInfo:
    """The qubes the engine knows, by name, with lookup by ``uuid:`` reference."""

    qubes: Mapping[str, QubeInfo]
    _by_uuid: Mapping[str, QubeInfo] = field(repr=False, compare=False)

    @classmethod
    def of(cls, qubes: list[QubeInfo] | tuple[QubeInfo, ...]) -> SystemInfo:
        """Build from records; dom0 is added when missing (it always exists)."""
        by_name = {qube.name: qube for qube in qubes}
        by_name.setdefault(DOM0, _DOM0_DEFAULT)
        by_uuid = {qube.uuid: qube for qube in by_name.values() if qube.uuid}
        return cls(by_name, by_uuid)

    @classmethod
    def from_mapping(cls, data: object) -> SystemInfo:
        """Build from the plain ``{"domains": {…}}`` structure (a SystemInfo passes through)."""
        if isinstance(data, SystemInfo):
            return data
        if not isinstance(data, Mapping) or not isinstance(data.get("domains"), Mapping):
            raise SystemInfoError('system info must be an object with a "domains" object')
        domains: Mapping[object, object] = data["domains"]
        qubes = []
        for name, entry in domains.items():
            if not isinstance(name, str) or not name:
                raise SystemInfoError("system info: qube names must be non-empty strings")
            qubes.append(_qube_from_mapping(name, entry))
        return cls.of(qubes)

    def to_mapping(self) -> dict[str, Any]:
        return {"domains": {name: qube.to_mapping() for name, qube in self.qubes.items()}}

    def resolve(self, ref: str) -> QubeInfo | None:
        """The qube named by ``ref`` (a name or ``uuid:<uuid>``), or None."""
        if ref.startswith(UUID_PREFIX):
            if is_dom0_ref(ref.lower()):
                return self.qubes[DOM0]
            return self._by_uuid.get(ref[len(UUID_PREFIX) :].lower())
        return self.qubes.get(ref)

    def dispvm_template(self, ref: str) -> QubeInfo | None:
        """The qube named by ``ref`` if it is a template for disposables."""
        qube = self.resolve(ref)
        if qube is None or not qube.template_for_dispvms:
            return None
        return qube


SystemInfoLike = SystemInfo | Mapping[str, Any]
