"""Rule validation and normalisation, through the typed constructor and option strings."""

from __future__ import annotations

import pytest

from backend.errors import QubesValueError
from backend.firewall import Action, PortRange, Proto, Rule, SpecialTarget


def opts(**options: str) -> Rule:
    return Rule.from_options({"action": "accept", **options})


# --- accepted: option strings -> the rule's normalised fields ---------------------------

ACCEPTED = [
    # action
    ({"action": "drop"}, {"action": Action.DROP}),
    # destinations: bare addresses get a full prefix, IPv6 is compressed lower case
    ({"dst4": "192.168.1.10"}, {"dst4": "192.168.1.10/32"}),
    ({"dst4": "10.0.0.0/8"}, {"dst4": "10.0.0.0/8"}),
    ({"dst4": "0.0.0.0/0"}, {"dst4": "0.0.0.0/0"}),
    ({"dst4": "192.168.1.5/24"}, {"dst4": "192.168.1.5/24"}),  # host bits kept, as upstream
    ({"dst4": "10.0.0.0/008"}, {"dst4": "10.0.0.0/8"}),
    ({"dst6": "2001:DB8:0:0::1"}, {"dst6": "2001:db8::1/128"}),
    ({"dst6": "fd00::/8"}, {"dst6": "fd00::/8"}),
    ({"dst6": "::/0"}, {"dst6": "::/0"}),
    ({"dsthost": "www.example.com"}, {"dsthost": "www.example.com"}),
    ({"dsthost": "example.com."}, {"dsthost": "example.com."}),
    ({"dsthost": "_srv.my-host.example"}, {"dsthost": "_srv.my-host.example"}),
    ({"dsthost": "1.2.3.4"}, {"dst4": "1.2.3.4/32", "dsthost": None}),  # classified
    ({"dsthost": "10.1.0.0/16"}, {"dst4": "10.1.0.0/16", "dsthost": None}),
    ({"dsthost": "::1"}, {"dst6": "::1/128", "dsthost": None}),
    ({"dsthost": "a" * 63 + "." + "b" * 63}, {"dsthost": "a" * 63 + "." + "b" * 63}),
    # protocols and what depends on them
    ({"proto": "tcp"}, {"proto": Proto.TCP}),
    ({"proto": "udp", "dstports": "53"}, {"proto": Proto.UDP, "dstports": PortRange(53, 53)}),
    ({"proto": "tcp", "dstports": "0-65535"}, {"dstports": PortRange(0, 65535)}),
    ({"proto": "tcp", "dstports": "1024-1024"}, {"dstports": PortRange(1024, 1024)}),
    ({"proto": "tcp", "dstports": "080"}, {"dstports": PortRange(80, 80)}),
    ({"proto": "icmp"}, {"proto": Proto.ICMP, "icmptype": None}),
    ({"proto": "icmp", "icmptype": "0"}, {"icmptype": 0}),
    ({"proto": "icmp", "icmptype": "255"}, {"icmptype": 255}),
    ({"proto": "icmp", "icmptype": "008"}, {"icmptype": 8}),
    # special target, also together with a host or a protocol (the net qube intersects)
    ({"specialtarget": "dns"}, {"specialtarget": SpecialTarget.DNS}),
    ({"specialtarget": "dns", "proto": "udp"}, {"specialtarget": SpecialTarget.DNS}),
    # expire
    ({"expire": "0"}, {"expire": 0}),
    ({"expire": "2099450306"}, {"expire": 2099450306}),
    ({"expire": "253402300799"}, {"expire": 253402300799}),
    # comment: the only option with spaces; empty means none
    ({"comment": "Web 01:;,./-_[]"}, {"comment": "Web 01:;,./-_[]"}),
    ({"comment": "  padded  "}, {"comment": "  padded  "}),
    ({"comment": ""}, {"comment": None}),
]


@pytest.mark.parametrize(("options", "expected"), ACCEPTED, ids=lambda v: repr(v)[:50])
def test_valid_options_are_accepted_and_normalised(
    options: dict[str, str], expected: dict[str, object]
) -> None:
    rule = Rule.from_options({"action": "accept", **options})
    for name, value in expected.items():
        assert getattr(rule, name) == value


# --- refused: option strings -> the field and a fragment of the message -----------------

