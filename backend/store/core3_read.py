"""Reading qubes.xml: checks that say what is damaged and where, and older forms."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from backend.errors import StoreError
from backend.store.core3names import (
    ADMIN_CLASS,
    ADMIN_FIXED,
    ADMIN_NAME,
    ASSIGNMENT_MODES,
    CLASS_NAME,
    DOMAIN_ID,
    DOMAIN_VM_REFS,
    GLOBAL_VM_REFS,
    LABEL_ID,
    MAX_QID,
    TRUE_WORDS,
    PathLike,
    domain_name,
    find_label,
)
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord
from backend.store.xmltree import Node, XMLSyntaxError, parse

log = logging.getLogger("backend.store")


class _Damaged(Exception):
    """A problem found while reading; becomes StoreError with the file's path."""


def from_xml(data: bytes, path: PathLike) -> Core3Document:
    """Parse a qubes.xml; StoreError(path, problem) says what is wrong and where."""
    try:
        root = parse(data)
        return _read_document(root)
    except (XMLSyntaxError, _Damaged) as exc:
        raise StoreError(os.fspath(path), str(exc)) from None


def _read_document(root: Node) -> Core3Document:
    if root.tag != "qubes":
        raise _Damaged(f"root element is <{root.tag}>, expected <qubes> ({root.where()})")
    sections = {"labels", "pools", "properties", "domains"}
    found: dict[str, Node] = {}
    for child in root.children:
        if child.tag not in sections:
            _ignored(child, "<qubes>")
        elif child.tag in found:
            raise _Damaged(f"second <{child.tag}> element at {child.where()}")
        else:
            found[child.tag] = child
    labels = _read_labels(found.get("labels"))
    pools = _read_pools(found.get("pools"))
    properties = _read_properties(found.get("properties"), GLOBAL_VM_REFS, "global")
    domains = _read_domains(found.get("domains"), labels)
    names = {name for d in domains if (name := domain_name(d))} | {ADMIN_NAME}
    _check_refs(properties, GLOBAL_VM_REFS, names, "global property", found.get("properties"))
    return Core3Document(labels, pools, properties, domains)


def _ignored(node: Node, parent: str) -> None:
    log.warning(
        "qubes.xml: ignoring unknown element <%s> in %s at %s", node.tag, parent, node.where()
    )


def _children(parent: Node | None, tag: str, context: str) -> list[Node]:
    if parent is None:
        return []
    wanted = []
    for child in parent.children:
        if child.tag == tag:
            wanted.append(child)
        else:
            _ignored(child, context)
    return wanted


def _attr(node: Node, name: str, what: str) -> str:
    value = node.attrs.get(name)
    if not value:
        raise _Damaged(f"{what} without {name} attribute at {node.where()}")
    return value


def _read_labels(section: Node | None) -> tuple[LabelRecord, ...]:
    labels: list[LabelRecord] = []
    for node in _children(section, "label", "<labels>"):
        ident = _attr(node, "id", "label")
        match = LABEL_ID.match(ident)
        if not match:
            raise _Damaged(f"label id {ident!r} is not label-<number> ({node.where()})")
        color = _attr(node, "color", f"label {ident!r}")
        name = node.text
        if not name:
            raise _Damaged(f"label {ident!r} has no name ({node.where()})")
        index = int(match.group(1))
        for other in labels:
            if other.index == index or other.name == name:
                raise _Damaged(f"label {ident!r} ({name}) defined twice ({node.where()})")
        labels.append(LabelRecord(index, color, name))
    return tuple(labels)


def _read_pools(section: Node | None) -> tuple[dict[str, str], ...]:
    pools: list[dict[str, str]] = []
    for node in _children(section, "pool", "<pools>"):
        name = _attr(node, "name", "pool")
        _attr(node, "driver", f"pool {name!r}")
        if any(pool["name"] == name for pool in pools):
            raise _Damaged(f"pool {name!r} defined twice ({node.where()})")
        pools.append(dict(node.attrs))
    return tuple(pools)


def _read_properties(
    section: Node | None, vm_refs: frozenset[str], owner: str
) -> dict[str, str | None]:
    properties: dict[str, str | None] = {}
    for node in _children(section, "property", f"{owner} <properties>"):
        name = _attr(node, "name", f"{owner} property")
        if name in properties:
            raise _Damaged(f"{owner} property {name!r} set twice ({node.where()})")
        # qubesd reads `ref` first; old releases stored labels and qubes that way
        value = node.attrs.get("ref") or node.text or ""
        properties[name] = None if value == "" and name in vm_refs else value
    return properties


def _read_domains(
    section: Node | None, labels: tuple[LabelRecord, ...]
) -> tuple[DomainRecord, ...]:
    domains: list[DomainRecord] = []
    qids: dict[int, str] = {}
    names: dict[str, str] = {}
    nodes = _children(section, "domain", "<domains>")
    for node in nodes:
        domain = _read_domain(node, labels)
        name = domain_name(domain)
        if domain.qid in qids:
            raise _Damaged(f"qid {domain.qid} used twice: {qids[domain.qid]} and {node.where()}")
        if name in names:
            raise _Damaged(f"domain name {name!r} used twice: {names[name]} and {node.where()}")
        qids[domain.qid] = node.where()
        if name:
            names[name] = node.where()
        domains.append(domain)
    known = set(names) | {ADMIN_NAME}
    for node, domain in zip(nodes, domains, strict=True):
        what = f"domain {domain_name(domain)!r} property"
        _check_refs(domain.properties, DOMAIN_VM_REFS, known, what, node)
    return tuple(domains)


