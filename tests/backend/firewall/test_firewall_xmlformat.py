"""firewall.xml in the qube's directory: version 2 both ways, version 1 converted."""

from __future__ import annotations

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
    firewall_from_xml,
    firewall_to_xml,
    parse_rule,
)

from .firewall_strategies import firewalls

# a file as upstream qubesd writes it (lxml, pretty printed, its property order)
UPSTREAM_V2 = b"""<?xml version='1.0' encoding='UTF-8'?>
<firewall version="2">
  <rules>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="comment">web server</property>
        <property name="dsthost">192.168.0.0/24</property>
        <property name="proto">tcp</property>
        <property name="dstports">80</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="expire">2099450306</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">fd00::/8</property>
        <property name="proto">udp</property>
        <property name="dstports">1000-2000</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">updates.example.org</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="specialtarget">dns</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="proto">icmp</property>
        <property name="icmptype">8</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">drop</property>
      </properties>
    </rule>
  </rules>
</firewall>
"""

UPSTREAM_RULES = (
    "action=accept dst4=192.168.0.0/24 proto=tcp dstports=80-80 comment=web server",
    "action=accept expire=2099450306",
    "action=accept dst6=fd00::/8 proto=udp dstports=1000-2000",
    "action=accept dsthost=updates.example.org",
    "action=accept specialtarget=dns",
    "action=accept proto=icmp icmptype=8",
    "action=drop",
)


def test_reads_upstream_file() -> None:
    firewall = firewall_from_xml(UPSTREAM_V2)
    assert firewall.rules == tuple(parse_rule(line) for line in UPSTREAM_RULES)


def test_writes_the_same_bytes_as_upstream() -> None:
    firewall = Firewall(tuple(parse_rule(line) for line in UPSTREAM_RULES))
    assert firewall_to_xml(firewall, now=1_700_000_000) == UPSTREAM_V2


def test_saving_skips_rules_expired_at_now() -> None:
    firewall = Firewall((Rule(Action.ACCEPT, expire=100), Rule(Action.DROP)))
    assert firewall_from_xml(firewall_to_xml(firewall, now=99)) == firewall
    assert firewall_from_xml(firewall_to_xml(firewall, now=100)).rules == (Rule(Action.DROP),)


def test_loading_keeps_expired_rules_for_the_caller_to_filter() -> None:
    firewall = firewall_from_xml(UPSTREAM_V2)
    assert len(firewall.without_expired(2099450306).rules) == len(UPSTREAM_RULES) - 1


def test_empty_rule_list_round_trips() -> None:
    assert firewall_from_xml(firewall_to_xml(Firewall(()), now=0)) == Firewall(())


@given(firewalls)
def test_any_firewall_survives_save_and_load(firewall: Firewall) -> None:
    assert firewall_from_xml(firewall_to_xml(firewall, now=-1)) == firewall


# --- version 1 (pre-R4) -----------------------------------------------------------------------


def test_v1_deny_policy_becomes_dns_icmp_then_accepted_rules() -> None:
    firewall = firewall_from_xml(
        b"""<QubesFirewallRules policy="deny" dns="allow" icmp="allow" yumProxy="allow">
          <rule address="192.168.0.0" netmask="24" proto="tcp" port="80" toport="90"/>
          <rule address="example.com" netmask="32" proto="any"/>
          <rule address="10.1.1.1" port="22" expire="1700000000"/>
          <rule address="0.0.0.0" netmask="0" proto="udp" port="53"/>
        </QubesFirewallRules>"""
    )
    assert firewall.rules == (
        Rule(Action.ACCEPT, specialtarget=SpecialTarget.DNS),
        Rule(Action.ACCEPT, proto=Proto.ICMP),
        Rule(Action.ACCEPT, dst4="192.168.0.0/24", proto=Proto.TCP, dstports=PortRange(80, 90)),
        Rule(Action.ACCEPT, dsthost="example.com"),
        Rule(
            Action.ACCEPT,
            dst4="10.1.1.1/32",
            proto=Proto.TCP,  # R3 took a port without protocol as TCP
            dstports=PortRange(22, 22),
            expire=1700000000,
        ),
        Rule(Action.ACCEPT, dst4="0.0.0.0/0", proto=Proto.UDP, dstports=PortRange(53, 53)),
    )


