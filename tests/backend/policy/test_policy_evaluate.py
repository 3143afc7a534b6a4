"""Evaluation: first match wins, tokens, @default, @dispvm, ask lists, autostart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.policy import Allow, Ask, Decision, Deny, evaluate, parse_policy_text
from backend.policy.tokens import DOM0_UUID

Decide = Callable[..., Decision]

POLICY = """\
test.Service +arg work personal allow
test.Service +arg work @default allow target=personal
test.Service +arg @tag:tag1 personal ask
test.Service +arg @tag:tag1 dvm3 ask default_target=dvm3
test.Service +arg @tag:tag2 @anyvm allow
test.Service +arg vault @anyvm deny
"""


def allow(decision: object) -> Allow:
    assert isinstance(decision, Allow), decision
    return decision


def ask(decision: object) -> Ask:
    assert isinstance(decision, Ask), decision
    return decision


def deny(decision: object) -> Deny:
    assert isinstance(decision, Deny), decision
    return decision


def test_allow_names_the_target_and_the_rule(uuids: dict[str, str], decide: Decide) -> None:
    decision = allow(decide(POLICY, "work", "personal"))
    assert decision.target == "personal"
    assert decision.target_uuid == "uuid:" + uuids["personal"]
    assert decision.requested_target == "personal"
    assert decision.rule is not None and decision.rule.lineno == 1
    assert decision.user is None and decision.autostart and not decision.notify


def test_first_matching_rule_wins(decide: Decide) -> None:
    text = "test.Service +arg work personal deny\ntest.Service +arg work personal allow\n"
    assert isinstance(decide(text, "work", "personal"), Deny)
    reversed_text = "\n".join(reversed(text.splitlines()))
    assert isinstance(decide(reversed_text, "work", "personal"), Allow)


def test_deny_carries_the_rule_place_and_notify(decide: Decide) -> None:
    decision = deny(decide(POLICY, "vault", "work"))
    assert decision.reason.endswith("30-test.policy:6")
    assert decision.notify
    quiet = deny(decide("* * @anyvm @anyvm deny notify=no", "vault", "work"))
    assert not quiet.notify


def test_no_matching_rule_denies(decide: Decide) -> None:
    decision = deny(decide(POLICY, "work", "personal", "other.Service"))
    assert decision.reason == "no matching rule found"
    assert isinstance(decide(POLICY, "work", "personal", "test.Service+other"), Deny)


def test_argument_star_and_empty_argument(decide: Decide) -> None:
    text = "s + work personal allow\nt * work personal allow\n"
    assert isinstance(decide(text, "work", "personal", "s"), Allow)
    assert isinstance(decide(text, "work", "personal", "s+"), Allow)
    assert isinstance(decide(text, "work", "personal", "s+x"), Deny)
    assert isinstance(decide(text, "work", "personal", "t+anything"), Allow)
    assert isinstance(decide(text, "work", "personal", "t"), Allow)


def test_tags_and_types_match_sources_and_targets(decide: Decide) -> None:
    text = "* * @tag:tag1 @type:TemplateVM allow\n* * @type:AppVM @tag:tag2 allow\n"
    assert allow(decide(text, "standalone", "fedora")).target == "fedora"
    assert isinstance(decide(text, "standalone", "work"), Deny)  # work is not a template
    assert allow(decide(text, "personal", "work")).target == "work"
    assert isinstance(decide(text, "personal", "vault"), Deny)  # vault has no tag2


def test_unknown_target_becomes_default(decide: Decide) -> None:
    decision = allow(decide(POLICY, "work", "no-such-qube"))
    assert decision.target == "personal"
    assert decision.requested_target == "@default"
    assert allow(decide(POLICY, "work", "")).requested_target == "@default"


def test_allow_on_default_without_redirect_is_denied(decide: Decide) -> None:
    decision = deny(decide("* * work @anyvm allow", "work", ""))
    assert "no target is specified" in decision.reason


def test_redirect_overrides_the_requested_target(decide: Decide) -> None:
    decision = allow(decide("* * @anyvm @anyvm allow target=personal", "dvm3", "work"))
    assert (decision.target, decision.requested_target) == ("personal", "work")


def test_redirect_to_missing_qube_is_denied(decide: Decide) -> None:
    assert isinstance(decide("* * dvm3 @anyvm allow target=no-such", "dvm3", ""), Deny)


@pytest.mark.parametrize("redirect", ["dom0", "@adminvm", "uuid:" + DOM0_UUID])
def test_redirect_to_dom0_in_any_spelling(decide: Decide, redirect: str) -> None:
    decision = allow(decide(f"* * @anyvm @anyvm allow target={redirect}", "dvm3", "work"))
    assert (decision.target, decision.target_uuid) == ("dom0", None)


def test_redirect_by_uuid_names_the_qube(uuids: dict[str, str], decide: Decide) -> None:
    text = f"* * @anyvm @anyvm allow target=uuid:{uuids['personal']}"
    decision = allow(decide(text, "dvm3", "work"))
    assert (decision.target, decision.target_uuid) == ("personal", "uuid:" + uuids["personal"])


# --- @dispvm --------------------------------------------------------------------------------


def test_dispvm_resolves_to_the_sources_default_dispvm(
    uuids: dict[str, str], decide: Decide
) -> None:
    decision = allow(decide("* * dvm3 @dispvm allow", "dvm3", "@dispvm"))
    assert decision.target == "@dispvm:default-dvm"
    assert decision.target_uuid == "@dispvm:uuid:" + uuids["default-dvm"]
    assert decision.requested_target == "@dispvm"


def test_dispvm_without_default_dispvm_is_denied(decide: Decide) -> None:
    assert isinstance(decide("* * @anyvm @dispvm allow", "vault", "@dispvm"), Deny)
    assert isinstance(decide("* * @anyvm @anyvm allow target=@dispvm", "vault", "work"), Deny)


def test_dispvm_redirect(decide: Decide) -> None:
    decision = allow(decide("* * @anyvm @anyvm allow target=@dispvm", "dvm3", "work"))
    assert (decision.target, decision.requested_target) == ("@dispvm:default-dvm", "work")
    specific = allow(decide("* * @anyvm @anyvm allow target=@dispvm:dvm3", "work", "vault"))
    assert specific.target == "@dispvm:dvm3"


def test_dispvm_template_rule_matches_default_dispvm_requests(decide: Decide) -> None:
    text = "* * @anyvm @dispvm:default-dvm allow"
    assert allow(decide(text, "work", "@dispvm")).target == "@dispvm:default-dvm"
    assert allow(decide(text, "work", "@dispvm:default-dvm")).target == "@dispvm:default-dvm"
    assert isinstance(decide(text, "work", "@dispvm:dvm3"), Deny)
    # vault has no default_dispvm, so its @dispvm is not @dispvm:default-dvm
    assert isinstance(decide(text, "vault", "@dispvm"), Deny)


def test_plain_dispvm_rule_does_not_match_a_specific_template(decide: Decide) -> None:
    assert isinstance(decide("* * @anyvm @dispvm allow", "work", "@dispvm:default-dvm"), Deny)


def test_dispvm_tag_rule(decide: Decide) -> None:
    text = "* * @anyvm @dispvm:@tag:tag3 allow"
    assert allow(decide(text, "work", "@dispvm:dvm3")).target == "@dispvm:dvm3"
    assert isinstance(decide(text, "work", "@dispvm:default-dvm"), Deny)
    assert isinstance(decide(text, "work", "@dispvm"), Deny)  # default-dvm has no tag3


@pytest.mark.parametrize(
    "target",
    [
        "@dispvm:work",
        "@dispvm:no-such",
        "@anyvm",
        "*",
        "@tag:tag1",
        "@type:AppVM",
        "@dispvm:@tag:tag3",
        "@invalid",
    ],
)
def test_requests_for_patterns_or_non_templates_are_rejected(decide: Decide, target: str) -> None:
    decision = deny(decide("* * @anyvm * allow", "work", target))
    assert decision.rule is None


def test_dispvm_by_uuid(uuids: dict[str, str], decide: Decide) -> None:
    text = f"* * @anyvm @dispvm:uuid:{uuids['dvm3']} allow"
    decision = allow(decide(text, "work", "@dispvm:dvm3"))
    assert decision.target == "@dispvm:dvm3"
    by_uuid = allow(
        decide("* * @anyvm @dispvm:dvm3 allow", "work", f"@dispvm:uuid:{uuids['dvm3']}")
    )
    assert by_uuid.target == "@dispvm:dvm3"
    assert by_uuid.requested_target == f"@dispvm:uuid:{uuids['dvm3']}"


# --- dom0, @anyvm, * ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["dom0", "@adminvm", "uuid:" + DOM0_UUID])
def test_anyvm_never_matches_dom0_but_star_does(decide: Decide, target: str) -> None:
    assert isinstance(decide("* * @anyvm @anyvm allow", "work", target), Deny)
    decision = allow(decide("* * @anyvm * allow", "work", target))
    assert (decision.target, decision.requested_target) == ("dom0", target)


@pytest.mark.parametrize("rule_target", ["dom0", "@adminvm", "uuid:" + DOM0_UUID])
@pytest.mark.parametrize("target", ["dom0", "@adminvm", "uuid:" + DOM0_UUID])
def test_dom0_spellings_are_interchangeable(decide: Decide, rule_target: str, target: str) -> None:
    assert allow(decide(f"* * work {rule_target} allow", "work", target)).target == "dom0"
    # and none of them matches another qube
    assert isinstance(decide(f"* * work {rule_target} allow", "work", "personal"), Deny)
    assert isinstance(decide("* * work personal allow", "work", target), Deny)


def test_tag_and_type_match_literal_dom0_but_not_adminvm(decide: Decide) -> None:
    for rule_target in ("@tag:dom0-tag", "@type:AdminVM"):
        assert isinstance(decide(f"* * work {rule_target} allow", "work", "dom0"), Allow)
        assert isinstance(decide(f"* * work {rule_target} allow", "work", "@adminvm"), Deny)


def test_anyvm_source_excludes_dom0_star_and_adminvm_include_it(decide: Decide) -> None:
    assert isinstance(decide("* * @anyvm work allow", "dom0", "work"), Deny)
    assert isinstance(decide("* * * work allow", "dom0", "work"), Allow)
    assert isinstance(decide("* * @adminvm work allow", "dom0", "work"), Allow)
    assert isinstance(decide("* * dom0 work allow", "dom0", "work"), Allow)


def test_anyvm_target_matches_default_and_dispvm_requests(decide: Decide) -> None:
    text = "* * work @anyvm allow target=personal"
    assert allow(decide(text, "work", "")).target == "personal"
    assert isinstance(decide("* * work @anyvm allow", "work", "@dispvm"), Allow)
    assert isinstance(decide("* * work @anyvm allow", "work", "@dispvm:dvm3"), Allow)


def test_source_by_uuid_is_the_named_qube(uuids: dict[str, str], decide: Decide) -> None:
    decision = allow(decide("* * work personal allow", "uuid:" + uuids["work"], "personal"))
    assert decision.source == "work"
    assert isinstance(decide("* * work personal allow", "uuid:" + uuids["vault"], "personal"), Deny)


def test_rule_by_uuid_matches_the_named_qube(uuids: dict[str, str], decide: Decide) -> None:
    text = f"* * uuid:{uuids['work']} uuid:{uuids['personal']} allow"
    assert allow(decide(text, "work", "personal")).target == "personal"
    assert allow(decide(text, "work", "uuid:" + uuids["personal"])).target == "personal"


def test_loopback_is_allowed_by_evaluation(decide: Decide) -> None:
    # qrexec refuses it when running the call (see answer_lines), admin filtering does not
    assert allow(decide("* * work work allow", "work", "work")).is_loopback


# --- autostart -----------------------------------------------------------------------------


def test_allow_without_autostart_needs_a_running_target(decide: Decide) -> None:
    text = "* * work @anyvm allow autostart=no\n* * work dom0 allow autostart=no\n"
    running = allow(decide(text, "work", "personal"))
    assert running.autostart is False
    assert "autostart" in deny(decide(text, "work", "vault")).reason
    assert isinstance(decide(text, "work", "@dispvm"), Deny)
    assert isinstance(decide(text, "work", "dom0"), Allow)


# --- ask ------------------------------------------------------------------------------------


def test_ask_lists_candidates_from_the_matching_rules(decide: Decide) -> None:
    decision = ask(decide(POLICY, "standalone", "personal"))
    assert decision.rule is not None and decision.rule.lineno == 3
    assert decision.default_target is None
    assert decision.requested_target == "personal"
    assert decision.targets == (
        "@dispvm:default-dvm",
        "@dispvm:dvm3",
        "default-dvm",
        "dvm3",
        "fedora",
        "personal",
        "sys-gui",
        "vault",
        "work",
    )  # not itself, not dom0, not internal qubes or their disposables


def test_ask_default_target_is_preselected(uuids: dict[str, str], decide: Decide) -> None:
    decision = ask(decide(POLICY, "uuid:" + uuids["standalone"], "dvm3"))
    assert decision.default_target == "dvm3"
    assert "standalone" not in decision.targets


def test_ask_default_target_outside_the_choices_is_dropped(decide: Decide) -> None:
    decision = ask(decide("* * dvm3 personal ask default_target=work", "dvm3", "personal"))
    assert decision.targets == ("personal",)
    assert decision.default_target is None


def test_ask_deny_rules_remove_candidates(decide: Decide) -> None:
    text = (
        "* * work vault deny\n"
        "* * work @tag:tag2 deny\n"
        "* * work @anyvm ask\n"
        "* * work fedora deny\n"  # later than the ask: does not remove
    )
    decision = ask(decide(text, "work", "fedora"))
    assert "vault" not in decision.targets and "personal" not in decision.targets
    assert "fedora" in decision.targets and "dvm3" in decision.targets


def test_ask_collects_from_allow_redirects_and_earlier_rules(decide: Decide) -> None:
    text = "* * vault @default allow target=dvm3\n* * vault @adminvm allow\n* * vault work ask\n"
    decision = ask(decide(text, "vault", "work"))
    assert decision.targets == ("dom0", "dvm3", "work")


def test_ask_default_dispvm_expands(decide: Decide) -> None:
    text = "* * @anyvm @anyvm ask default_target=@dispvm\n* * @anyvm @dispvm ask\n"
    decision = ask(decide(text, "dvm3", "work"))
    assert decision.default_target == "@dispvm:default-dvm"
    assert "@dispvm" not in decision.targets


def test_ask_with_target_offers_only_that_target(decide: Decide) -> None:
    for target in ("dom0", "@adminvm", "uuid:" + DOM0_UUID):
        for default in ("dom0", "@adminvm", "uuid:" + DOM0_UUID):
            text = f"* * dvm3 @default ask target={target} default_target={default}"
            decision = ask(decide(text, "dvm3", ""))
            assert (decision.targets, decision.default_target) == (("dom0",), "dom0")
            assert decision.requested_target == "@default"


def test_ask_without_autostart_offers_running_qubes_and_dom0(decide: Decide) -> None:
    decision = ask(decide("* * work * ask autostart=no", "work", "personal"))
    assert decision.targets == ("dom0", "personal", "sys-gui")
    assert decision.autostart is False


def test_ask_without_candidates_is_denied(decide: Decide) -> None:
    decision = deny(decide("* * vault @default ask", "vault", ""))
    assert "no target is available" in decision.reason


def test_ask_choose_and_refuse(uuids: dict[str, str], decide: Decide) -> None:
    decision = ask(decide(POLICY, "standalone", "personal"))
    chosen = allow(decision.choose("@dispvm:dvm3"))
    assert (chosen.target, chosen.target_uuid) == ("@dispvm:dvm3", "@dispvm:uuid:" + uuids["dvm3"])
    assert chosen.requested_target == "personal"
    assert isinstance(decision.choose("dom0"), Deny)
    assert "denied by the user" in decision.refuse().reason


def test_assume_yes_allows_only_the_requested_target(decide: Decide) -> None:
    assert allow(ask(decide(POLICY, "standalone", "personal")).assume_yes()).target == "personal"
    text = "* * work @anyvm ask\n"
    assert isinstance(ask(decide(text, "work", "")).assume_yes(), Deny)  # @default is no choice


# --- requests -------------------------------------------------------------------------------


def test_invalid_service_or_argument_is_denied(system_info: dict[str, Any]) -> None:
    policy = parse_policy_text("* * @anyvm @anyvm allow")
    for service, argument in (("", "+"), ("a+b", "+"), ("bad/name", "+"), ("ok", "+a/b")):
        assert isinstance(
            evaluate(policy, "work", "personal", service, argument, system_info), Deny
        )


def test_argument_must_be_in_policy_form(system_info: dict[str, Any]) -> None:
    policy = parse_policy_text("* * @anyvm @anyvm allow")
    assert isinstance(evaluate(policy, "work", "personal", "s", None, system_info), Allow)
    with pytest.raises(ValueError):
        evaluate(policy, "work", "personal", "s", "arg", system_info)


def test_system_info_without_dom0_still_knows_dom0(system_info: dict[str, Any]) -> None:
    del system_info["domains"]["dom0"]
    policy = parse_policy_text("* * @anyvm dom0 allow")
    decision = allow(evaluate(policy, "work", "dom0", "s", "+", system_info))
    assert decision.target == "dom0"


def test_redirect_to_a_non_template_disposable_is_denied_with_the_rule(decide: Decide) -> None:
    decision = deny(decide("* * work @anyvm allow target=@dispvm:vault", "work", "personal"))
    assert decision.rule is not None and decision.rule.lineno == 1
    assert "not a template for dispvm" in decision.reason
