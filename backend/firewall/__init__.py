"""Per-qube firewall: the rule model and its Admin API, firewall.xml and QubesDB forms."""

from __future__ import annotations

from .apiformat import (
    firewall_from_api,
    firewall_to_api,
    format_rule,
    format_rules,
    parse_rule,
    parse_rules,
)
from .qubesdb import qubesdb_base, qubesdb_entries, qubesdb_rule
from .rule import Action, PortRange, Proto, Rule, SpecialTarget
from .ruleset import MAX_RULES, Firewall
from .xmlformat import firewall_from_xml, firewall_to_xml

__all__ = [
    "MAX_RULES",
    "Action",
    "Firewall",
    "PortRange",
    "Proto",
    "Rule",
    "SpecialTarget",
    "firewall_from_api",
    "firewall_from_xml",
    "firewall_to_api",
    "firewall_to_xml",
    "format_rule",
    "format_rules",
    "parse_rule",
    "parse_rules",
    "qubesdb_base",
    "qubesdb_entries",
    "qubesdb_rule",
]
