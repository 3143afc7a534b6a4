"""admin.label.*: the label list, colours and indexes, and custom labels.

Labels are looked up as upstream does (name, index, ``label-N``); an unknown one is
QubesLabelNotFoundError (a KeyError in the client). A new label's name uses
``[A-Za-z0-9._-]`` and is not all digits (QubesInvalidLabelError), its colour is
exactly ``0x`` and six hex digits (QubesInvalidLabelValueError). Only custom labels
can be removed, and only while no qube uses them (QubesLabelInUseError).

Labels fire no events, so the handlers that change them empty the response cache
(``backend.api.cache``) themselves.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import (
    PermissionDenied,
    QubesInvalidLabelError,
    QubesInvalidLabelValueError,
    QubesLabelInUseError,
    QubesValueError,
)
from backend.model.labels import DEFAULT_LABELS, Label

_LABEL_NAME = re.compile(r"[A-Za-z0-9._-]+")
_COLOR = re.compile(r"0x[0-9A-Fa-f]{6}")


def check_label_name(name: str) -> str:
    """A name a new label (or a Create payload) may use; raises QubesInvalidLabelError."""
    if not _LABEL_NAME.fullmatch(name):
        raise QubesInvalidLabelError(
            f"Invalid label name {name!r}: use letters, digits, '.', '_' and '-'"
        )
    if name.isdigit():
        raise QubesInvalidLabelError(
            f"Invalid label name {name!r}: a name of digits only would read as an index"
        )
    return name


def parse_color(payload: bytes) -> str:
    """``0xRRGGBB`` from a Create payload (surrounding blanks ignored, as upstream)."""
    try:
        text = payload.decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    if not _COLOR.fullmatch(text):
        raise QubesInvalidLabelValueError(
            "Invalid label colour: expected 0x followed by six hex digits, like 0x3465a4"
        )
    return text


def register(table: MethodTable, daemon: Any) -> None:
    app = daemon.app
    commit: Callable[[], Awaitable[None]] = daemon.system.commit

    @table.method("admin.label.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def label_list(call: Call) -> str:
        return "".join(f"{label.name}\n" for label in app.labels)

    @table.method("admin.label.Get", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ADMINVM)
    def label_get(call: Call) -> str:
        label: Label = app.labels.get(call.arg)
        return label.color

    @table.method("admin.label.Index", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ADMINVM)
    def label_index(call: Call) -> str:
        label: Label = app.labels.get(call.arg)
        return str(label.index)

    @table.method("admin.label.Create", arg=Need.REQUIRED, payload=Need.REQUIRED, dest=Dest.ADMINVM)
    def label_create(call: Call) -> Awaitable[None]:
        name = check_label_name(call.arg)
        if any(label.name == name for label in app.labels):
            raise QubesValueError(f"Label {name!r} already exists")
        app.labels.add(name, parse_color(call.payload))
        table.cache.invalidate()
        return commit()

    @table.method("admin.label.Remove", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ADMINVM)
    def label_remove(call: Call) -> Awaitable[None]:
        label: Label = app.labels.get(call.arg)
        if label.index <= len(DEFAULT_LABELS):
            raise PermissionDenied(f"Label {label.name!r} is built in and cannot be removed")
        users = [vm.name for vm in app.domains if vm.label == label]
        if users:
            raise QubesLabelInUseError(f"Label {label.name!r} is still used by: {', '.join(users)}")
        app.labels.remove(label)
        table.cache.invalidate()
        return commit()
