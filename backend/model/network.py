"""Address allocation of qubes (core-model.md §1.8), pure functions."""

from __future__ import annotations

import ipaddress

QUBE_PREFIX = "10.137"
DISPVM_PREFIX = "10.138"
IPV6_SITE = "fd09:24ef:4179:0000"
DNS_SERVERS = ("10.139.1.1", "10.139.1.2")
CLIENT_NETMASK = "255.255.255.255"


def ipv4_for(prefix: str, ident: int) -> str:
    """The address of the qube with ``ident`` (qid or dispid), never ending in .0/.255."""
    if ident < 0:
        raise ValueError(f"negative id {ident}")
    if ident < 255:
        return f"{prefix}.0.{ident}"
    n = ident - 1
    return f"{prefix}.{n // 254}.{(n % 254) + 1}"


def ipv6_for(dispvm: bool, ident: int) -> str:
    marker = "a8a" if dispvm else "a89"
    return str(ipaddress.IPv6Address(f"{IPV6_SITE}::{marker}:{ident:x}"))


def valid_ipv4(text: str) -> str:
    return str(ipaddress.IPv4Address(text))


def valid_ipv6(text: str) -> str:
    return str(ipaddress.IPv6Address(text))
