"""The Admin API form of firewall rules (``admin.vm.firewall.Get`` / ``Set``): one per line.

A line is ``key=value`` options separated by single spaces, written in the fixed
order action, expire, destination, proto, specialtarget, dstports, icmptype, comment.
Everything after ``comment=`` is the comment, spaces included, so it comes last.
On input the options may come in any order and the destination may also be named
``dsthost`` (any destination) or ``dstname``; a bad line refuses the whole payload.
"""

from __future__ import annotations

from collections.abc import Iterable

from backend.errors import QubesValueError

from .rule import HOST_OPTIONS, OPTION_NAMES, Rule, show
from .ruleset import MAX_RULES, Firewall

_COMMENT = "comment="
#: input spellings of the destination; ``dsthost`` is sorted by its value
_HOST_ALIASES = {"dst4": "dst4", "dst6": "dst6", "dsthost": "dsthost", "dstname": "dsthost"}


def rule_tokens(rule: Rule, *, expire: bool = True, comment: bool = True) -> list[str]:
    """The ``key=value`` options of a rule in their fixed order."""
    tokens = [f"action={rule.action}"]
    if expire and rule.expire is not None:
        tokens.append(f"expire={rule.expire}")
    for name in HOST_OPTIONS:
        value = getattr(rule, name)
        if value is not None:
            tokens.append(f"{name}={value}")
    if rule.proto is not None:
        tokens.append(f"proto={rule.proto}")
    if rule.specialtarget is not None:
        tokens.append(f"specialtarget={rule.specialtarget}")
    if rule.dstports is not None:
        tokens.append(f"dstports={rule.dstports}")  # always a range, 80 as 80-80
    if rule.icmptype is not None:
        tokens.append(f"icmptype={rule.icmptype}")
    if comment and rule.comment is not None:
        tokens.append(f"{_COMMENT}{rule.comment}")
    return tokens


def format_rule(rule: Rule) -> str:
    """One rule as an Admin API line, without the newline."""
    return " ".join(rule_tokens(rule))


def parse_rule(line: str) -> Rule:
    """One Admin API line (no newline) as a rule; QubesValueError if it is not one."""
    comment: str | None
    if line.startswith(_COMMENT):
        options_text, comment = "", line[len(_COMMENT) :]
    else:
        options_text, found, comment_text = line.partition(" " + _COMMENT)
        comment = comment_text if found else None

    options: dict[str, str] = {}
    for token in options_text.strip(" ").split(" ") if options_text.strip(" ") else ():
        if not token:
            raise QubesValueError("options must be separated by single spaces")
        key, equals, value = token.partition("=")
        if not equals:
            raise QubesValueError(f"{show(token)} is not a key=value option")
        name = _HOST_ALIASES.get(key, key)
        if name not in OPTION_NAMES or name == "comment":
            raise QubesValueError(f"unknown firewall rule option {show(key)}")
        earlier = [host for host in HOST_OPTIONS if host in options]
        if name in HOST_OPTIONS and earlier:
            raise QubesValueError(
                f"{key}: a rule has at most one destination host, {earlier[0]} was given already"
            )
        if name in options:
            raise QubesValueError(f"{key}: given twice")
        options[name] = value
    if comment is not None:
        options["comment"] = comment
    return Rule.from_options(options)


def format_rules(rules: Iterable[Rule]) -> bytes:
    """Rules as an Admin API payload: one line each, every line ending in a newline."""
    return "".join(f"{format_rule(rule)}\n" for rule in rules).encode("ascii")


def parse_rules(payload: bytes) -> tuple[Rule, ...]:
    """A whole ``admin.vm.firewall.Set`` payload, all or nothing.

    The first bad line raises QubesValueError naming its number (from 1), so no
    caller can apply half a rule list. An empty payload is no rules (drop all).
    """
    lines = payload.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ending the last line, or the empty payload
    if len(lines) > MAX_RULES:
        raise QubesValueError(f"a firewall has at most {MAX_RULES} rules, not {len(lines)}")
    rules = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            raise QubesValueError(f"line {number}: not ASCII: {show(raw)}") from None
        if not line:
            raise QubesValueError(f"line {number}: empty; give one rule per line")
        try:
            rules.append(parse_rule(line))
        except QubesValueError as err:
            raise QubesValueError(f"line {number}: {err.message}") from err
    return tuple(rules)


def firewall_to_api(firewall: Firewall, now: float) -> bytes:
    """The ``admin.vm.firewall.Get`` answer: the rules still active at ``now``."""
    return format_rules(firewall.without_expired(now).rules)


def firewall_from_api(payload: bytes) -> Firewall:
    """The firewall an ``admin.vm.firewall.Set`` payload describes (it replaces all rules)."""
    return Firewall(parse_rules(payload))
