"""The three outcomes of evaluating a call: allow, ask and deny."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from backend.policy.errors import PolicyLoadError
from backend.policy.rules import Rule


@dataclass(frozen=True)
class Allow:
    """Run the call on ``target`` (a qube name, ``dom0`` or ``@dispvm:TEMPLATE``)."""

    source: str
    target: str
    target_uuid: str | None  # "uuid:…" or "@dispvm:uuid:…"; None for dom0
    requested_target: str  # as the caller asked for it
    user: str | None = None
    autostart: bool = True
    notify: bool = False
    rule: Rule | None = None

    @property
    def is_loopback(self) -> bool:
        """A call from a qube to itself; qrexec refuses it when it runs the call."""
        return self.target == self.source


@dataclass(frozen=True)
class Deny:
    reason: str
    notify: bool = True
    rule: Rule | None = None
    error: PolicyLoadError | None = None  # set when the whole policy set is unusable


@dataclass(frozen=True)
class Ask:
    """The user must choose a target among ``targets`` (sorted), ``default_target`` preselected."""

    source: str
    targets: tuple[str, ...]
    default_target: str | None
    requested_target: str
    user: str | None = None
    autostart: bool = True
    notify: bool = False
    rule: Rule | None = None
    target_uuids: Mapping[str, str | None] = field(default_factory=dict, compare=False)
    # the requested target spelled as a candidate would be ("dom0", "@dispvm:T"), if any
    requested_choice: str | None = field(default=None, compare=False)

    def choose(self, target: str) -> Allow | Deny:
        """The user allowed the call to ``target``."""
        if target not in self.targets:
            return Deny(f"target {target} is not a valid choice", rule=self.rule)
        return Allow(
            source=self.source,
            target=target,
            target_uuid=self.target_uuids.get(target),
            requested_target=self.requested_target,
            user=self.user,
            autostart=self.autostart,
            notify=self.notify,
            rule=self.rule,
        )

    def refuse(self) -> Deny:
        """The user denied the call."""
        where = self.rule.where if self.rule is not None else "?"
        return Deny(f"denied by the user {where}", notify=self.notify, rule=self.rule)

    def assume_yes(self) -> Allow | Deny:
        """Non-interactive "ask counts as allow": the requested target, if it is a choice."""
        if self.requested_choice is None:
            return Deny(f"target {self.requested_target} is not a valid choice", rule=self.rule)
        return self.choose(self.requested_choice)


Decision = Allow | Deny | Ask
