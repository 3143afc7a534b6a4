"""admin.vm.feature.* and admin.vm.tag.*: a qube's features and tags.

Features: a missing one is QubesFeatureNotFoundError (a KeyError in the client, so
``features.get(name, default)`` works); names are ``[A-Za-z0-9_.-]+`` and values
printable ASCII (QubesValueError otherwise); the features qubesd manages itself
(:data:`SYSTEM_FEATURES`) cannot be set or removed through the Admin API
(PermissionDenied, as upstream's admin extension refuses them).

Tags: ``Get`` answers ``1`` or ``0``; a malformed tag is QubesInvalidTagError; a
missing one on ``Remove`` is QubesTagNotFoundError; ``created-by-*`` and
``disp-created-by-*`` tags record who created a qube, so only dom0 may change them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import PermissionDenied, QubesInvalidTagError, QubesValueError
from backend.model.names import validate_feature_name, validate_feature_value
from backend.model.vm import AdminVM

#: features only qubesd itself sets (core-model.md §2.1)
SYSTEM_FEATURES = frozenset(
    {
        "deferred-netvm-original",
        "preload-dispvm",
        "preload-dispvm-completed",
        "preload-dispvm-in-progress",
    }
)
#: tags that record a qube's creator
CREATOR_TAG_PREFIXES = ("created-by-", "disp-created-by-")
_TAG = re.compile(r"[A-Za-z0-9_-]+")


def check_feature_change(name: str) -> None:
    validate_feature_name(name)
    if name in SYSTEM_FEATURES:
        raise PermissionDenied(f"Feature {name!r} is managed by the system and cannot be changed")


def decode_feature_value(payload: bytes) -> str:
    try:
        value = payload.decode("ascii")
    except UnicodeDecodeError:
        raise QubesValueError("Feature values must be printable ASCII") from None
    return validate_feature_value(value)


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise QubesInvalidTagError(f"Invalid tag {tag!r}: use letters, digits, '_' and '-'")
    return tag


def check_tag_change(source: Any, tag: str) -> str:
    check_tag(tag)
    if tag.startswith(CREATOR_TAG_PREFIXES) and not isinstance(source, AdminVM):
        raise PermissionDenied(f"Only dom0 may change the tag {tag!r}")
    return tag


def register(table: MethodTable, daemon: Any) -> None:
    _register_features(table, daemon)
    _register_tags(table, daemon)


def _register_features(table: MethodTable, daemon: Any) -> None:
    prefix = "admin.vm.feature"
    commit: Callable[[], Awaitable[None]] = daemon.system.commit

    @table.method(f"{prefix}.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def feature_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in call.dest.features)

    @table.method(f"{prefix}.Get", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def feature_get(call: Call) -> str:
        value: str = call.dest.features[call.arg]
        return value

    lookups = {
        "CheckWithTemplate": "check_with_template",
        "CheckWithNetvm": "check_with_netvm",
        "CheckWithAdminVM": "check_with_adminvm",
        "CheckWithTemplateAndAdminVM": "check_with_template_and_adminvm",
    }
    for method, helper in lookups.items():

        def check(call: Call, helper: str = helper) -> str:
            value: str = getattr(call.dest.features, helper)(call.arg)
            return value

        table.method(f"{prefix}.{method}", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)(
            check
        )

    @table.method(f"{prefix}.Set", arg=Need.REQUIRED, payload=Need.OPTIONAL, dest=Dest.ANY)
    def feature_set(call: Call) -> Awaitable[None]:
        check_feature_change(call.arg)
        call.dest.features.set(call.arg, decode_feature_value(call.payload))
        return commit()

    @table.method(f"{prefix}.Remove", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def feature_remove(call: Call) -> Awaitable[None]:
        check_feature_change(call.arg)
        call.dest.features.remove(call.arg)
        return commit()


def _register_tags(table: MethodTable, daemon: Any) -> None:
    prefix = "admin.vm.tag"
    commit: Callable[[], Awaitable[None]] = daemon.system.commit

    @table.method(f"{prefix}.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def tag_list(call: Call) -> str:
        return "".join(f"{tag}\n" for tag in call.dest.tags)

    @table.method(f"{prefix}.Get", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def tag_get(call: Call) -> str:
        return "1" if check_tag(call.arg) in call.dest.tags else "0"

    @table.method(f"{prefix}.Set", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def tag_set(call: Call) -> Awaitable[None]:
        call.dest.tags.add(check_tag_change(call.source, call.arg))
        return commit()

    @table.method(f"{prefix}.Remove", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def tag_remove(call: Call) -> Awaitable[None]:
        call.dest.tags.remove(check_tag_change(call.source, call.arg))
        return commit()
