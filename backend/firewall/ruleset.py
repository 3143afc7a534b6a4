"""A qube's firewall: its ordered rules, the fixed drop policy, and rule expiry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backend.errors import QubesValueError

from .rule import Action, Rule

#: QubesDB numbers rules with four digits (``0000``-``9999``), and the firewall qube
#: refuses any other key, so more rules could not reach it
MAX_RULES = 10_000


@dataclass(frozen=True, slots=True)
class Firewall:
    """Rules matched first to last by the qube's net qube; unmatched traffic is dropped.

    The policy is not configurable (upstream fixes it to drop); allowing everything
    is a final ``action=accept`` rule, which is what a new qube gets
    (:meth:`default`, also what a qube without firewall.xml has).
    """

    rules: tuple[Rule, ...]

    POLICY: ClassVar[Action] = Action.DROP

    def __post_init__(self) -> None:
        rules = tuple(self.rules)  # a list is accepted and frozen
        for index, rule in enumerate(rules):
            if not isinstance(rule, Rule):
                raise QubesValueError(f"firewall rule {index + 1}: {rule!r} is not a Rule")
        if len(rules) > MAX_RULES:
            raise QubesValueError(f"a firewall has at most {MAX_RULES} rules, not {len(rules)}")
        object.__setattr__(self, "rules", rules)

    @classmethod
    def default(cls) -> Firewall:
        """Allow everything: a new qube's firewall."""
        return cls((Rule(Action.ACCEPT),))

    @property
    def policy(self) -> Action:
        """What happens to traffic no rule matches: always drop."""
        return self.POLICY

    def without_expired(self, now: float) -> Firewall:
        """The rules still active at ``now`` (UNIX time), in order."""
        return Firewall(tuple(rule for rule in self.rules if not rule.is_expired(now)))

    def next_expiry(self) -> int | None:
        """The earliest ``expire`` of any rule, or None when no rule expires.

        The daemon schedules a reload for that time (right away if it is already
        past), saves :meth:`without_expired` and fires ``firewall-changed``.
        """
        expiries = [rule.expire for rule in self.rules if rule.expire is not None]
        return min(expiries, default=None)