REFUSED = [
    ({"action": "ACCEPT"}, "action: 'ACCEPT' is not one of: accept, drop"),
    ({"action": "reject"}, "action: 'reject'"),
    ({"action": ""}, "action: ''"),
    ({"proto": "sctp"}, "proto: 'sctp' is not one of: tcp, udp, icmp"),
    ({"proto": "TCP"}, "proto: 'TCP'"),
    ({"dst4": "1.2.3"}, "dst4: '1.2.3' is not an IPv4 address"),
    ({"dst4": "1.2.3.4.5"}, "dst4: '1.2.3.4.5'"),
    ({"dst4": "256.1.1.1"}, "dst4: '256.1.1.1'"),
    ({"dst4": "01.2.3.4"}, "dst4: '01.2.3.4'"),
    ({"dst4": "1.2.3.4/33"}, "dst4: '1.2.3.4/33' has an invalid prefix length (0-32)"),
    ({"dst4": "1.2.3.4/"}, "dst4: '1.2.3.4/' has an invalid prefix length"),
    ({"dst4": "1.2.3.4/-1"}, "dst4: '1.2.3.4/-1'"),
    ({"dst4": "1.2.3.4/8/8"}, "dst4: '1.2.3.4/8/8'"),
    ({"dst4": "/24"}, "dst4: '/24' is not an IPv4 address"),
    ({"dst4": "::1"}, "dst4: '::1' is not an IPv4 address"),
    ({"dst4": "example.com"}, "dst4: 'example.com' is not an IPv4 address"),
    ({"dst4": " 1.2.3.4"}, "dst4: ' 1.2.3.4'"),
    ({"dst6": "1.2.3.4"}, "dst6: '1.2.3.4' is not an IPv6 address"),
    ({"dst6": "::1/129"}, "dst6: '::1/129' has an invalid prefix length (0-128)"),
    ({"dst6": "fe80::1%eth0"}, "dst6: 'fe80::1%eth0' is not an IPv6 address"),
    ({"dst6": "2001:db8::g"}, "dst6: '2001:db8::g'"),
    ({"dsthost": ""}, "dsthost: '' is empty"),
    ({"dsthost": "Example.com"}, "host names must be lower case"),
    ({"dsthost": "*"}, "dsthost: '*' contains '*'"),
    ({"dsthost": "a b"}, "dsthost: 'a b' contains ' '"),
    ({"dsthost": "a..b"}, "dsthost: 'a..b' has an empty label"),
    ({"dsthost": ".example.com"}, "has an empty label"),
    ({"dsthost": "a" * 64 + ".com"}, "has a label longer than 63"),
    ({"dsthost": ("a" * 60 + ".") * 5 + "com"}, "is longer than 253"),
    ({"dsthost": "192.168.1.300"}, "dsthost: '192.168.1.300' is not an IPv4 address"),
    ({"dsthost": "10.1"}, "'10.1' is not an IPv4 address"),
    ({"dsthost": "example.com/24"}, "'example.com/24' is not an IPv4 address"),
    ({"specialtarget": "dhcp"}, "specialtarget: 'dhcp' is not one of: dns"),
    ({"dstports": "80"}, "dstports: '80-80' needs proto=tcp or proto=udp; the rule has no proto"),
    ({"proto": "icmp", "dstports": "80"}, "the rule has proto=icmp"),
    ({"proto": "tcp", "dstports": "65536"}, "dstports: 65536 is not a port number (0-65535)"),
    ({"proto": "tcp", "dstports": "100-99"}, "dstports: '100-99' ends before it starts"),
    ({"proto": "tcp", "dstports": "80-"}, "dstports: '80-' is not a port"),
    ({"proto": "tcp", "dstports": "-80"}, "dstports: '-80'"),
    ({"proto": "tcp", "dstports": "+80"}, "dstports: '+80'"),
    ({"proto": "tcp", "dstports": "8_0"}, "dstports: '8_0'"),  # Python's int() would take it
    ({"proto": "tcp", "dstports": "1-2-3"}, "dstports: '1-2-3'"),
    ({"proto": "tcp", "dstports": "http"}, "dstports: 'http'"),
    ({"proto": "tcp", "dstports": "٨٠"}, "dstports:"),  # non-ASCII digits
    ({"icmptype": "8"}, "icmptype: 8 needs proto=icmp; the rule has no proto"),
    ({"proto": "tcp", "icmptype": "8"}, "the rule has proto=tcp"),
    ({"proto": "icmp", "icmptype": "256"}, "icmptype: 256 is not a number 0-255"),
    ({"proto": "icmp", "icmptype": "0008"}, "icmptype: '0008' is not a number of at most 3"),
    ({"proto": "icmp", "icmptype": "-1"}, "icmptype: '-1'"),
    ({"expire": "-5"}, "expire: '-5' is not a number"),
    ({"expire": "1.5"}, "expire: '1.5'"),
    ({"expire": "+300"}, "expire: '+300'"),
    ({"expire": "253402300800"}, "expire: 253402300800 is not a UNIX time"),
    ({"expire": "1234567890123"}, "expire: '1234567890123' is not a number of at most 12"),
    ({"comment": "a=b"}, "comment: 'a=b' contains '='"),
    ({"comment": "tab\there"}, "comment: 'tab\\there' contains '\\t'"),
    ({"comment": "caf\u00e9"}, "comment: 'café' contains 'é'"),
    ({"comment": "50%"}, "contains '%'"),
    ({"dst4": "1.2.3.4", "dsthost": "example.com"}, "dst4 and dsthost: a rule has at most one"),
    ({"bogus": "1"}, "unknown firewall rule option 'bogus'"),
    ({"dstname": "example.com"}, "unknown firewall rule option 'dstname'"),  # API alias only
]


