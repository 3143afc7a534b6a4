"""The QubesDB form of a qube's firewall, as its net qube's qubes-firewall service reads it.

Under ``/qubes-firewall/<client ip>/`` (once for the qube's IPv4 and once for its
IPv6 address): ``policy`` and one ``NNNN`` key per rule, numbered over *all* rules
so skipped ones leave gaps. The rule text has no expire and no comment. To apply:
remove the ``<base>/`` tree, write the entries, then write ``""`` to ``<base>``
itself, the net qube's signal to reload (writing it earlier would reload half a list).
"""

from __future__ import annotations

import ipaddress

from backend.errors import QubesValueError

from .apiformat import rule_tokens
from .rule import Rule, show
from .ruleset import Firewall

ROOT = "/qubes-firewall"


def qubesdb_base(client_ip: str) -> str:
    """``/qubes-firewall/<ip>``: the reload key, and with a ``/`` the rules' directory."""
    return f"{ROOT}/{_address(client_ip)}"


def qubesdb_rule(rule: Rule) -> str:
    """A rule as the firewall qube gets it: the Admin API line less expire and comment."""
    return " ".join(rule_tokens(rule, expire=False, comment=False))


def qubesdb_entries(firewall: Firewall, client_ip: str, now: float) -> dict[str, str]:
    """Full QubesDB keys and values for the client address ``client_ip`` at ``now``.

    Rules for the other address family and rules expired at ``now`` are left out;
    the reload key is not included (see the module docstring for the write order).
    """
    address = _address(client_ip)
    other_family = "dst6" if ipaddress.ip_address(address).version == 4 else "dst4"
    base = f"{ROOT}/{address}"
    entries = {f"{base}/policy": str(firewall.policy)}
    for index, rule in enumerate(firewall.rules):
        if rule.is_expired(now) or getattr(rule, other_family) is not None:
            continue
        entries[f"{base}/{index:04d}"] = qubesdb_rule(rule)
    return entries


def _address(client_ip: str) -> str:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        address = None
    if not isinstance(client_ip, str) or address is None or "%" in client_ip:
        raise QubesValueError(f"{show(client_ip)} is not an IP address of a qube")
    return str(address)
