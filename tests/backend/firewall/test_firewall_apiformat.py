"""The Admin API line format: fixed order, exact round trips, all-or-nothing payloads."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import QubesValueError
from backend.firewall import (
    Action,
    Firewall,
    PortRange,
    Proto,
    Rule,
    SpecialTarget,
    firewall_from_api,
    firewall_to_api,
    format_rule,
    format_rules,
    parse_rule,
    parse_rules,
)

from .firewall_strategies import rules

# lines exactly as upstream writes them: parsing and writing back changes nothing
CANONICAL = [
    "action=accept",
    "action=drop",
    "action=accept proto=tcp dstports=1-1024",
    "action=drop proto=icmp comment=No ICMP",
    "action=drop expire=2099450306 proto=udp",
    "action=accept dst4=192.168.0.0/24 proto=tcp dstports=80-80",
    "action=accept dst6=2001:db8::/32 proto=udp dstports=53-53",
    "action=accept dsthost=www.example.com proto=tcp dstports=443-443 comment=web  site ",
    "action=accept specialtarget=dns",
    "action=accept proto=icmp icmptype=8",
    "action=accept expire=1700000000 dst4=10.0.0.1/32 proto=udp specialtarget=dns "
    "dstports=53-53 comment=all options",
]


@pytest.mark.parametrize("line", CANONICAL)
def test_canonical_lines_round_trip_exactly(line: str) -> None:
    assert format_rule(parse_rule(line)) == line


def test_rule_is_written_in_upstream_order() -> None:
    rule = Rule(
        Action.DROP,
        comment="last",
        icmptype=3,
        proto=Proto.ICMP,
        specialtarget=SpecialTarget.DNS,
        dst6="::1",
        expire=42,
    )
    assert format_rule(rule) == (
        "action=drop expire=42 dst6=::1/128 proto=icmp specialtarget=dns icmptype=3 comment=last"
    )


@pytest.mark.parametrize(
    ("line", "canonical"),
    [
        # any input order
        ("proto=tcp dstports=22 action=accept", "action=accept proto=tcp dstports=22-22"),
        # the qvm-firewall client's order
        (
            "action=accept proto=tcp dsthost=10.0.0.0/8 dstports=22 expire=99 comment=x",
            "action=accept expire=99 dst4=10.0.0.0/8 proto=tcp dstports=22-22 comment=x",
        ),
        # destination aliases; dsthost is sorted by its value
        ("action=accept dsthost=1.2.3.4", "action=accept dst4=1.2.3.4/32"),
        ("action=accept dsthost=::1", "action=accept dst6=::1/128"),
        ("action=accept dstname=example.org", "action=accept dsthost=example.org"),
        ("action=accept dstname=10.0.0.0/8", "action=accept dst4=10.0.0.0/8"),
        # spaces around the options (not inside them) are tolerated, as upstream does
        ("  action=accept proto=udp  ", "action=accept proto=udp"),
        ("action=accept  comment=x", "action=accept comment=x"),
        # an empty comment is no comment
        ("action=accept comment=", "action=accept"),
    ],
)
def test_accepted_spellings_are_written_canonically(line: str, canonical: str) -> None:
    assert format_rule(parse_rule(line)) == canonical


def test_comment_is_everything_after_comment_key() -> None:
    rule = parse_rule("action=accept comment=  proto tcp: not an option [here] ")
    assert rule.proto is None
    assert rule.comment == "  proto tcp: not an option [here] "


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "action: missing"),
        ("proto=tcp", "action: missing"),
        ("comment=only a comment", "action: missing"),
        ("action=accept action=drop", "action: given twice"),
        ("action=accept proto=tcp proto=udp", "proto: given twice"),
        ("action=accept dst4=1.2.3.4 dsthost=example.com", "dsthost: a rule has at most one"),
        ("action=accept dst4=1.2.3.4 dst4=1.2.3.5", "dst4: a rule has at most one"),
        ("action=accept dsthost=a.com dstname=b.com", "dstname: a rule has at most one"),
        ("action=accept dst4=1.2.3.4 dst6=::1", "dst4 was given already"),
        ("action=accept foo=bar", "unknown firewall rule option 'foo'"),
        ("action=accept srchost=1.2.3.4", "unknown firewall rule option 'srchost'"),
        ("action=accept proto", "'proto' is not a key=value option"),
        ("action=accept  proto=tcp", "separated by single spaces"),
        ("action=accept\tproto=tcp", "action: 'accept\\tproto=tcp'"),
        ("action=accept\r", "action: 'accept\\r'"),
        ("action=accept proto=tcpcomment=x", "proto: 'tcpcomment=x'"),
        ("action=accept comment=a comment=b", "comment: 'a comment=b' contains '='"),
        ("action=accept comment=x proto=tcp", "contains '='"),
        ("action=accept dstports=80", "needs proto=tcp or proto=udp"),
    ],
)
def test_bad_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(QubesValueError) as caught:
        parse_rule(line)
    assert message in str(caught.value)


# --- payloads ------------------------------------------------------------------------------


def test_payload_parses_one_rule_per_line_in_order() -> None:
    payload = b"action=accept dsthost=example.com\naction=accept specialtarget=dns\naction=drop\n"
    assert [rule.action for rule in parse_rules(payload)] == [
        Action.ACCEPT,
        Action.ACCEPT,
        Action.DROP,
    ]
    assert format_rules(parse_rules(payload)) == payload


def test_payload_without_final_newline_is_accepted() -> None:
    assert parse_rules(b"action=accept\naction=drop") == parse_rules(
        b"action=accept\naction=drop\n"
    )


def test_empty_payload_is_no_rules() -> None:
    assert parse_rules(b"") == ()
    assert format_rules(()) == b""


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"action=accept\naction=drop proto=gre\n", "line 2: proto: 'gre'"),
        (b"action=drop\n\naction=accept\n", "line 2: empty"),
        (b"\n", "line 1: empty"),
        (b"action=accept\naction=accept comment=caf\xc3\xa9\n", "line 2: not ASCII"),
        (b"action=accept\r\naction=drop\r\n", "line 1: action: 'accept\\r'"),
        (b"action=accept\nproto=tcp\naction=bad\n", "line 2: action: missing"),
    ],
)
def test_bad_line_refuses_whole_payload_naming_its_number(payload: bytes, message: str) -> None:
    with pytest.raises(QubesValueError) as caught:
        firewall_from_api(payload)
    assert message in str(caught.value)


def test_payload_with_too_many_rules_is_refused() -> None:
    with pytest.raises(QubesValueError, match="at most 10000 rules"):
        parse_rules(b"action=accept\n" * 10_001)


def test_get_omits_rules_expired_at_now() -> None:
    firewall = Firewall(
        (
            Rule(Action.ACCEPT, expire=1000, comment="temporary"),
            Rule(Action.ACCEPT, specialtarget=SpecialTarget.DNS),
            Rule(Action.DROP),
        )
    )
    assert firewall_to_api(firewall, now=999) == (
        b"action=accept expire=1000 comment=temporary\n"
        b"action=accept specialtarget=dns\n"
        b"action=drop\n"
    )
    assert firewall_to_api(firewall, now=1000) == b"action=accept specialtarget=dns\naction=drop\n"


def test_set_payload_replaces_every_rule() -> None:
    firewall = firewall_from_api(b"action=accept proto=tcp dstports=443\naction=drop\n")
    assert firewall.rules == (
        Rule(Action.ACCEPT, proto=Proto.TCP, dstports=PortRange(443, 443)),
        Rule(Action.DROP),
    )


# --- properties ------------------------------------------------------------------------------


@given(rules())
def test_any_valid_rule_survives_format_and_parse(rule: Rule) -> None:
    line = format_rule(rule)
    assert parse_rule(line) == rule
    assert "\n" not in line
    assert line.startswith("action=")


@given(st.lists(rules(), max_size=8))
def test_any_rule_list_survives_a_payload(rule_list: list[Rule]) -> None:
    assert parse_rules(format_rules(rule_list)) == tuple(rule_list)


def _accepts_or_refuses(line: str) -> None:
    """The parser's whole contract: a rule, or our error; and accepted rules are stable."""
    try:
        rule = parse_rule(line)
    except QubesValueError:
        return
    assert parse_rule(format_rule(rule)) == rule


