"""answer_lines: the decision as upstream's policy daemon answers qrexec-daemon."""

from __future__ import annotations

from collections.abc import Callable

from backend.policy import Ask, Decision, answer_lines

Decide = Callable[..., Decision]


def test_allow_answer(decide: Decide, uuids: dict[str, str]) -> None:
    decision = decide("* * work personal allow", "work", "personal")
    assert answer_lines(decision) == [
        "user=DEFAULT",
        "result=allow",
        "target=personal",
        f"target_uuid=uuid:{uuids['personal']}",
        "autostart=True",
        "requested_target=personal",
    ]


def test_allow_answer_to_dom0_has_no_uuid(decide: Decide) -> None:
    decision = decide("* * work dom0 allow", "work", "@adminvm")
    assert answer_lines(decision) == [
        "user=DEFAULT",
        "result=allow",
        "target=dom0",
        "autostart=True",
        "requested_target=@adminvm",
    ]


def test_allow_answer_for_a_disposable(decide: Decide, uuids: dict[str, str]) -> None:
    decision = decide("* * work @dispvm:default-dvm allow", "work", "@dispvm:default-dvm")
    assert answer_lines(decision) == [
        "user=DEFAULT",
        "result=allow",
        "target=@dispvm:default-dvm",
        f"target_uuid=@dispvm:uuid:{uuids['default-dvm']}",
        "autostart=True",
        "requested_target=@dispvm:default-dvm",
    ]


def test_allow_answer_with_user_and_no_autostart(decide: Decide) -> None:
    decision = decide("* * work @default allow target=personal user=root autostart=no", "work", "")
    lines = answer_lines(decision)
    assert lines[0] == "user=root"
    assert lines[-2:] == ["autostart=False", "requested_target=@default"]


def test_loopback_is_answered_deny(decide: Decide) -> None:
    assert answer_lines(decide("* * work work allow", "work", "work")) == ["result=deny"]


def test_deny_answer_carries_no_reason(decide: Decide) -> None:
    assert answer_lines(decide("* * work personal deny", "work", "personal")) == ["result=deny"]
    assert answer_lines(decide("", "work", "personal")) == ["result=deny"]


def test_just_evaluate_answers_bare_results(decide: Decide) -> None:
    allowed = decide("* * work personal allow", "work", "personal")
    assert answer_lines(allowed, just_evaluate=True) == ["result=allow"]
    asked = decide("* * work personal ask", "work", "personal")
    assert answer_lines(asked, just_evaluate=True) == ["result=deny"]


def test_ask_answer_lists_candidates_and_default(decide: Decide) -> None:
    decision = decide("* * vault @anyvm ask target=work default_target=work", "vault", "")
    assert isinstance(decision, Ask)
    assert answer_lines(decision) == [
        "user=DEFAULT",
        "result=ask",
        "targets=work",
        "default_target=work",
        "autostart=True",
        "requested_target=@default",
    ]
    several = decide("* * vault @tag:tag2 ask", "vault", "work")
    assert answer_lines(several)[2:4] == ["targets=personal standalone work", "default_target="]


def test_assume_yes_takes_ask_as_allow_of_the_requested_target(
    decide: Decide, uuids: dict[str, str]
) -> None:
    decision = decide("* * vault @tag:tag2 ask", "vault", "work")
    assert answer_lines(decision, assume_yes_for_ask=True) == [
        "user=DEFAULT",
        "result=allow",
        "target=work",
        f"target_uuid=uuid:{uuids['work']}",
        "autostart=True",
        "requested_target=work",
    ]
    both = answer_lines(decision, assume_yes_for_ask=True, just_evaluate=True)
    assert both == ["result=allow"]
    not_a_choice = decide("* * vault @tag:tag2 ask", "vault", "")
    assert answer_lines(not_a_choice, assume_yes_for_ask=True) == ["result=deny"]
