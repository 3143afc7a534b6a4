"""``firewall.xml``, the firewall kept in the qube's directory, to and from bytes.

Version 2 (written and read)::

    <firewall version="2"><rules>
      <rule><properties><property name="action">accept</property>...</properties></rule>
    </rules></firewall>

with upstream's property names (every destination is ``dsthost``; one port is
stored as ``N``). Version 1, the pre-R4 ``QubesFirewallRules`` file, is converted
on reading: the dns and icmp rules, then the listed rules with the inverse of the
policy's action, then a final accept if the policy allowed everything.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from backend.errors import QubesValueError

from .rule import Action, Proto, Rule, SpecialTarget, show
from .ruleset import MAX_RULES, Firewall

#: the order upstream writes the properties in (its property order: action, then
#: comment and expire, then the destination, and the options that depend on proto)
_PROPERTY_ORDER = (
    "action",
    "comment",
    "expire",
    "dsthost",
    "proto",
    "specialtarget",
    "dstports",
    "icmptype",
)
_V1_ACTIONS = {"allow": Action.ACCEPT, "deny": Action.DROP}


def _error(problem: str) -> QubesValueError:
    return QubesValueError(f"firewall.xml: {problem}")


def rule_properties(rule: Rule) -> dict[str, str]:
    """A rule's firewall.xml properties, in upstream's order."""
    values = {
        "action": str(rule.action),
        "comment": rule.comment,
        "expire": None if rule.expire is None else str(rule.expire),
        "dsthost": rule.destination,
        "proto": None if rule.proto is None else str(rule.proto),
        "specialtarget": None if rule.specialtarget is None else str(rule.specialtarget),
        "dstports": None if rule.dstports is None else rule.dstports.short(),
        "icmptype": None if rule.icmptype is None else str(rule.icmptype),
    }
    return {name: value for name in _PROPERTY_ORDER if (value := values[name]) is not None}


def firewall_to_xml(firewall: Firewall, now: float) -> bytes:
    """firewall.xml for the rules still active at ``now`` (saving drops expired ones)."""
    root = ET.Element("firewall", version="2")
    rules = ET.SubElement(root, "rules")
    for rule in firewall.without_expired(now).rules:
        properties = ET.SubElement(ET.SubElement(rules, "rule"), "properties")
        for name, value in rule_properties(rule).items():
            ET.SubElement(properties, "property", name=name).text = value
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document + b"\n"


def firewall_from_xml(data: bytes) -> Firewall:
    """The firewall a firewall.xml holds, expired rules included (filter them by time).

    Raises QubesValueError naming the problem and, for a bad rule, its number.
    """
    if b"\0" in data:
        raise _error("not UTF-8 text (it contains NUL bytes)")
    # entities are nothing firewall.xml needs; refusing them rules out expansion bombs
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _error("document type declarations are not allowed")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError, LookupError) as err:
        raise _error(f"not well-formed XML ({err})") from None
    version = root.get("version")
    if version == "2" and root.tag == "firewall":
        rules = _load_v2(root)
    elif version in (None, "1") and root.tag == "QubesFirewallRules":
        rules = _load_v1(root)
    else:
        raise _error(f"unsupported root <{show(root.tag)}> version {show(version)}")
    if len(rules) > MAX_RULES:
        raise _error(f"more than {MAX_RULES} rules")
    return Firewall(tuple(rules))


def _children(parent: ET.Element, tag: str) -> list[ET.Element]:
    children = list(parent)
    for child in children:
        if child.tag != tag:
            raise _error(f"unexpected <{show(child.tag)}> in <{parent.tag}>")
    return children


def _load_v2(root: ET.Element) -> list[Rule]:
    containers = _children(root, "rules")
    if len(containers) != 1:
        raise _error("<firewall> must hold exactly one <rules>")
    rules = []
    for number, element in enumerate(_children(containers[0], "rule"), start=1):
        try:
            rules.append(Rule.from_options(_v2_options(element)))
        except QubesValueError as err:
            raise _error(f"rule {number}: {err.message}") from err
    return rules


def _v2_options(element: ET.Element) -> dict[str, str]:
    groups = _children(element, "properties")
    if len(groups) != 1:
        raise QubesValueError("a <rule> must hold exactly one <properties>")
    options: dict[str, str] = {}
    for prop in _children(groups[0], "property"):
        name = prop.get("name")
        if name not in _PROPERTY_ORDER:
            raise QubesValueError(f"unknown property {show(name)}")
        if name in options:
            raise QubesValueError(f"property {name} given twice")
        options[name] = prop.text or ""
    return options


def _v1_action(root: ET.Element, attribute: str, default: str | None) -> Action:
    value = root.get(attribute, default)
    if value not in _V1_ACTIONS:
        raise _error(f"{attribute}={show(value)} is neither allow nor deny")
    return _V1_ACTIONS[value]


def _load_v1(root: ET.Element) -> list[Rule]:
    policy_text = root.get("policy")
    policy = _v1_action(root, "policy", None)
    rules = [
        Rule(_v1_action(root, "dns", policy_text), specialtarget=SpecialTarget.DNS),
        Rule(_v1_action(root, "icmp", policy_text), proto=Proto.ICMP),
    ]
    listed = Action.DROP if policy is Action.ACCEPT else Action.ACCEPT
    for number, element in enumerate(_children(root, "rule"), start=1):
        try:
            rules.append(Rule.from_options(_v1_options(element, listed)))
        except QubesValueError as err:
            raise _error(f"rule {number}: {err.message}") from err
    if policy is Action.ACCEPT:
        rules.append(Rule(Action.ACCEPT))
    return rules


def _v1_options(element: ET.Element, action: Action) -> dict[str, str]:
    options = {"action": str(action)}
    address = element.get("address")
    if address:
        netmask = element.get("netmask")
        # R3 left out the netmask for a single host; 0.0.0.0/0 was "any address"
        if netmask is not None and "/" not in address and not _is_name(address):
            address = f"{address}/{netmask}"
        options["dsthost"] = address
    port, toport = element.get("port"), element.get("toport")
    if port:
        options["dstports"] = f"{port}-{toport}" if toport else port
    proto = element.get("proto")
    if proto is None and port:
        proto = "tcp"  # R3 read a port without protocol as TCP
    if proto is not None and proto != "any":
        options["proto"] = proto
    expire = element.get("expire")
    if expire:
        options["expire"] = expire
    return options


def _is_name(address: str) -> bool:
    """A host name rather than an address: R3 ignored the netmask of those."""
    return ":" not in address and not set(address) <= set("0123456789.")
