"""The QubesDB entries a net qube's firewall service reads for one client address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import QubesValueError
from backend.firewall import (
    Action,
    Firewall,
    Proto,
    Rule,
    parse_rule,
    qubesdb_base,
    qubesdb_entries,
    qubesdb_rule,
)

from .firewall_strategies import firewalls, rules

FIREWALL = Firewall(
    (
        parse_rule("action=accept dst4=192.168.0.0/24 proto=tcp dstports=80 comment=intranet"),
        parse_rule("action=accept dst6=fd00::/8"),
        parse_rule("action=accept expire=1000 comment=temporary access"),
        parse_rule("action=accept dsthost=example.com proto=udp"),
        parse_rule("action=accept specialtarget=dns"),
        parse_rule("action=drop"),
    )
)


def test_ipv4_client_gets_policy_and_rules_numbered_over_all_rules() -> None:
    assert qubesdb_entries(FIREWALL, "10.137.0.5", now=500) == {
        "/qubes-firewall/10.137.0.5/policy": "drop",
        "/qubes-firewall/10.137.0.5/0000": "action=accept dst4=192.168.0.0/24 proto=tcp "
        "dstports=80-80",
        # 0001 is IPv6 only: a gap
        "/qubes-firewall/10.137.0.5/0002": "action=accept",  # expire and comment left out
        "/qubes-firewall/10.137.0.5/0003": "action=accept dsthost=example.com proto=udp",
        "/qubes-firewall/10.137.0.5/0004": "action=accept specialtarget=dns",
        "/qubes-firewall/10.137.0.5/0005": "action=drop",
    }


def test_ipv6_client_skips_ipv4_rules_and_expired_ones() -> None:
    entries = qubesdb_entries(FIREWALL, "FD09:24EF:4179::A89:5", now=1000)
    assert list(entries) == [
        "/qubes-firewall/fd09:24ef:4179::a89:5/policy",
        "/qubes-firewall/fd09:24ef:4179::a89:5/0001",
        "/qubes-firewall/fd09:24ef:4179::a89:5/0003",
        "/qubes-firewall/fd09:24ef:4179::a89:5/0004",
        "/qubes-firewall/fd09:24ef:4179::a89:5/0005",
    ]
    assert entries["/qubes-firewall/fd09:24ef:4179::a89:5/0001"] == "action=accept dst6=fd00::/8"


def test_empty_firewall_still_sends_the_drop_policy() -> None:
    assert qubesdb_entries(Firewall(()), "10.0.0.1", now=0) == {
        "/qubes-firewall/10.0.0.1/policy": "drop"
    }


def test_base_key_is_the_reload_signal_path() -> None:
    assert qubesdb_base("10.137.0.5") == "/qubes-firewall/10.137.0.5"
    assert qubesdb_base("fd09::0:5") == "/qubes-firewall/fd09::5"


@pytest.mark.parametrize("address", ["", "10.137.0", "10.137.0.5/32", "fe80::1%eth0", "sys-net"])
def test_client_address_must_be_an_ip(address: str) -> None:
    with pytest.raises(QubesValueError, match="is not an IP address of a qube"):
        qubesdb_entries(Firewall.default(), address, now=0)


def test_rule_text_never_has_comment_or_expire() -> None:
    rule = Rule(Action.ACCEPT, proto=Proto.TCP, expire=5, comment="a b c")
    assert qubesdb_rule(rule) == "action=accept proto=tcp"


@given(rules())
def test_every_rule_text_splits_into_key_value_pairs_as_the_net_qube_reads_it(rule: Rule) -> None:
    text = qubesdb_rule(rule)
    # qubes-firewall splits on single spaces and each option on "="
    pairs = dict(option.split("=") for option in text.split(" "))
    assert pairs["action"] == str(rule.action)
    assert parse_rule(text) == Rule(
        rule.action,
        proto=rule.proto,
        dst4=rule.dst4,
        dst6=rule.dst6,
        dsthost=rule.dsthost,
        specialtarget=rule.specialtarget,
        dstports=rule.dstports,
        icmptype=rule.icmptype,
    )


@given(firewalls, st.integers(-1, 2**35), st.sampled_from(["10.137.0.9", "fd09::9"]))
def test_entries_are_the_active_rules_of_the_clients_family(
    firewall: Firewall, now: int, address: str
) -> None:
    entries = qubesdb_entries(firewall, address, now)
    other = "dst6" if "." in address else "dst4"
    expected = {
        f"{index:04d}"
        for index, rule in enumerate(firewall.rules)
        if not rule.is_expired(now) and getattr(rule, other) is None
    }
    base = qubesdb_base(address) + "/"
    assert entries.pop(base + "policy") == "drop"
    assert {key.removeprefix(base) for key in entries} == expected
