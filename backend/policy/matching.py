"""How rule tokens match a request's source and target, and what they expand to."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from backend.policy.sysinfo import SystemInfo
from backend.policy.tokens import DISPVM_PREFIX, DOM0, UUID_PREFIX, Token, TokenKind


class TargetKind(enum.Enum):
    QUBE = "qube"  # an existing qube, by its name (dom0 included when asked by name)
    ADMINVM = "@adminvm"
    DEFAULT = "@default"
    DISPVM = "@dispvm"
    DISPVM_TEMPLATE = "@dispvm:"


@dataclass(frozen=True)
class IntendedTarget:
    """A requested (or redirected) target after checking it against the system."""

    kind: TargetKind
    name: str = ""  # the qube or dvm-template name for QUBE and DISPVM_TEMPLATE


def is_dom0(name: str, info: SystemInfo) -> bool:
    qube = info.qubes.get(name)
    return name == DOM0 or (qube is not None and qube.is_adminvm)


def _ref_name(ref: str, info: SystemInfo) -> str | None:
    """The canonical name a qube reference stands for (unknown names stay as written)."""
    qube = info.resolve(ref)
    if qube is not None:
        return qube.name
    return None if ref.startswith(UUID_PREFIX) else ref


def default_dispvm(source: str, info: SystemInfo) -> str | None:
    qube = info.qubes.get(source)
    return qube.default_dispvm if qube is not None else None


def source_matches(token: Token, source: str, info: SystemInfo) -> bool:
    """Does the SOURCE column ``token`` match the calling qube ``source``?"""
    kind = token.kind
    if kind is TokenKind.WILDCARD:
        return True
    if kind is TokenKind.ANYVM:
        return not is_dom0(source, info)
    if kind is TokenKind.ADMINVM:
        return is_dom0(source, info)
    if kind is TokenKind.NAME:
        return _ref_name(token.value, info) == source
    qube = info.qubes.get(source)
    if kind is TokenKind.TAG:
        return qube is not None and token.value in qube.tags
    if kind is TokenKind.TYPE:
        return qube is not None and qube.type == token.value
    return False  # disposable tokens parse as sources but never match a concrete caller


def _is_dom0_target(target: IntendedTarget, info: SystemInfo) -> bool:
    return target.kind is TargetKind.ADMINVM or (
        target.kind is TargetKind.QUBE and is_dom0(target.name, info)
    )


def _dispvm_template_of(target: IntendedTarget, source: str, info: SystemInfo) -> str | None:
    if target.kind is TargetKind.DISPVM_TEMPLATE:
        return target.name
    if target.kind is TargetKind.DISPVM:
        return default_dispvm(source, info)
    return None


def target_matches(token: Token, target: IntendedTarget, source: str, info: SystemInfo) -> bool:
    """Does the TARGET column ``token`` match the requested ``target`` of ``source``?"""
    kind = token.kind
    if kind is TokenKind.WILDCARD:
        return True
    if kind is TokenKind.ANYVM:
        return not _is_dom0_target(target, info)
    if kind is TokenKind.ADMINVM:
        return _is_dom0_target(target, info)
    if kind is TokenKind.DEFAULT:
        return target.kind is TargetKind.DEFAULT
    if kind is TokenKind.DISPVM:
        return target.kind is TargetKind.DISPVM
    if kind is TokenKind.DISPVM_TEMPLATE:
        template = _dispvm_template_of(target, source, info)
        return template is not None and template == _ref_name(token.value, info)
    if kind is TokenKind.DISPVM_TAG:
        template = _dispvm_template_of(target, source, info)
        qube = info.dispvm_template(template) if template is not None else None
        return qube is not None and token.value in qube.tags
    if target.kind is not TargetKind.QUBE:
        return False
    qube = info.qubes[target.name]
    if kind is TokenKind.NAME:
        return _ref_name(token.value, info) == qube.name
    if kind is TokenKind.TAG:
        return token.value in qube.tags
    return qube.type == token.value  # TokenKind.TYPE


def expand(token: Token, info: SystemInfo) -> set[str]:
    """The targets a token stands for in an ask list: names, ``@dispvm:T``, ``@dispvm``."""
    kind = token.kind
    qubes = info.qubes.values()
    templates = {DISPVM_PREFIX + qube.name for qube in qubes if qube.template_for_dispvms}
    if kind is TokenKind.NAME:
        qube = info.resolve(token.value)
        return {qube.name} if qube is not None else set()
    if kind is TokenKind.ADMINVM:
        return {DOM0}
    if kind is TokenKind.ANYVM:
        return {qube.name for qube in qubes if not qube.is_adminvm} | templates | {"@dispvm"}
    if kind is TokenKind.WILDCARD:
        return {qube.name for qube in qubes} | templates | {"@dispvm"}
    if kind is TokenKind.TAG:
        return {qube.name for qube in qubes if token.value in qube.tags}
    if kind is TokenKind.TYPE:
        return {qube.name for qube in qubes if qube.type == token.value}
    if kind is TokenKind.DISPVM:
        return {"@dispvm"}
    if kind is TokenKind.DISPVM_TEMPLATE:
        template = info.dispvm_template(token.value)
        return {DISPVM_PREFIX + template.name} if template is not None else set()
    if kind is TokenKind.DISPVM_TAG:
        return {
            DISPVM_PREFIX + qube.name
            for qube in qubes
            if qube.template_for_dispvms and token.value in qube.tags
        }
    return set()  # @default
