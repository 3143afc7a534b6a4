"""The upstream core3 ``qubes.xml`` format: :class:`Core3Document` to bytes and back.

Shape, as qubesd writes it (``Qubes.__xml__``, lxml ``pretty_print``, no declaration)::

    <qubes>
      <labels><label id="label-N" color="0xRRGGBB">name</label>…</labels>
      <pools><pool driver=… name=… (config attributes)/>…</pools>
      <properties><property name=…>value</property>…</properties>   (global, explicit)
      <domains>
        <domain id="domain-<qid>" class="<Class>">
          <properties> … qid (not for AdminVM), name, label = "label-N", VM refs by name,
                       an empty element for a None VM reference … </properties>
          <features><feature name=…>value</feature>…</features>
          <devices class=…><device backend-domain=… id=<port> mode=… identity=<dev id>>
            <option name=…>value</option></device></devices>     (one per device class)
          <tags><tag name=…/>…</tags>
          <volume-config><volume name=… pool=… vid=… …/>…</volume-config>  (not AdminVM)
        </domain>
      </domains>
    </qubes>

Reading also accepts what older qubesd releases wrote: a ``ref=`` attribute instead of
the property text, the root ``version`` attribute, devices without ``mode``/``identity``
(the legacy ``required`` attribute decides the mode). Unknown elements are ignored
with a warning, as qubesd ignores them: they would be dropped by its next save too, and
writing back opaque fragments that nothing here understands could resurrect stale data
(for instance about a qube that was removed meanwhile). Everything inside the known
containers is kept, whatever its name: unknown properties, features, pool and volume
attributes all travel through unchanged.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from backend.errors import StoreError
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord
from backend.store.xmltree import Node, Writer, XMLSyntaxError, parse

log = logging.getLogger("backend.store")

#: Domain properties that reference another qube (stored by name, None as empty text).
DOMAIN_VM_REFS = frozenset(
    {"template", "netvm", "guivm", "audiovm", "default_dispvm", "management_dispvm",
     "relayvm"}
)
#: Global properties that reference a qube.
GLOBAL_VM_REFS = frozenset(
    {"default_template", "default_netvm", "default_guivm", "default_audiovm",
     "default_dispvm", "management_dispvm", "updatevm", "clockvm"}
)
#: Domain properties qubesd loads in its stage 4, after every qube exists; it writes
#: properties sorted by (stage, name), and so do we.
_STAGE4 = frozenset(
    {"template", "netvm", "guivm", "audiovm", "default_dispvm", "management_dispvm",
     "kernelopts", "bootmode", "appvm_default_bootmode"}
)
ASSIGNMENT_MODES = ("required", "ask-to-attach", "auto-attach")
MAX_QID = 10000
ADMIN_CLASS = "AdminVM"
ADMIN_NAME = "dom0"

_LABEL_ID = re.compile(r"label-(\d+)\Z")
_DOMAIN_ID = re.compile(r"domain-(\d+)\Z")
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TRUE = frozenset({"1", "yes", "true", "on"})

PathLike = str | os.PathLike[str]
_T = TypeVar("_T")


def label_ref(index: int) -> str:
    """The value of a ``label`` property naming the label with this index."""
    return f"label-{index}"


def find_label(labels: Iterable[LabelRecord], ref: str) -> LabelRecord | None:
    """Resolve a ``label`` property value as qubesd does: ``label-N``, index or name."""
    labels = tuple(labels)
    match = _LABEL_ID.match(ref)
    index = match.group(1) if match else ref
    if index.isdigit():
        found = next((label for label in labels if label.index == int(index)), None)
        if found is not None:
            return found
    return next((label for label in labels if label.name == ref), None)


def domain_name(domain: DomainRecord) -> str | None:
    if domain.klass == ADMIN_CLASS:
        return domain.properties.get("name") or ADMIN_NAME
    return domain.properties.get("name")


# ---------------------------------------------------------------------------- writing


def to_xml(doc: Core3Document) -> bytes:
    """Serialise ``doc`` as qubesd would; ValueError if it cannot be stored faithfully."""
    out = Writer()
    out.start("qubes", [])
    _container(out, "labels", [], doc.labels, _write_label)
    _container(out, "pools", [], doc.pools, _write_pool)
    _write_properties(out, doc.properties, GLOBAL_VM_REFS, lambda name: (3, name))
    _container(out, "domains", [], doc.domains, _write_domain)
    out.end("qubes")
    return out.getvalue()


def _container(out: Writer, tag: str, attrs: list[tuple[str, str]], items: Iterable[_T],
               write_item: Callable[[Writer, _T], None]) -> None:
    """``<tag>items…</tag>``, or ``<tag/>`` when there are none (as lxml writes it)."""
    listed = list(items)
    if not listed:
        out.leaf(tag, attrs)
        return
    out.start(tag, attrs)
    for item in listed:
        write_item(out, item)
    out.end(tag)


def _write_label(out: Writer, label: LabelRecord) -> None:
    out.leaf("label", [("id", label_ref(label.index)), ("color", label.color)], label.name)


def _write_pool(out: Writer, pool: Mapping[str, str]) -> None:
    for required in ("name", "driver"):
        if not pool.get(required):
            raise ValueError(f"pool {dict(pool)!r} has no {required}")
    out.leaf("pool", sorted(pool.items()))


def _write_properties(out: Writer, properties: Mapping[str, str | None],
                      vm_refs: frozenset[str], order: Callable[[str], Any],
                      first: list[tuple[str, str]] | None = None) -> None:
    entries: list[tuple[str, str]] = list(first or [])
    for name, value in properties.items():
        if value is None:
            if name not in vm_refs:
                raise ValueError(f"property {name!r} is None but is not a VM reference")
            value = ""
        entries.append((name, value))
    entries.sort(key=lambda entry: order(entry[0]))
    _container(out, "properties", [], entries,
               lambda o, e: o.leaf("property", [("name", e[0])], e[1]))


def _domain_order(name: str) -> tuple[int, str]:
    return (4 if name in _STAGE4 else 2, name)


def _write_domain(out: Writer, domain: DomainRecord) -> None:
    if "qid" in domain.properties:
        raise ValueError(f"domain {domain.qid}: qid belongs in DomainRecord.qid")
    if not _CLASS.match(domain.klass):
        raise ValueError(f"domain {domain.qid}: bad class {domain.klass!r}")
    admin = domain.klass == ADMIN_CLASS
    if admin and domain.qid != 0:
        raise ValueError(f"AdminVM must have qid 0, not {domain.qid}")
    out.start("domain", [("id", f"domain-{domain.qid}"), ("class", domain.klass)])
    first = [] if admin else [("qid", str(domain.qid))]
    _write_properties(out, domain.properties, DOMAIN_VM_REFS, _domain_order, first)
    _container(out, "features", [], domain.features.items(),
               lambda o, f: o.leaf("feature", [("name", f[0])], f[1]))
    for devclass, devices in domain.devices.items():
        _container(out, "devices", [("class", devclass)], devices, _write_device)
    _container(out, "tags", [], domain.tags, lambda o, t: o.leaf("tag", [("name", t)]))
    if not admin or domain.volume_config:
        _container(out, "volume-config", [], domain.volume_config.items(), _write_volume)
    out.end("domain")


def _write_device(out: Writer, device: DeviceRecord) -> None:
    if device.mode not in ASSIGNMENT_MODES:
        raise ValueError(f"device {device.port_id!r}: mode {device.mode!r} is not persistent")
    attrs = [("backend-domain", device.backend_domain), ("id", device.port_id),
             ("mode", device.mode), ("identity", device.device_id)]
    _container(out, "device", attrs, device.options.items(),
               lambda o, opt: o.leaf("option", [("name", opt[0])], opt[1]))


def _write_volume(out: Writer, item: tuple[str, Mapping[str, str]]) -> None:
    name, config = item
    if "name" in config:
        raise ValueError(f"volume {name!r}: the name is the key, not a config attribute")
    out.leaf("volume", sorted([("name", name), *config.items()]))


# ---------------------------------------------------------------------------- reading


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
    log.warning("qubes.xml: ignoring unknown element <%s> in %s at %s",
                node.tag, parent, node.where())


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
        match = _LABEL_ID.match(ident)
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


def _read_properties(section: Node | None, vm_refs: frozenset[str],
                     owner: str) -> dict[str, str | None]:
    properties: dict[str, str | None] = {}
    for node in _children(section, "property", f"{owner} <properties>"):
        name = _attr(node, "name", f"{owner} property")
        if name in properties:
            raise _Damaged(f"{owner} property {name!r} set twice ({node.where()})")
        # qubesd reads `ref` first; old releases stored labels and qubes that way
        value = node.attrs.get("ref") or node.text or ""
        properties[name] = None if value == "" and name in vm_refs else value
    return properties


def _read_domains(section: Node | None, labels: tuple[LabelRecord, ...]) -> tuple[DomainRecord, ...]:
    domains: list[DomainRecord] = []
    qids: dict[int, str] = {}
    names: dict[str, str] = {}
    nodes = _children(section, "domain", "<domains>")
    for node in nodes:
        domain = _read_domain(node, labels)
        name = domain_name(domain)
        if domain.qid in qids:
            raise _Damaged(f"qid {domain.qid} used twice: {qids[domain.qid]} "
                           f"and {node.where()}")
        if name in names:
            raise _Damaged(f"domain name {name!r} used twice: {names[name]} "
                           f"and {node.where()}")
        qids[domain.qid] = node.where()
        if name:
            names[name] = node.where()
        domains.append(domain)
    known = set(names) | {ADMIN_NAME}
    for node, domain in zip(nodes, domains, strict=True):
        what = f"domain {domain_name(domain)!r} property"
        _check_refs(domain.properties, DOMAIN_VM_REFS, known, what, node)
    return tuple(domains)


def _check_refs(properties: Mapping[str, str | None], vm_refs: frozenset[str],
                known: set[str], what: str, node: Node | None) -> None:
    for name in vm_refs & properties.keys():
        target = properties[name]
        if target is not None and target not in known:
            where = f" ({node.where()})" if node else ""
            raise _Damaged(f"{what} {name!r} names qube {target!r}, which does not exist"
                           f"{where}")


def _read_domain(node: Node, labels: tuple[LabelRecord, ...]) -> DomainRecord:
    klass = node.attrs.get("class")
    if not klass:
        raise _Damaged(f"domain without class attribute at {node.where()}")
    if not _CLASS.match(klass):
        raise _Damaged(f"domain class {klass!r} is not a class name ({node.where()})")
    parts: dict[str, Node] = {}
    devices: dict[str, tuple[DeviceRecord, ...]] = {}
    for child in node.children:
        if child.tag == "devices":
            devclass = _attr(child, "class", "devices")
            if devclass in devices:
                raise _Damaged(f"devices class {devclass!r} listed twice ({child.where()})")
            devices[devclass] = tuple(_read_device(d) for d in _children(child, "device",
                                                                          "<devices>"))
        elif child.tag in ("properties", "features", "tags", "volume-config"):
            if child.tag in parts:
                raise _Damaged(f"second <{child.tag}> in a domain at {child.where()}")
            parts[child.tag] = child
        else:
            _ignored(child, "<domain>")
    properties = _read_properties(parts.get("properties"), DOMAIN_VM_REFS,
                                  f"domain at {node.where()}:")
    qid = _read_qid(node, klass, properties)
    if klass != ADMIN_CLASS and not properties.get("name"):
        raise _Damaged(f"domain {qid} ({klass}) has no name property ({node.where()})")
    label = properties.get("label")
    if label is not None and find_label(labels, label) is None:
        raise _Damaged(f"domain {qid} label {label!r} is not defined in <labels> "
                       f"({node.where()})")
    return DomainRecord(
        qid=qid,
        klass=klass,
        properties=properties,
        features=_read_named(parts.get("features"), "feature", f"domain {qid}"),
        tags=tuple(dict.fromkeys(_attr(t, "name", "tag") for t in _children(
            parts.get("tags"), "tag", "<tags>"))),
        devices=devices,
        volume_config=_read_volumes(parts.get("volume-config"), qid),
    )


def _read_qid(node: Node, klass: str, properties: dict[str, str | None]) -> int:
    text = properties.pop("qid", None)
    ident = node.attrs.get("id")
    id_match = _DOMAIN_ID.match(ident) if ident else None
    if ident is not None and id_match is None:
        raise _Damaged(f"domain id {ident!r} is not domain-<number> ({node.where()})")
    if klass == ADMIN_CLASS and text is None:
        text = "0"
    if text is None:
        if ident is None:
            raise _Damaged(f"domain without qid ({node.where()})")
        raise _Damaged(f"domain {ident!r} has no qid property ({node.where()})")
    if not text.isdigit() or not 0 <= int(text) <= MAX_QID:
        raise _Damaged(f"bad qid {text!r}: not a number from 0 to {MAX_QID} ({node.where()})")
    qid = int(text)
    if id_match is not None and int(id_match.group(1)) != qid:
        raise _Damaged(f"domain id {ident!r} does not match its qid {qid} ({node.where()})")
    if (klass == ADMIN_CLASS) != (qid == 0):
        raise _Damaged(f"qid 0 belongs to the AdminVM, not to a {klass} ({node.where()})"
                       if qid == 0 else f"the AdminVM must have qid 0 ({node.where()})")
    return qid


def _read_named(section: Node | None, tag: str, owner: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for node in _children(section, tag, f"<{tag}s>"):
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
        mode = "required" if node.attrs.get("required", "yes").lower() in _TRUE \
            else "auto-attach"
    if mode not in ASSIGNMENT_MODES:
        raise _Damaged(f"device {backend}:{port} has unknown mode {mode!r} ({node.where()})")
    options = _read_named(node, "option", f"device {backend}:{port}")
    return DeviceRecord(backend, port, node.attrs.get("identity") or "*", mode, options)


def _read_volumes(section: Node | None, qid: int) -> dict[str, dict[str, str]]:
    volumes: dict[str, dict[str, str]] = {}
    for node in _children(section, "volume", "<volume-config>"):
        name = _attr(node, "name", "volume")
        if name in volumes:
            raise _Damaged(f"domain {qid}: volume {name!r} configured twice ({node.where()})")
        volumes[name] = {key: value for key, value in node.attrs.items() if key != "name"}
    return volumes
