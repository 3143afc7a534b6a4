"""The Firewall value object: default, fixed policy, expiring rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import QubesValueError
from backend.firewall import MAX_RULES, Action, Firewall, Proto, Rule, SpecialTarget

from .firewall_strategies import firewalls, rules

ACCEPT_ALL = Rule(Action.ACCEPT)


def test_new_qube_firewall_allows_everything() -> None:
    assert Firewall.default().rules == (ACCEPT_ALL,)


def test_policy_is_always_drop() -> None:
    assert Firewall.default().policy is Action.DROP
    assert Firewall(()).policy is Action.DROP


def test_rule_list_is_frozen_into_a_tuple() -> None:
    rules_given = [ACCEPT_ALL]
    firewall = Firewall(rules_given)  # type: ignore[arg-type]
    rules_given.append(Rule(Action.DROP))
    assert firewall.rules == (ACCEPT_ALL,)
    assert firewall == Firewall((ACCEPT_ALL,))
    assert hash(firewall) == hash(Firewall((ACCEPT_ALL,)))


def test_non_rules_are_refused() -> None:
    with pytest.raises(QubesValueError, match="firewall rule 2: 'action=drop' is not a Rule"):
        Firewall((ACCEPT_ALL, "action=drop"))  # type: ignore[arg-type]


def test_more_rules_than_qubesdb_can_number_are_refused() -> None:
    Firewall((ACCEPT_ALL,) * MAX_RULES)
    with pytest.raises(QubesValueError, match="at most 10000 rules, not 10001"):
        Firewall((ACCEPT_ALL,) * (MAX_RULES + 1))


# --- expiry ------------------------------------------------------------------------------------

TEMPORARY_ACCESS = Firewall(
    (
        Rule(Action.ACCEPT, dsthost="example.com"),
        Rule(Action.ACCEPT, expire=2000),
        Rule(Action.ACCEPT, dsthost="late.example", expire=3000),
        Rule(Action.ACCEPT, specialtarget=SpecialTarget.DNS),
        Rule(Action.ACCEPT, proto=Proto.ICMP),
        Rule(Action.DROP),
    )
)


def test_without_expired_drops_only_rules_past_their_expire_keeping_order() -> None:
    assert TEMPORARY_ACCESS.without_expired(1999) == TEMPORARY_ACCESS
    at_2000 = TEMPORARY_ACCESS.without_expired(2000)
    assert at_2000.rules == TEMPORARY_ACCESS.rules[:1] + TEMPORARY_ACCESS.rules[2:]
    at_3000 = TEMPORARY_ACCESS.without_expired(3000.5)
    assert at_3000.rules == TEMPORARY_ACCESS.rules[:1] + TEMPORARY_ACCESS.rules[3:]


def test_next_expiry_is_the_earliest_expire() -> None:
    assert TEMPORARY_ACCESS.next_expiry() == 2000
    assert TEMPORARY_ACCESS.without_expired(2000).next_expiry() == 3000
    assert TEMPORARY_ACCESS.without_expired(3000).next_expiry() is None


def test_next_expiry_reports_an_already_past_expire_so_it_is_removed_at_once() -> None:
    # after a daemon restart rules may have expired while nothing was scheduled
    firewall = Firewall((Rule(Action.ACCEPT, expire=10), Rule(Action.DROP)))
    assert firewall.next_expiry() == 10
    assert firewall.without_expired(1_700_000_000).rules == (Rule(Action.DROP),)


def test_firewall_without_expiring_rules_has_no_next_expiry() -> None:
    assert Firewall.default().next_expiry() is None
    assert Firewall(()).next_expiry() is None


@given(firewalls, st.integers(-1, 2**40))
def test_without_expired_keeps_exactly_the_active_rules(firewall: Firewall, now: int) -> None:
    kept = firewall.without_expired(now).rules
    assert kept == tuple(r for r in firewall.rules if r.expire is None or r.expire > now)


@given(st.lists(rules(expire=st.none() | st.integers(0, 50)), max_size=12))
def test_removing_at_each_next_expiry_ends_with_no_expiring_rule(rule_list: list[Rule]) -> None:
    # what the daemon does: wake at next_expiry(), drop expired rules, reschedule
    firewall = Firewall(tuple(rule_list))
    distinct = {rule.expire for rule in rule_list if rule.expire is not None}
    wakeups = []
    while (when := firewall.next_expiry()) is not None:
        wakeups.append(when)
        firewall = firewall.without_expired(when)
        assert len(wakeups) <= len(distinct)
    assert wakeups == sorted(distinct)
    assert firewall.rules == tuple(rule for rule in rule_list if rule.expire is None)
