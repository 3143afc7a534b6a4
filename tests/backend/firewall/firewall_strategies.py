"""Hypothesis strategies for valid firewall rules and firewalls."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from backend.firewall import Action, Firewall, PortRange, Proto, Rule, SpecialTarget
from backend.firewall.rule import COMMENT_CHARS, MAX_EXPIRE, PORT_PROTOS

ports = st.integers(0, 65535)
port_ranges = st.tuples(ports, ports).map(lambda pair: PortRange(*sorted(pair)))

dst4_values = st.builds(
    lambda address, length: f"{address}/{length}", st.ip_addresses(v=4), st.integers(0, 32)
)
dst6_values = st.builds(
    lambda address, length: f"{address.compressed}/{length}",
    st.ip_addresses(v=6),
    st.integers(0, 128),
)
_labels = st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=20)
hostnames = st.builds(
    lambda labels, dot: ".".join(labels) + dot,
    st.lists(_labels, min_size=1, max_size=4),
    st.sampled_from(["", "."]),
).filter(lambda name: not set(name) <= set(string.digits + "."))
comments = st.text(sorted(COMMENT_CHARS), min_size=1, max_size=40)
expiries = st.integers(0, MAX_EXPIRE)


@st.composite
def rules(draw: st.DrawFn, expire: st.SearchStrategy[int | None] | None = None) -> Rule:
    proto = draw(st.none() | st.sampled_from(Proto))
    destination = draw(
        st.one_of(
            st.just({}),
            dst4_values.map(lambda v: {"dst4": v}),
            dst6_values.map(lambda v: {"dst6": v}),
            hostnames.map(lambda v: {"dsthost": v}),
        )
    )
    return Rule(
        draw(st.sampled_from(Action)),
        proto=proto,
        specialtarget=draw(st.none() | st.just(SpecialTarget.DNS)),
        dstports=draw(st.none() | port_ranges) if proto in PORT_PROTOS else None,
        icmptype=draw(st.none() | st.integers(0, 255)) if proto is Proto.ICMP else None,
        expire=draw(expire if expire is not None else st.none() | expiries),
        comment=draw(st.none() | comments),
        **destination,
    )


firewalls = st.lists(rules(), max_size=12).map(lambda rs: Firewall(tuple(rs)))
