"""Rule lines of the v5 format and of the legacy per-service format, parsed purely."""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass, field
from pathlib import PurePath

from backend.policy.errors import PolicySyntaxError
from backend.policy.tokens import Column, Token, TokenKind, parse_token

RPCNAME_CHARS = frozenset(string.ascii_letters + string.digits + "+-._")
SERVICE_CHARS = RPCNAME_CHARS - {"+"}


class Action(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    ASK = "ask"


# which parameters each action takes (core-model §8.3)
_PARAMS: dict[Action, frozenset[str]] = {
    Action.ALLOW: frozenset({"target", "user", "notify", "autostart"}),
    Action.DENY: frozenset({"notify"}),
    Action.ASK: frozenset({"target", "default_target", "user", "notify", "autostart"}),
}
_NOTIFY_DEFAULT = {Action.ALLOW: False, Action.DENY: True, Action.ASK: False}


class DirectiveKind(enum.Enum):
    INCLUDE = "!include"
    INCLUDE_DIR = "!include-dir"
    INCLUDE_SERVICE = "!include-service"
    COMPAT_40 = "!compat-4.0"


_DIRECTIVE_ARITY = {
    DirectiveKind.INCLUDE: 1,
    DirectiveKind.INCLUDE_DIR: 1,
    DirectiveKind.INCLUDE_SERVICE: 3,
    DirectiveKind.COMPAT_40: 0,
}


@dataclass(frozen=True)
class Rule:
    """One rule; ``service``/``argument`` are None for ``*``. Location is not compared."""

    service: str | None
    argument: str | None
    source: Token
    target: Token
    action: Action
    redirect: Token | None = None  # target=
    default_target: Token | None = None
    user: str | None = None
    notify: bool = False
    autostart: bool = True
    path: PurePath = field(default=PurePath("<string>"), compare=False)
    lineno: int | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        return str(self.path) if self.lineno is None else f"{self.path}:{self.lineno}"

    def __str__(self) -> str:
        """The rule in v5 syntax; parsing it again gives an equal rule."""
        params = []
        if self.redirect is not None:
            params.append(f"target={self.redirect}")
        if self.default_target is not None:
            params.append(f"default_target={self.default_target}")
        if self.user is not None:
            params.append(f"user={self.user}")
        if self.notify != _NOTIFY_DEFAULT[self.action]:
            params.append(f"notify={'yes' if self.notify else 'no'}")
        if not self.autostart:
            params.append("autostart=no")
        head = "\t".join(
            (
                self.service or "*",
                self.argument or "*",
                str(self.source),
                str(self.target),
                self.action.value,
            )
        )
        return " ".join([head, *params])


@dataclass(frozen=True)
class Directive:
    """A ``!…`` line; ``params`` as written (for ``!include-service``: service, arg, path)."""

    kind: DirectiveKind
    params: tuple[str, ...]
    path: PurePath = field(default=PurePath("<string>"), compare=False)
    lineno: int | None = field(default=None, compare=False)


def validate_service_argument(
    service: str, argument: str, *, path: PurePath | str, lineno: int | None
) -> tuple[str | None, str | None]:
    """Check the SERVICE and ARGUMENT columns; return them with ``*`` as None."""
    service_or_any: str | None = None if service == "*" else service
    argument_or_any: str | None = None if argument == "*" else argument
    if service_or_any is not None:
        if not service_or_any:
            raise PolicySyntaxError(path, lineno, "empty service name")
        bad = sorted(set(service_or_any) - SERVICE_CHARS)
        if bad:
            raise PolicySyntaxError(
                path, lineno, f"service {service!r} contains invalid characters: {bad!r}"
            )
    if argument_or_any is not None:
        bad = sorted(set(argument_or_any) - RPCNAME_CHARS)
        if bad:
            raise PolicySyntaxError(
                path, lineno, f"argument {argument!r} contains invalid characters: {bad!r}"
            )
        if not argument_or_any.startswith("+"):
            raise PolicySyntaxError(path, lineno, f"argument {argument!r} does not start with +")
        if service_or_any is None:
            raise PolicySyntaxError(path, lineno, "only * argument allowed for * service")
    return service_or_any, argument_or_any


def _yes_no(key: str, value: str, *, path: PurePath, lineno: int | None) -> bool:
    if value not in ("yes", "no"):
        raise PolicySyntaxError(
            path, lineno, f"{key!r} is {value!r}, but can be only 'yes' or 'no'"
        )
    return value == "yes"


def build_rule(
    service: str,
    argument: str,
    source: str,
    target: str,
    action: str,
    params: list[str] | tuple[str, ...],
    *,
    path: PurePath | str = "<string>",
    lineno: int | None = None,
) -> Rule:
    """Build a rule from its already split fields, checking everything but qube existence."""
    where = PurePath(path)
    service_or_any, argument_or_any = validate_service_argument(
        service, argument, path=where, lineno=lineno
    )
    source_token = parse_token(source, Column.SOURCE, path=where, lineno=lineno)
    target_token = parse_token(target, Column.TARGET, path=where, lineno=lineno)
    try:
        action_kind = Action(action)
    except ValueError:
        raise PolicySyntaxError(where, lineno, f"invalid action: {action!r}") from None

    values: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep:
            raise PolicySyntaxError(where, lineno, f"invalid action parameter syntax: {param!r}")
        if key in values:
            raise PolicySyntaxError(where, lineno, f"parameter given twice: {key!r}")
        if key not in _PARAMS[action_kind]:
            raise PolicySyntaxError(
                where, lineno, f"parameter {key!r} is not valid for action {action_kind.value}"
            )
        values[key] = value

    def redirect(key: str) -> Token | None:
        if key not in values:
            return None
        return parse_token(values[key], Column.REDIRECT, path=where, lineno=lineno)

    notify = _NOTIFY_DEFAULT[action_kind]
    if "notify" in values:
        notify = _yes_no("notify", values["notify"], path=where, lineno=lineno)
    autostart = True
    if "autostart" in values:
        autostart = _yes_no("autostart", values["autostart"], path=where, lineno=lineno)

    rule = Rule(
        service=service_or_any,
        argument=argument_or_any,
        source=source_token,
        target=target_token,
        action=action_kind,
        redirect=redirect("target"),
        default_target=redirect("default_target"),
        user=values.get("user"),
        notify=notify,
        autostart=autostart,
        path=where,
        lineno=lineno,
    )
    if (
        rule.target.kind is TokenKind.DEFAULT
        and rule.action is Action.ALLOW
        and rule.redirect is None
    ):
        raise PolicySyntaxError(
            where, lineno, "allow action for @default rule must specify target= option"
        )
    return rule


def parse_directive(line: str, *, path: PurePath | str, lineno: int | None) -> Directive:
    """Parse a line starting with ``!``."""
    where = PurePath(path)
    name, *params = line.split()
    kinds = {kind.value: kind for kind in DirectiveKind}
    kind = kinds.get(name)
    if kind is None:
        raise PolicySyntaxError(where, lineno, f"invalid directive: {name!r}")
    if len(params) != _DIRECTIVE_ARITY[kind]:
        raise PolicySyntaxError(where, lineno, f"invalid number of params for {name}")
    if kind is DirectiveKind.INCLUDE_SERVICE:
        validate_service_argument(params[0], params[1], path=where, lineno=lineno)
    return Directive(kind, tuple(params), where, lineno)


def parse_policy_line(
    line: str, *, path: PurePath | str = "<string>", lineno: int | None = None
) -> Rule | Directive | None:
    """Parse one line of a v5 ``.policy`` file; None for blank lines and comments."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith("!"):
        return parse_directive(stripped, path=path, lineno=lineno)
    fields = stripped.split()
    if len(fields) < 5:
        raise PolicySyntaxError(PurePath(path), lineno, "wrong number of fields")
    service, argument, source, target, action, *params = fields
    return build_rule(service, argument, source, target, action, params, path=path, lineno=lineno)


def parse_legacy_line(
    service: str | None,
    argument: str | None,
    line: str,
    *,
    path: PurePath | str = "<string>",
    lineno: int | None = None,
) -> Rule | Directive | None:
    """Parse one line in the old per-service syntax (``SOURCE TARGET ACTION[,k=v…]``).

    ``$`` stands for ``@``, commas separate parameters, ``$include:PATH`` and
    ``!include PATH`` include another old-syntax file for the same service.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    stripped = stripped.replace("$include:", "!include ").replace("$", "@").replace(",", " ")
    if stripped.startswith("!"):
        directive = parse_directive(stripped, path=path, lineno=lineno)
        if directive.kind is not DirectiveKind.INCLUDE:
            raise PolicySyntaxError(PurePath(path), lineno, "invalid directive in old syntax")
        return directive
    fields = stripped.split()
    if len(fields) < 3:
        raise PolicySyntaxError(PurePath(path), lineno, "wrong number of fields")
    source, target, action, *params = fields
    return build_rule(
        service or "*",
        argument or "*",
        source,
        target,
        action,
        params,
        path=path,
        lineno=lineno,
    )


def split_lines(text: str) -> list[str]:
    """Split like a text file is read: on ``\\n``, ``\\r\\n`` and ``\\r`` only."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
