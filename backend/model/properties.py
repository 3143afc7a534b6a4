"""Typed properties with upstream semantics: explicit or default, write-once, stateless.

A holder (a qube or the app) keeps only explicitly set values; every other read is
computed by the property's default, so defaults follow the objects they derive from.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from backend.errors import (
    QubesException,
    QubesLabelNotFoundError,
    QubesNoSuchPropertyError,
    QubesPropertyValueError,
    QubesVMNotFoundError,
)
from backend.model.names import parse_bool


class PropType(enum.Enum):
    """The type tags of the Admin API (admin-api.md §1.7)."""

    STR = "str"
    INT = "int"
    BOOL = "bool"
    VM = "vm"
    LABEL = "label"


_BOOL, _VM, _LABEL = PropType.BOOL, PropType.VM, PropType.LABEL


class NoValue(Exception):
    """The property is not set and has no default (upstream raises on read)."""


Default = Callable[[Any], Any]
Validator = Callable[[Any, "Prop", Any], Any]


@dataclass(frozen=True)
class Prop:
    name: str
    type: PropType
    doc: str
    default: Default | None = None  # None: no default; reading raises NoValue
    validate: Validator | None = None  # typed value in, normalised value out, or raise
    write_once: bool = False
    stateless: bool = False  # computed on every read, never stored, never set
    read_only: bool = False
    resettable: bool = True
    load_stage: int = 2  # 4 for references to other qubes (core-model.md §1.2)
    clone: bool = True

    def to_wire(self, value: Any) -> str:
        """The value as the Admin API writes it (no type prefix)."""
        if value is None:
            return ""
        # module constants: looking a member up on the enum class costs more than the rest
        type_ = self.type
        if type_ is _BOOL:
            return "True" if value else "False"
        if type_ is _VM or type_ is _LABEL:
            return str(value.name)
        return str(value)

    def to_store(self, value: Any) -> str | None:
        """The value as qubes.xml keeps it: labels as ``label-N``, qubes by name."""
        if value is None:
            return None
        if self.type is PropType.LABEL:
            return f"label-{value.index}"
        return self.to_wire(value)


def _const(value: Any) -> Default:
    return lambda _holder: value


def const(value: Any) -> Default:
    """A default that is always ``value``."""
    return _const(value)


class PropertyHolder:
    """Base of qubes and of the app's global properties."""

    PROPS: ClassVar[dict[str, Prop]] = {}

    def __init__(self, app: Any) -> None:
        self.app = app
        self._values: dict[str, Any] = {}

    # --- identity used in messages and as event subject -------------------------
    @property
    def holder_name(self) -> str:
        raise NotImplementedError

    @property
    def event_subject(self) -> Any:
        return self

    # --- lookup --------------------------------------------------------------------
    @classmethod
    def property_names(cls) -> list[str]:
        return sorted(cls.PROPS)

    def prop(self, name: str) -> Prop:
        try:
            return self.PROPS[name]
        except KeyError:
            raise QubesNoSuchPropertyError(self.holder_name, name) from None

    def is_default(self, name: str) -> bool:
        self.prop(name)
        return name not in self._values

    def get(self, name: str) -> Any:
        """The effective value; raises NoValue when unset without a default."""
        # self.prop(name), written out: defaults read other properties, so every
        # GetAll answer makes a hundred calls or more
        try:
            prop = self.PROPS[name]
        except KeyError:
            raise QubesNoSuchPropertyError(self.holder_name, name) from None
        values = self._values
        if name in values:
            return values[name]
        default = prop.default
        if default is None:
            raise NoValue(name)
        return default(self)

    def get_or(self, name: str, fallback: Any = None) -> Any:
        try:
            return self.get(name)
        except NoValue:
            return fallback

    def get_default(self, name: str) -> Any:
        """What the value would be after a reset; raises NoValue if there is none."""
        prop = self.prop(name)
        if prop.default is None or prop.stateless:
            raise NoValue(name)
        return prop.default(self)

    def explicit_values(self) -> dict[str, Any]:
        return dict(self._values)

    # --- conversion ----------------------------------------------------------------
    def convert(self, prop: Prop, value: Any) -> Any:
        """Turn wire text (or an already typed value) into the property's type."""
        if prop.type is PropType.VM:
            if value is None or value == "":
                return None
            if isinstance(value, str):
                try:
                    return self.app.domains[value]
                except QubesVMNotFoundError:
                    raise self.value_error(prop, value, f"No such qube: {value!r}") from None
            return value
        if prop.type is PropType.LABEL:
            try:
                return self.app.labels.get(value)
            except QubesLabelNotFoundError:
                raise
        if prop.type is PropType.BOOL:
            if isinstance(value, bool):
                return value
            try:
                return parse_bool(str(value))
            except QubesException:
                raise self.value_error(prop, value, f"Invalid boolean value {value!r}") from None
        if prop.type is PropType.INT:
            if isinstance(value, bool):
                raise self.value_error(prop, value, f"Invalid integer value {value!r}")
            if isinstance(value, int):
                return value
            text = str(value).strip()
            try:
                return int(text, 10)
            except ValueError:
                raise self.value_error(prop, value, f"Invalid integer value {value!r}") from None
        if value is None:
            return None
        text = str(value)
        if any(c not in string.printable for c in text):
            raise self.value_error(prop, value, "Value contains characters that are not allowed")
        return text

    def value_error(self, prop: Prop, value: Any, message: str) -> QubesPropertyValueError:
        return QubesPropertyValueError(
            self.holder_name, prop.name, value, f"{self.holder_name}: {prop.name}: {message}"
        )

    # --- change ----------------------------------------------------------------------
    def set(self, name: str, value: Any, *, loading: bool = False) -> None:
        """Set ``name``; validates everything before any state or event changes."""
        prop = self.prop(name)
        if not loading:
            if prop.stateless or prop.read_only:
                raise self.value_error(prop, value, "property is read-only")
            if prop.write_once and name in self._values:
                raise self.value_error(prop, value, "property can be set only once")
        typed = self.convert(prop, value)
        if prop.validate is not None and not loading:
            typed = prop.validate(self, prop, typed)
        if loading:
            self._values[name] = typed
            return
        had_old = True
        try:
            old = self.get(name)
        except NoValue:
            had_old, old = False, None
        extra = {"oldvalue": old} if had_old else {}
        self.fire(f"property-pre-set:{name}", name=name, newvalue=typed, **extra)
        self._values[name] = typed
        self.fire(f"property-set:{name}", name=name, newvalue=typed, **extra)
        self.on_property_changed(name, old, typed)

    def reset(self, name: str) -> None:
        prop = self.prop(name)
        if prop.stateless or prop.read_only or not prop.resettable:
            raise self.value_error(prop, None, "property cannot be reset")
        if prop.write_once and name in self._values:
            raise self.value_error(prop, None, "property can be set only once")
        had_old = True
        try:
            old = self.get(name)
        except NoValue:
            had_old, old = False, None
        if name in self._values:
            self.check_reset(prop)
        extra = {"oldvalue": old} if had_old else {}
        self.fire(f"property-pre-reset:{name}", name=name, **extra)
        self.fire(f"property-pre-del:{name}", name=name, **extra)
        self._values.pop(name, None)
        self.fire(f"property-reset:{name}", name=name, **extra)
        self.fire(f"property-del:{name}", name=name, **extra)
        try:
            new = self.get(name)
        except NoValue:
            new = None
        self.on_property_changed(name, old, new)

    def check_reset(self, prop: Prop) -> None:
        """Refuse a reset whose default would break a rule; subclasses override."""

    def on_property_changed(self, name: str, old: Any, new: Any) -> None:
        """Derived values and side effects after a change; subclasses override."""

    def fire(self, event: str, **kwargs: Any) -> None:
        self.app.events.fire(self.event_subject, event, **kwargs)

    def announce(self, names: Iterable[str]) -> None:
        """Tell listeners that computed values may have changed (synthetic reset)."""
        for name in names:
            self.fire(f"property-reset:{name}", name=name)


def build_props(*groups: Iterable[Prop]) -> dict[str, Prop]:
    table: dict[str, Prop] = {}
    for group in groups:
        for prop in group:
            table[prop.name] = prop
    return table
