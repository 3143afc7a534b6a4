"""Writing qubes.xml: a :class:`Core3Document` as qubesd's lxml ``pretty_print`` writes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from backend.store.core3names import (
    ADMIN_CLASS,
    ADMIN_FIXED,
    ASSIGNMENT_MODES,
    CLASS_NAME,
    DOMAIN_VM_REFS,
    GLOBAL_VM_REFS,
    STAGE4,
    label_ref,
)
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord
from backend.store.xmltree import Writer

_T = TypeVar("_T")


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


def _container(
    out: Writer,
    tag: str,
    attrs: list[tuple[str, str]],
    items: Iterable[_T],
    write_item: Callable[[Writer, _T], None],
) -> None:
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


def _write_properties(
    out: Writer,
    properties: Mapping[str, str | None],
    vm_refs: frozenset[str],
    order: Callable[[str], Any],
    first: list[tuple[str, str]] | None = None,
) -> None:
    entries: list[tuple[str, str]] = list(first or [])
    for name, value in properties.items():
        if value is None:
            if name not in vm_refs:
                raise ValueError(f"property {name!r} is None but is not a VM reference")
            value = ""
        entries.append((name, value))
    entries.sort(key=lambda entry: order(entry[0]))
    _container(
        out, "properties", [], entries, lambda o, e: o.leaf("property", [("name", e[0])], e[1])
    )


def _domain_order(name: str) -> tuple[int, str]:
    return (4 if name in STAGE4 else 2, name)


def _write_domain(out: Writer, domain: DomainRecord) -> None:
    if not CLASS_NAME.match(domain.klass):
        raise ValueError(f"domain {domain.qid}: bad class {domain.klass!r}")
    admin = domain.klass == ADMIN_CLASS
    if admin and domain.qid != 0:
        raise ValueError(f"AdminVM must have qid 0, not {domain.qid}")
    properties = _stored_properties(domain)
    out.start("domain", [("id", f"domain-{domain.qid}"), ("class", domain.klass)])
    first = [] if admin else [("qid", str(domain.qid))]
    _write_properties(out, properties, DOMAIN_VM_REFS, _domain_order, first)
    _container(
        out,
        "features",
        [],
        domain.features.items(),
        lambda o, f: o.leaf("feature", [("name", f[0])], f[1]),
    )
    for devclass, devices in domain.devices.items():
        _container(out, "devices", [("class", devclass)], devices, _write_device)
    _container(out, "tags", [], domain.tags, lambda o, t: o.leaf("tag", [("name", t)]))
    if not admin or domain.volume_config:
        _container(out, "volume-config", [], domain.volume_config.items(), _write_volume)
    out.end("domain")


def _stored_properties(domain: DomainRecord) -> dict[str, str | None]:
    """The properties qubesd would write: qid comes from the record, and dom0's fixed
    name, qid and uuid are never written (qubesd refuses to load them)."""
    fixed = ADMIN_FIXED if domain.klass == ADMIN_CLASS else {"qid": str(domain.qid)}
    properties = dict(domain.properties)
    for name, value in fixed.items():
        if name in properties and properties.pop(name) != value:
            raise ValueError(
                f"domain {domain.qid} ({domain.klass}): {name} must be {value!r}, "
                f"not {domain.properties[name]!r}"
            )
    return properties


def _write_device(out: Writer, device: DeviceRecord) -> None:
    if device.mode not in ASSIGNMENT_MODES:
        raise ValueError(f"device {device.port_id!r}: mode {device.mode!r} is not persistent")
    attrs = [
        ("backend-domain", device.backend_domain),
        ("id", device.port_id),
        ("mode", device.mode),
        ("identity", device.device_id),
    ]
    _container(
        out,
        "device",
        attrs,
        device.options.items(),
        lambda o, opt: o.leaf("option", [("name", opt[0])], opt[1]),
    )


def _write_volume(out: Writer, item: tuple[str, Mapping[str, str]]) -> None:
    name, config = item
    if config.get("name", name) != name:
        raise ValueError(f"volume {name!r} has the name attribute {config['name']!r}")
    out.leaf("volume", sorted({**config, "name": name}.items()))