def _check_refs(
    properties: Mapping[str, str | None],
    vm_refs: frozenset[str],
    known: set[str],
    what: str,
    node: Node | None,
) -> None:
    for name in vm_refs & properties.keys():
        target = properties[name]
        if target is not None and target not in known:
            where = f" ({node.where()})" if node else ""
            raise _Damaged(f"{what} {name!r} names qube {target!r}, which does not exist{where}")


def _read_domain(node: Node, labels: tuple[LabelRecord, ...]) -> DomainRecord:
    klass = node.attrs.get("class")
    if not klass:
        raise _Damaged(f"domain without class attribute at {node.where()}")
    if not CLASS_NAME.match(klass):
        raise _Damaged(f"domain class {klass!r} is not a class name ({node.where()})")
    parts: dict[str, Node] = {}
    devices: dict[str, tuple[DeviceRecord, ...]] = {}
    for child in node.children:
        if child.tag == "devices":
            devclass = _attr(child, "class", "devices")
            if devclass in devices:
                raise _Damaged(f"devices class {devclass!r} listed twice ({child.where()})")
            devices[devclass] = tuple(
                _read_device(d) for d in _children(child, "device", "<devices>")
            )
        elif child.tag in ("properties", "features", "tags", "volume-config"):
            if child.tag in parts:
                raise _Damaged(f"second <{child.tag}> in a domain at {child.where()}")
            parts[child.tag] = child
        else:
            _ignored(child, "<domain>")
    properties = _read_properties(
        parts.get("properties"), DOMAIN_VM_REFS, f"domain at {node.where()}:"
    )
    qid = _read_qid(node, klass, properties)
    if klass == ADMIN_CLASS:
        for name, fixed in ADMIN_FIXED.items():
            if properties.get(name, fixed) != fixed:
                raise _Damaged(f"the AdminVM's {name} can only be {fixed!r} ({node.where()})")
        properties.setdefault("name", ADMIN_NAME)  # what upstream reads for dom0
    elif not properties.get("name"):
        raise _Damaged(f"domain {qid} ({klass}) has no name property ({node.where()})")
    label = properties.get("label")
    if label is not None and find_label(labels, label) is None:
        raise _Damaged(f"domain {qid} label {label!r} is not defined in <labels> ({node.where()})")
    return DomainRecord(
        qid=qid,
        klass=klass,
        properties=properties,
        features=_read_named(parts.get("features"), "feature", f"domain {qid}", "<features>"),
        tags=tuple(
            dict.fromkeys(
                _attr(t, "name", "tag") for t in _children(parts.get("tags"), "tag", "<tags>")
            )
        ),
        devices=devices,
        volume_config=_read_volumes(parts.get("volume-config"), qid),
    )


def _read_qid(node: Node, klass: str, properties: dict[str, str | None]) -> int:
    text = properties.pop("qid", None)
    ident = node.attrs.get("id")
    id_match = DOMAIN_ID.match(ident) if ident else None
    if ident is not None and id_match is None:
        raise _Damaged(f"domain id {ident!r} is not domain-<number> ({node.where()})")
    if klass == ADMIN_CLASS and text is None:
        text = "0"
    if text is None:
        if ident is None:
            raise _Damaged(f"domain without qid ({node.where()})")
        raise _Damaged(f"domain {ident!r} has no qid property ({node.where()})")
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= MAX_QID:
        raise _Damaged(f"bad qid {text!r}: not a number from 0 to {MAX_QID} ({node.where()})")
    qid = int(text)
    if id_match is not None and int(id_match.group(1)) != qid:
        raise _Damaged(f"domain id {ident!r} does not match its qid {qid} ({node.where()})")
    if (klass == ADMIN_CLASS) != (qid == 0):
        raise _Damaged(
            f"qid 0 belongs to the AdminVM, not to this {klass} ({node.where()})"
            if qid == 0
            else f"the AdminVM must have qid 0 ({node.where()})"
        )
    return qid


def _read_named(section: Node | None, tag: str, owner: str, context: str) -> dict[str, str]:
    """``<tag name=…>text</tag>`` children as a dict; an empty element is ``""``."""
    values: dict[str, str] = {}
    for node in _children(section, tag, context):
        name = _attr(node, "name", tag)
        if name in values:
            raise _Damaged(f"{owner}: {tag} {name!r} set twice ({node.where()})")
        values[name] = node.text or ""
    return values


def _read_device(node: Node) -> DeviceRecord:
    backend = _attr(node, "backend-domain", "device")
    port = _attr(node, "id", "device")
    mode = node.attrs.get("mode")
    if mode is None:  # before R4.3: required="yes|no", absent meaning required
        mode = (
            "required" if node.attrs.get("required", "yes").lower() in TRUE_WORDS else "auto-attach"
        )
    if mode not in ASSIGNMENT_MODES:
        raise _Damaged(f"device {backend}:{port} has unknown mode {mode!r} ({node.where()})")
    options = _read_named(node, "option", f"device {backend}:{port}", "<device>")
    return DeviceRecord(backend, port, node.attrs.get("identity") or "*", mode, options)


def _read_volumes(section: Node | None, qid: int) -> dict[str, dict[str, str]]:
    volumes: dict[str, dict[str, str]] = {}
    for node in _children(section, "volume", "<volume-config>"):
        name = _attr(node, "name", "volume")
        if name in volumes:
            raise _Damaged(f"domain {qid}: volume {name!r} configured twice ({node.where()})")
        volumes[name] = dict(node.attrs)
    return volumes