def test_v1_allow_policy_inverts_rules_and_ends_with_accept() -> None:
    firewall = firewall_from_xml(
        b'<QubesFirewallRules policy="allow" dns="deny">'
        b'<rule address="2001:db8::1"/></QubesFirewallRules>'
    )
    assert firewall.rules == (
        Rule(Action.DROP, specialtarget=SpecialTarget.DNS),
        Rule(Action.ACCEPT, proto=Proto.ICMP),  # icmp unset: follows the policy
        Rule(Action.DROP, dst6="2001:db8::1/128"),
        Rule(Action.ACCEPT),
    )


# --- refused files ----------------------------------------------------------------------------


def _v2(*properties: str) -> bytes:
    body = "".join(properties)
    return f'<firewall version="2"><rules><rule><properties>{body}</properties></rule>'.encode() + (
        b"</rules></firewall>"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed XML"),
        (b"<firewall version='2'><rules>", "not well-formed XML"),
        (b"<firewall version='3'><rules/></firewall>", "unsupported root <'firewall'> version '3'"),
        (b"<firewall><rules/></firewall>", "unsupported root"),
        (b"<qubes version='2'/>", "unsupported root <'qubes'>"),
        (b"<firewall version='2'/>", "exactly one <rules>"),
        (b"<firewall version='2'><rules/><rules/></firewall>", "exactly one <rules>"),
        (b"<firewall version='2'><rules><x/></rules></firewall>", "unexpected <'x'> in <rules>"),
        (b"<firewall version='2'><rules><rule/></rules></firewall>", "rule 1: a <rule> must hold"),
        (_v2(), "rule 1: action: missing"),
        (_v2('<property name="action">allow</property>'), "rule 1: action: 'allow'"),
        (_v2('<property name="action"/>'), "rule 1: action: ''"),
        (
            _v2(
                '<property name="action">accept</property><property name="dst4">1.2.3.4</property>'
            ),
            "rule 1: unknown property 'dst4'",
        ),
        (
            _v2('<property name="action">accept</property><property name="action">drop</property>'),
            "property action given twice",
        ),
        (
            _v2('<property name="action">accept</property><property name="dstports">80</property>'),
            "rule 1: dstports: '80-80' needs proto=tcp",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]>'
            b"<firewall version='2'><rules/></firewall>",
            "document type declarations are not allowed",
        ),
        (b"<firewall version='2'>\0</firewall>", "NUL"),
        (b"<QubesFirewallRules/>", "policy=None is neither allow nor deny"),
        (b"<QubesFirewallRules policy='allow' icmp='yes'/>", "icmp='yes'"),
        (
            b"<QubesFirewallRules policy='deny'><rule address='1.2.3.4' netmask='40'/>"
            b"</QubesFirewallRules>",
            "rule 1: dsthost: '1.2.3.4/40' has an invalid prefix length",
        ),
    ],
)
def test_bad_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(QubesValueError) as caught:
        firewall_from_xml(data)
    assert str(caught.value).startswith("firewall.xml: ")
    assert message in str(caught.value)


@given(st.binary(max_size=300))
def test_loader_survives_arbitrary_bytes(data: bytes) -> None:
    try:
        firewall_from_xml(data)
    except QubesValueError:
        pass


@given(firewalls, st.data())
def test_loader_survives_mutated_files(firewall: Firewall, data: st.DataObject) -> None:
    document = firewall_to_xml(firewall, now=-1)
    position = data.draw(st.integers(0, len(document)))
    cut = data.draw(st.integers(0, 8))
    insert = data.draw(st.binary(max_size=4) | st.sampled_from([b"<", b"</rule>", b"&amp;"]))
    try:
        firewall_from_xml(document[:position] + insert + document[position + cut :])
    except QubesValueError:
        pass