@pytest.mark.parametrize(("options", "message"), REFUSED, ids=lambda v: repr(v)[:50])
def test_invalid_options_are_refused_naming_field_and_value(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(QubesValueError) as caught:
        Rule.from_options({"action": "accept", **options})
    assert message in str(caught.value)


def test_rule_without_action_is_refused() -> None:
    with pytest.raises(QubesValueError, match="action: missing"):
        Rule.from_options({"proto": "tcp"})


def test_long_values_are_cut_short_in_messages() -> None:
    with pytest.raises(QubesValueError) as caught:
        opts(comment="x" * 10_000 + "=")
    assert len(str(caught.value)) < 200


# --- typed construction ------------------------------------------------------------------


def test_typed_rule_normalises_addresses() -> None:
    rule = Rule(Action.ACCEPT, dst6="FD00::0:1", proto=Proto.TCP, dstports=PortRange.single(22))
    assert rule.dst6 == "fd00::1/128"
    assert rule.destination == "fd00::1/128"
    assert rule.dstports == PortRange(22, 22)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "accept"}, "action: 'accept' is not of type Action"),
        ({"proto": "tcp"}, "proto: 'tcp' is not of type Proto"),
        ({"specialtarget": "dns"}, "specialtarget: 'dns' is not of type SpecialTarget"),
        ({"dsthost": "1.2.3.4"}, "dsthost: '1.2.3.4' is an address; give it as dst4"),
        ({"dsthost": "::1"}, "give it as dst6"),
        ({"dst4": 167772161}, "dst4: 167772161 is not a string"),
        ({"dst4": "1.2.3.4", "dst6": "::1"}, "dst4 and dst6: a rule has at most one"),
        ({"proto": Proto.TCP, "dstports": "80"}, "dstports: '80' is not a PortRange"),
        ({"proto": Proto.ICMP, "icmptype": True}, "icmptype: True is not a number"),
        ({"proto": Proto.ICMP, "icmptype": 8.0}, "icmptype: 8.0"),
        ({"expire": -1}, "expire: -1 is not a UNIX time"),
        ({"expire": 1.5}, "expire: 1.5"),
        ({"comment": ""}, "comment: '' is empty"),
        ({"comment": 5}, "comment: 5 is not a string"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_typed_rule_refuses_bad_fields(fields: dict[str, object], message: str) -> None:
    action = fields.pop("action", Action.ACCEPT)
    with pytest.raises(QubesValueError) as caught:
        Rule(action, **fields)  # type: ignore[arg-type]
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [(-1, 5, "-1 is not a port"), (1, 65536, "65536"), (9, 8, "'9-8' ends before it starts")],
)
def test_port_range_bounds(first: int, last: int, message: str) -> None:
    with pytest.raises(QubesValueError, match=message):
        PortRange(first, last)


def test_port_range_prints_as_range_and_short_form() -> None:
    assert str(PortRange.single(80)) == "80-80"
    assert PortRange.single(80).short() == "80"
    assert PortRange(1, 1024).short() == "1-1024"


def test_rules_are_frozen_and_hashable() -> None:
    rule = opts(proto="tcp", dstports="443")
    with pytest.raises(AttributeError):
        rule.proto = Proto.UDP  # type: ignore[misc]
    assert rule == opts(proto="tcp", dstports="443-443")
    assert len({rule, opts(proto="tcp", dstports="443")}) == 1


# --- changing the protocol clears what no longer applies ----------------------------------


def test_switching_proto_keeps_ports_between_tcp_and_udp() -> None:
    rule = opts(proto="tcp", dstports="80")
    assert rule.with_proto(Proto.UDP).dstports == PortRange(80, 80)


def test_switching_proto_to_icmp_or_none_clears_ports() -> None:
    rule = opts(proto="tcp", dstports="80", dsthost="example.com")
    icmp = rule.with_proto(Proto.ICMP)
    assert (icmp.proto, icmp.dstports, icmp.dsthost) == (Proto.ICMP, None, "example.com")
    assert rule.with_proto(None).dstports is None


def test_switching_proto_away_from_icmp_clears_icmptype() -> None:
    rule = opts(proto="icmp", icmptype="3")
    assert rule.with_proto(Proto.ICMP).icmptype == 3
    assert rule.with_proto(Proto.TCP).icmptype is None


# --- expiry of one rule -------------------------------------------------------------------


def test_rule_is_active_until_its_expire_second() -> None:
    rule = opts(expire="1000")
    assert not rule.is_expired(999.999)
    assert rule.is_expired(1000)
    assert rule.is_expired(1000.5)


def test_rule_without_expire_never_expires() -> None:
    assert not opts().is_expired(10**12)
