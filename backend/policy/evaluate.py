"""Evaluation of one call against a loaded policy: first match wins (core-model §8.4)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from backend.policy.decisions import Allow, Ask, Decision, Deny
from backend.policy.errors import PolicySyntaxError
from backend.policy.loader import Policy
from backend.policy.matching import (
    IntendedTarget,
    TargetKind,
    default_dispvm,
    expand,
    is_dom0,
    source_matches,
    target_matches,
)
from backend.policy.rules import RPCNAME_CHARS, SERVICE_CHARS, Action, Rule
from backend.policy.sysinfo import SystemInfo, SystemInfoLike
from backend.policy.tokens import (
    DISPVM_PREFIX,
    DOM0,
    UUID_PREFIX,
    Column,
    Token,
    TokenKind,
    is_dom0_ref,
    parse_token,
)

log = logging.getLogger("backend.policy")


class _Refused(Exception):
    def __init__(self, reason: str, *, notify: bool = True, rule: Rule | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notify = notify
        self.rule = rule


@dataclass(frozen=True)
class Request:
    service: str
    argument: str  # "+" alone for no argument
    source: str  # the calling qube's name
    target: IntendedTarget
    requested_target: str  # as asked, or "@default" when empty or unknown


def _check_service(service: str, argument: str) -> None:
    if not service or not set(service) <= SERVICE_CHARS:
        raise _Refused(f"invalid service name: {service!r}")
    if not set(argument) <= RPCNAME_CHARS:
        raise _Refused(f"invalid argument: {argument!r}")


def _source_name(source: str, info: SystemInfo) -> str:
    if source == "@adminvm" or is_dom0_ref(source):
        return DOM0
    if source.startswith(UUID_PREFIX):
        qube = info.resolve(source)
        if qube is None:
            raise _Refused(f"unknown source qube: {source!r}")
        return qube.name
    if not source or source.startswith("@"):
        raise _Refused(f"invalid source: {source!r}")
    return source


def intended_target(token: Token, info: SystemInfo) -> IntendedTarget:
    """Check a requested (or ``target=``) token against the system.

    A qube that does not exist becomes ``@default``; a ``@dispvm:X`` whose X is not a
    template for disposables is refused.
    """
    kind = token.kind
    if kind is TokenKind.NAME:
        qube = info.resolve(token.value)
        if qube is None:
            log.info("policy: target %r does not exist, using @default instead", token.text)
            return IntendedTarget(TargetKind.DEFAULT)
        return IntendedTarget(TargetKind.QUBE, qube.name)
    if kind is TokenKind.DISPVM_TEMPLATE:
        template = info.dispvm_template(token.value)
        if template is None:
            raise _Refused(f"not a template for dispvm: {token.value}")
        return IntendedTarget(TargetKind.DISPVM_TEMPLATE, template.name)
    simple = {
        TokenKind.ADMINVM: TargetKind.ADMINVM,
        TokenKind.DEFAULT: TargetKind.DEFAULT,
        TokenKind.DISPVM: TargetKind.DISPVM,
    }
    return IntendedTarget(simple[kind])


def make_request(
    source: str, target: str, service: str, argument: str | None, info: SystemInfo
) -> Request:
    """Normalise a call; raise :class:`_Refused` for calls that are invalid as such."""
    argument = argument or "+"
    if not argument.startswith("+"):
        raise ValueError(f"argument must be '+' or start with '+', not {argument!r}")
    _check_service(service, argument)
    try:
        token = parse_token(target or "@default", Column.REQUEST)
    except PolicySyntaxError:
        raise _Refused(f"invalid target: {target!r}") from None
    checked = intended_target(token, info)
    requested = "@default" if checked.kind is TargetKind.DEFAULT else token.text
    return Request(service, argument, _source_name(source, info), checked, requested)


def _matches_but_target(rule: Rule, request: Request, info: SystemInfo) -> bool:
    return (
        (rule.service is None or rule.service == request.service)
        and (rule.argument is None or rule.argument == request.argument)
        and source_matches(rule.source, request.source, info)
    )


def find_rule(rules: Sequence[Rule], request: Request, info: SystemInfo) -> Rule | None:
    """The first rule that matches the request, or None."""
    for rule in rules:
        if _matches_but_target(rule, request, info) and target_matches(
            rule.target, request.target, request.source, info
        ):
            return rule
    return None


def _target_uuid(target: str, info: SystemInfo) -> str | None:
    if target == DOM0:
        return None
    template = target.removeprefix(DISPVM_PREFIX)
    qube = info.qubes.get(template)
    if qube is None or not qube.uuid:
        return None
    prefix = DISPVM_PREFIX if target.startswith(DISPVM_PREFIX) else ""
    return f"{prefix}{UUID_PREFIX}{qube.uuid}"


def _may_run_without_autostart(target: str, info: SystemInfo) -> bool:
    if target == DOM0:
        return True
    if target.startswith(DISPVM_PREFIX):
        return False
    qube = info.qubes.get(target)
    return qube is not None and qube.is_running


def _as_choice(target: IntendedTarget, request: Request, info: SystemInfo) -> str | None:
    """Spell a target as an entry of an ask list (or of an allow result)."""
    if target.kind is TargetKind.ADMINVM or (
        target.kind is TargetKind.QUBE and is_dom0(target.name, info)
    ):
        return DOM0
    if target.kind is TargetKind.QUBE:
        return target.name
    if target.kind is TargetKind.DISPVM_TEMPLATE:
        return DISPVM_PREFIX + target.name
    if target.kind is TargetKind.DISPVM:
        template = default_dispvm(request.source, info)
        return DISPVM_PREFIX + template if template is not None else None
    return None  # @default


def _allow(rule: Rule, request: Request, info: SystemInfo) -> Allow:
    target = request.target
    if rule.redirect is not None:
        try:
            target = intended_target(rule.redirect, info)
        except _Refused as refused:
            raise _Refused(f"{refused.reason} (target= at {rule.where})", rule=rule) from None
    if target.kind is TargetKind.DEFAULT:
        raise _Refused(
            f"policy defines 'allow' action at {rule.where} but no target is specified "
            "by caller or policy",
            rule=rule,
        )
    choice = _as_choice(target, request, info)
    if choice is None:  # @dispvm without a default disposable template
        raise _Refused(
            f"policy defines 'allow' action to @dispvm at {rule.where} but no DispVM base "
            "is set for this qube",
            rule=rule,
        )
    if not rule.autostart and not _may_run_without_autostart(choice, info):
        raise _Refused(
            f"target {choice} is denied because it would require autostart",
            notify=rule.notify,
            rule=rule,
        )
    return Allow(
        source=request.source,
        target=choice,
        target_uuid=_target_uuid(choice, info),
        requested_target=request.requested_target,
        user=rule.user,
        autostart=rule.autostart,
        notify=rule.notify,
        rule=rule,
    )


def collect_targets_for_ask(rules: Sequence[Rule], request: Request, info: SystemInfo) -> set[str]:
    """Every target the user could pick: allow/ask rules add, deny rules remove (§8.4)."""
    targets: set[str] = set()
    # walk backwards so that an earlier deny removes what a later rule added
    for rule in reversed(rules):
        if not _matches_but_target(rule, request, info):
            continue
        token = rule.target
        if rule.action is not Action.DENY and rule.redirect is not None:
            token = rule.redirect
        expansion = expand(token, info)
        if rule.action is Action.DENY:
            targets -= expansion
        else:
            targets |= expansion
    if "@dispvm" in targets:
        targets.discard("@dispvm")
        template = default_dispvm(request.source, info)
        if template is not None:
            targets.add(DISPVM_PREFIX + template)
    targets.discard(request.source)
    internal = {qube.name for qube in info.qubes.values() if qube.internal}
    return {
        target
        for target in targets
        if target not in internal and target.removeprefix(DISPVM_PREFIX) not in internal
    }


def _redirect_choice(token: Token, request: Request, info: SystemInfo) -> str | None:
    try:
        target = intended_target(token, info)
    except _Refused:
        return None
    return _as_choice(target, request, info)


def _ask(rule: Rule, request: Request, rules: Sequence[Rule], info: SystemInfo) -> Ask:
    if rule.redirect is not None:
        only = _redirect_choice(rule.redirect, request, info)
        targets = {only} if only is not None else set()
    else:
        targets = collect_targets_for_ask(rules, request, info)
    if not rule.autostart:
        targets = {target for target in targets if _may_run_without_autostart(target, info)}
    if not targets:
        raise _Refused(
            f"policy defines 'ask' action at {rule.where} but no target is available "
            "to choose from",
            rule=rule,
        )
    default = None
    if rule.default_target is not None:
        default = _redirect_choice(rule.default_target, request, info)
        if default not in targets:
            log.warning(
                "policy: default_target %s at %s is not among the choices, ignored",
                rule.default_target,
                rule.where,
            )
            default = None
    ordered = tuple(sorted(targets))
    return Ask(
        source=request.source,
        targets=ordered,
        default_target=default,
        requested_target=request.requested_target,
        user=rule.user,
        autostart=rule.autostart,
        notify=rule.notify,
        rule=rule,
        target_uuids={target: _target_uuid(target, info) for target in ordered},
        requested_choice=_as_choice(request.target, request, info),
    )


def evaluate(
    policy: Policy,
    source: str,
    target: str,
    service: str,
    argument: str | None,
    system_info: SystemInfoLike,
) -> Decision:
    """Decide a call of ``service`` + ``argument`` from ``source`` to ``target``.

    ``argument`` is in policy form (``+arg``; ``+`` or None for none); ``target`` may be
    empty (the caller named none). Raises :class:`SystemInfoError` for a malformed system
    info; every other problem is a :class:`Deny` with its reason.
    """
    info = SystemInfo.from_mapping(system_info)
    if policy.error is not None:
        return Deny(f"policy error: {policy.error}", error=policy.error)
    try:
        request = make_request(source, target, service, argument, info)
        rule = find_rule(policy.rules, request, info)
        if rule is None:
            return Deny("no matching rule found")
        if rule.action is Action.DENY:
            return Deny(f"denied by policy {rule.where}", notify=rule.notify, rule=rule)
        if rule.action is Action.ALLOW:
            return _allow(rule, request, info)
        return _ask(rule, request, policy.rules, info)
    except _Refused as refused:
        return Deny(refused.reason, notify=refused.notify, rule=refused.rule)
