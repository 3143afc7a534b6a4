"""Validation of qube names, tags, feature names and values (pure functions)."""

from __future__ import annotations

import re
import string

from backend.errors import QubesValueError

MAX_NAME_LENGTH = 31
RESERVED_NAMES = frozenset({"Domain-0", "none", "default"})
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]*$")
_NAME_CHARS = re.compile(r"^[a-zA-Z0-9_.-]*$")
_TAG = re.compile(r"^[A-Za-z0-9_-]+$")
_FEATURE = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate_name(name: str) -> str:
    """Return ``name`` if it may name a qube, else raise with the reason."""
    if not isinstance(name, str) or not name:
        raise QubesValueError("A qube name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise QubesValueError(
            f"Qube name {name!r} is too long: at most {MAX_NAME_LENGTH} characters"
        )
    if name in RESERVED_NAMES:
        raise QubesValueError(f"Qube name {name!r} is reserved")
    if name.endswith("-dm"):
        raise QubesValueError(f"Qube name {name!r} must not end with '-dm' (stub domains)")
    if not _NAME.match(name):
        first = name[0]
        if first == "-":
            raise QubesValueError(f"Qube name {name!r} must not start with a hyphen")
        if first == "_":
            raise QubesValueError(f"Qube name {name!r} must not start with an underscore")
        if first == ".":
            raise QubesValueError(f"Qube name {name!r} must not start with a dot")
        if first.isdigit():
            raise QubesValueError(f"Qube name {name!r} must not start with a digit")
        if _NAME_CHARS.match(name):
            raise QubesValueError(f"Qube name {name!r} must start with a letter")
        raise QubesValueError(
            f"Qube name {name!r} contains illegal characters: use letters, digits, '_', '.', '-'"
        )
    return name


def validate_tag(tag: str) -> str:
    if not tag or not _TAG.match(tag):
        raise QubesValueError(f"Invalid tag {tag!r}: use letters, digits, '_' and '-'")
    return tag


def validate_feature_name(name: str) -> str:
    if not name or not _FEATURE.match(name):
        raise QubesValueError(f"Invalid feature name {name!r}")
    return name


def validate_feature_value(value: str) -> str:
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        raise QubesValueError("Feature values must be printable ASCII")
    return value


def is_printable(text: str) -> bool:
    return all(c in string.printable for c in text)


def parse_bool(text: str) -> bool:
    """Upstream's boolean parsing: case-insensitive 0/no/false/off and 1/yes/true/on."""
    lowered = text.strip().lower()
    if lowered in ("0", "no", "false", "off"):
        return False
    if lowered in ("1", "yes", "true", "on"):
        return True
    raise QubesValueError(f"Invalid boolean value {text!r}")
