"""A decision rendered as upstream's policy daemon answers qrexec-daemon (core-model §8.4.5)."""

from __future__ import annotations

from backend.policy.decisions import Allow, Ask, Decision, Deny


def _allow_lines(allow: Allow) -> list[str]:
    lines = [
        f"user={allow.user or 'DEFAULT'}",
        "result=allow",
        f"target={allow.target}",
    ]
    if allow.target_uuid is not None:
        lines.append(f"target_uuid={allow.target_uuid}")
    lines += [f"autostart={allow.autostart}", f"requested_target={allow.requested_target}"]
    return lines


def answer_lines(
    decision: Decision, *, just_evaluate: bool = False, assume_yes_for_ask: bool = False
) -> list[str]:
    """The answer lines, in upstream's keys and order.

    ``just_evaluate`` and ``assume_yes_for_ask`` are the policy daemon's request options:
    the first answers a bare ``result=allow`` and an ask as ``result=deny``; the second
    (``policy.EvalSimple``/``EvalGUI``) takes an ask as an allow of the requested target.
    Without either, an ask is answered with our own extension, ``result=ask`` plus the
    candidate ``targets=`` (space separated) and ``default_target=`` (empty for none), the
    names upstream passes to its ``policy.Ask`` dialog. A deny never carries a reason.
    """
    if isinstance(decision, Ask):
        if assume_yes_for_ask:
            return answer_lines(decision.assume_yes(), just_evaluate=just_evaluate)
        if just_evaluate:
            return ["result=deny"]
        return [
            f"user={decision.user or 'DEFAULT'}",
            "result=ask",
            "targets=" + " ".join(decision.targets),
            f"default_target={decision.default_target or ''}",
            f"autostart={decision.autostart}",
            f"requested_target={decision.requested_target}",
        ]
    if isinstance(decision, Deny):
        return ["result=deny"]
    if just_evaluate:
        return ["result=allow"]
    if decision.is_loopback:
        return ["result=deny"]  # qrexec does not connect a qube to itself
    return _allow_lines(decision)
