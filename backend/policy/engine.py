"""The engine the Admin API server uses: a policy loaded once, reloadable, and helpers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from backend.errors import PermissionDenied
from backend.policy.decisions import Allow, Ask, Decision
from backend.policy.errors import PolicyLoadError
from backend.policy.evaluate import evaluate
from backend.policy.loader import Policy, StrPath, load_policy
from backend.policy.matching import is_dom0
from backend.policy.sysinfo import SystemInfo, SystemInfoLike

log = logging.getLogger("backend.policy")


def event_argument(event: str) -> str:
    """The policy argument for an ``admin.Events`` event: ``+`` and ``:`` as ``_``."""
    return "+" + event.replace(":", "_")


def event_target(subject: str | None, vm: str | None = None) -> str:
    """The target an event is checked for: its qube; for app events the ``vm`` argument
    (``domain-add`` and the like), else ``@adminvm``."""
    return subject or vm or "@adminvm"


class PolicyEngine:
    """A policy set loaded from ``policy_dir`` (one directory, or several merged by file
    name with the first shadowing the later ones) and the legacy directory that
    ``!compat-4.0`` reads. Swapping in a reloaded set is atomic, so readers need no lock.
    """

    def __init__(
        self, policy_dir: StrPath | Sequence[StrPath], legacy_dir: StrPath | None = None
    ) -> None:
        self.policy_dir = policy_dir
        self.legacy_dir = legacy_dir
        self._reload_lock = threading.Lock()
        self._policy = Policy()
        self.reload()

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def error(self) -> PolicyLoadError | None:
        """Why every call is denied, with file and line; None when the policy is usable."""
        return self._policy.error

    def reload(self) -> PolicyLoadError | None:
        """Read the files again; return the error that now denies every call, if any."""
        with self._reload_lock:
            policy = load_policy(self.policy_dir, self.legacy_dir)
            self._policy = policy
        log.debug("policy: loaded %d rules from %d files", len(policy.rules), len(policy.files))
        return policy.error

    def evaluate(
        self,
        source: str,
        target: str,
        service: str,
        argument: str | None,
        system_info: SystemInfoLike,
    ) -> Decision:
        """Decide one call; see :func:`backend.policy.evaluate.evaluate`."""
        return evaluate(self._policy, source, target, service, argument, system_info)

    def eval_simple(
        self,
        source: str,
        target: str,
        service: str,
        argument: str | None,
        system_info: SystemInfoLike,
    ) -> bool:
        """``policy.EvalSimple``: non-interactive, an ask counts as allow (clipboard paste)."""
        decision = self.evaluate(source, target, service, argument, system_info)
        if isinstance(decision, Ask):
            decision = decision.assume_yes()
        return isinstance(decision, Allow)

    # Admin API: callers other than dom0 get only what policy allows; never interactive,
    # so an ask counts as deny, as qubesd's own filtering does.

    def admin_call_allowed(
        self, caller: str, method: str, arg: str, dest: str, system_info: SystemInfoLike
    ) -> bool:
        info = SystemInfo.from_mapping(system_info)
        if is_dom0(caller, info):
            return True
        decision = self.evaluate(caller, dest, method, "+" + arg, info)
        return isinstance(decision, Allow)

    def check_admin_call(
        self, caller: str, method: str, arg: str, dest: str, system_info: SystemInfoLike
    ) -> None:
        """Raise :class:`PermissionDenied` unless policy allows ``caller`` this call."""
        info = SystemInfo.from_mapping(system_info)
        if is_dom0(caller, info):
            return
        decision = self.evaluate(caller, dest, method, "+" + arg, info)
        if isinstance(decision, Allow):
            return
        reason = getattr(decision, "reason", "'ask' is not possible for admin calls")
        log.info("policy: %s+%s from %s to %s denied: %s", method, arg, caller, dest, reason)
        raise PermissionDenied(f"{method} denied by policy")

    def vm_list_allowed(
        self, caller: str, listed: str, system_info: SystemInfoLike, arg: str = ""
    ) -> bool:
        """May ``caller`` see ``listed`` in a full ``admin.vm.List``?"""
        return self.admin_call_allowed(caller, "admin.vm.List", arg, listed, system_info)

    def event_allowed(
        self,
        caller: str,
        event: str,
        subject: str | None,
        system_info: SystemInfoLike,
        *,
        vm: str | None = None,
    ) -> bool:
        """May ``caller``'s ``admin.Events`` stream carry ``event`` fired on ``subject``
        (None for the app; ``vm`` is the event's ``vm`` argument, if any)?"""
        info = SystemInfo.from_mapping(system_info)
        if is_dom0(caller, info):
            return True
        decision = self.evaluate(
            caller, event_target(subject, vm), "admin.Events", event_argument(event), info
        )
        return isinstance(decision, Allow)