@given(st.text())
def test_parser_survives_arbitrary_text(line: str) -> None:
    _accepts_or_refuses(line)


_PLAUSIBLE = {
    "action": ["accept", "drop", "reject"],
    "proto": ["tcp", "udp", "icmp", "gre"],
    "dst4": ["10.0.0.1", "10.0.0.0/8", "10.0.0.0/33", "::1"],
    "dst6": ["::1", "fd00::/8", "1.2.3.4"],
    "dsthost": ["example.com", "1.2.3.4", "fd00::1/64", "Ex.com"],
    "dstname": ["example.com", "10.1.2.3"],
    "specialtarget": ["dns", "dhcp"],
    "dstports": ["80", "1-1024", "99-1", "65536"],
    "icmptype": ["0", "8", "256"],
    "expire": ["0", "1700000000", "-1"],
    "bogus": ["1"],
}
_OPTIONS = st.sampled_from(sorted(_PLAUSIBLE)).flatmap(
    lambda key: st.tuples(
        st.just(key), st.sampled_from(_PLAUSIBLE[key]) | st.text(string.printable, max_size=8)
    )
)


@given(
    st.lists(_OPTIONS, max_size=6),
    st.sampled_from(["", "action=accept ", "action=drop "]),
    st.none() | st.text(string.printable, max_size=12),
)
def test_parser_survives_option_soup(
    options: list[tuple[str, str]], action: str, comment: str | None
) -> None:
    line = action + " ".join(f"{key}={value}" for key, value in options)
    _accepts_or_refuses(line if comment is None else f"{line} comment={comment}")


@given(rules(), st.data())
def test_parser_survives_mutated_valid_lines(rule: Rule, data: st.DataObject) -> None:
    line = format_rule(rule)
    position = data.draw(st.integers(0, len(line)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(st.text(string.printable + "é\0", max_size=3))
    _accepts_or_refuses(line[:position] + insert + line[position + cut :])


@given(st.binary())
def test_payload_parser_survives_arbitrary_bytes(payload: bytes) -> None:
    try:
        parse_rules(payload)
    except QubesValueError as err:
        assert err.message.startswith("line ") or "rules" in err.message
