"""qubes.xml in the upstream core3 format: shape, round trips and damaged files."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from hypothesis import given, settings
from store_samples import documents, sample_bytes, small_document

from backend.errors import StoreError
from backend.store.core3 import find_label, from_xml, to_xml
from backend.store.document import Core3Document, DeviceRecord, DomainRecord


def by_name(doc: Core3Document, name: str) -> DomainRecord:
    return next(d for d in doc.domains if d.properties.get("name") == name)


def test_sample_is_written_back_byte_for_byte() -> None:
    data = sample_bytes()
    doc = from_xml(data, "qubes.xml")
    assert to_xml(doc) == data
    assert from_xml(to_xml(doc), "qubes.xml") == doc


def test_sample_reads_labels_pools_and_global_properties() -> None:
    doc = from_xml(sample_bytes(), "qubes.xml")
    assert [label.name for label in doc.labels][-1] == "teal"
    assert doc.labels[-1].index == 9 and doc.labels[-1].color == "0x008080"
    assert {pool["driver"] for pool in doc.pools} == {
        "file-reflink",
        "linux-kernel",
        "lvm_thin",
        "file",
    }
    assert doc.pools[2] == {
        "driver": "lvm_thin",
        "name": "vm-pool",
        "revisions_to_keep": "2",
        "thin_pool": "vm-pool",
        "volume_group": "qubes_dom0",
    }
    assert doc.properties["management_dispvm"] is None  # explicit empty VM reference
    assert doc.properties["default_netvm"] == "sys-firewall"
    assert doc.properties["check_updates_vm"] == "False"


def test_sample_reads_each_class_of_domain() -> None:
    doc = from_xml(sample_bytes(), "qubes.xml")
    assert [d.klass for d in doc.domains] == [
        "AdminVM",
        "TemplateVM",
        "AppVM",
        "AppVM",
        "AppVM",
        "AppVM",
        "AppVM",
        "DispVM",
        "StandaloneVM",
    ]
    dom0 = doc.domains[0]
    assert dom0.qid == 0 and "qid" not in dom0.properties
    assert dom0.properties["name"] == "dom0"  # fixed upstream, absent from the file
    template = by_name(doc, "fedora-40-xfce")
    assert template.qid == 1 and "qid" not in template.properties
    assert template.properties["kernel"] == ""  # empty string, not None: not a VM ref
    assert template.features["updates-available"] == ""
    work = by_name(doc, "work")
    assert work.properties["label"] == "label-9"
    assert find_label(doc.labels, work.properties["label"] or "") == doc.labels[-1]
    assert work.properties["netvm"] == "sys-firewall"
    assert work.features['note & <odd> "name"'] == "a<b>c & d"
    disp = by_name(doc, "disp1234")
    assert disp.properties["netvm"] is None and disp.properties["template"] == "default-dvm"
    assert disp.volume_config["root"]["source"] == "qubes_dom0/vm-fedora-40-xfce-root"
    assert disp.volume_config["root"]["name"] == "root"
    assert disp.tags == ("created-by-work", "disp-created-by-work")


def test_sample_reads_devices_with_modes_and_options() -> None:
    doc = from_xml(sample_bytes(), "qubes.xml")
    net = by_name(doc, "sys-net")
    assert net.devices["pci"][0] == DeviceRecord(
        "dom0",
        "00_14.3",
        "0x8086:0xa0f0::p028000",
        "required",
        {"no-strict-reset": "True", "permissive": "True"},
    )
    assert net.devices["block"] == ()
    work = by_name(doc, "work")
    assert work.devices["block"][0].mode == "ask-to-attach"
    assert work.devices["block"][0].options == {"frontend-dev": "xvdi", "read-only": "yes"}
    assert work.devices["usb"][0].port_id == "*"
    assert list(work.devices) == ["block", "usb", "mic"]


def test_output_is_readable_the_way_the_official_restore_reads_it() -> None:
    # The restore tool parses with lxml and looks up labels by id, properties by name.
    from lxml import etree
    root = etree.fromstring(to_xml(from_xml(sample_bytes(), "qubes.xml")))
    assert root.tag == "qubes"
    labels = {}
    for node in root.find("labels").findall("label"):
        labels[node.get("id")] = labels[node.text] = node.text
    assert root.find("properties") is not None
    seen = {}
    for dom in root.findall("./domains/domain"):
        props = {p.get("name"): p.text for p in dom.findall("./properties/property")}
        name = "dom0" if dom.get("class") == "AdminVM" else props["name"]
        seen[name] = labels[props["label"]]
    assert seen["dom0"] == "black" and seen["work"] == "teal" and len(seen) == 9


@settings(max_examples=300, deadline=None)
@given(documents())
def test_generated_documents_round_trip(doc: Core3Document) -> None:
    data = to_xml(doc)
    assert from_xml(data, "qubes.xml") == doc
    assert to_xml(from_xml(data, "qubes.xml")) == data


def model_style(domain: DomainRecord) -> DomainRecord:
    """What the model hands over: every value it holds, fixed ones included."""
    fixed = {"qid": str(domain.qid)}
    if domain.klass == "AdminVM":
        fixed["uuid"] = "00000000-0000-0000-0000-000000000000"
    return dataclasses.replace(domain, properties={**domain.properties, **fixed})


def test_fixed_values_in_records_are_written_as_qubesd_writes_them() -> None:
    doc = from_xml(sample_bytes(), "qubes.xml")
    doc = dataclasses.replace(doc, domains=tuple(model_style(d) for d in doc.domains))
    assert to_xml(doc) == sample_bytes()


@pytest.mark.parametrize(
    "index, properties, problem",
    [
        (0, {"name": "admin"}, "name must be 'dom0'"),
        (0, {"uuid": "8c1e0f2a-5d4b-4f6e-9a3c-2b7d1e0f4a5b"}, "uuid must be"),
        (1, {"qid": "2"}, "qid must be '1'"),
    ],
)
def test_contradicting_fixed_values_are_refused(
    index: int, properties: dict[str, str], problem: str
) -> None:
    doc = small_document()
    changed = dataclasses.replace(
        doc.domains[index], properties={**doc.domains[index].properties, **properties}
    )
    domains = list(doc.domains)
    domains[index] = changed
    with pytest.raises(ValueError, match=problem):
        to_xml(dataclasses.replace(doc, domains=tuple(domains)))


def test_volume_name_must_match_its_key() -> None:
    doc = small_document()
    work = dataclasses.replace(doc.domains[1], volume_config={"root": {"name": "private"}})
    with pytest.raises(ValueError, match="volume 'root'"):
        to_xml(dataclasses.replace(doc, domains=(doc.domains[0], work)))


def test_sample_goes_through_the_model_and_back() -> None:
    # The contract with backend.model.persist: what we read, it loads; what it
    # hands back, we write, and it reads the same.
    persist = pytest.importorskip("backend.model.persist")
    doc = from_xml(sample_bytes(), "qubes.xml")
    again = persist.to_document(persist.from_document(doc))
    assert from_xml(to_xml(again), "qubes.xml") == doc


def test_none_on_an_ordinary_property_is_refused_rather_than_lost() -> None:
    doc = small_document()
    work = dataclasses.replace(doc.domains[1], properties={"name": "work", "kernel": None})
    with pytest.raises(ValueError, match="kernel"):
        to_xml(dataclasses.replace(doc, domains=(doc.domains[0], work)))


def test_character_xml_cannot_carry_is_refused() -> None:
    doc = small_document()
    with pytest.raises(ValueError, match="cannot be stored"):
        to_xml(dataclasses.replace(doc, properties={"default_kernel": "a\x01b"}))


def test_older_forms_are_read() -> None:
    data = b"""<?xml version="1.0" encoding="utf-8" ?>
<qubes version="3.0">
  <labels><label id="label-1" color="0xcc0000">red</label></labels>
  <domains>
    <domain id="domain-1" class="AppVM">
      <properties>
        <property name="qid">1</property>
        <property name="name">old</property>
        <property name="label" ref="label-1"/>
      </properties>
      <devices class="pci">
        <device backend-domain="dom0" id="00_1f.0"/>
        <device backend-domain="dom0" id="00_1f.1" required="no"/>
      </devices>
    </domain>
  </domains>
</qubes>"""
    doc = from_xml(data, "qubes.xml")
    old = doc.domains[0]
    assert old.properties["label"] == "label-1"
    assert [(d.device_id, d.mode) for d in old.devices["pci"]] == [
        ("*", "required"),
        ("*", "auto-attach"),
    ]


def test_unknown_elements_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = sample_bytes().replace(b"<tags/>", b"<tags/><firewall><rule/></firewall>", 1)
    with caplog.at_level(logging.WARNING, "backend.store"):
        doc = from_xml(data, "qubes.xml")
    assert doc == from_xml(sample_bytes(), "qubes.xml")
    assert "<firewall>" in caplog.text


LABELS = b'<labels><label id="label-1" color="0xcc0000">red</label></labels>'


def appvm(qid: str, name: str = "a", extra: bytes = b"", attrs: bytes = b"") -> bytes:
    return (
        b'<domain class="AppVM"' + attrs + b"><properties>"
        b'<property name="qid">' + qid.encode() + b"</property>"
        b'<property name="name">' + name.encode() + b"</property>"
        b'<property name="label">label-1</property>' + extra + b"</properties></domain>"
    )


def qubes(*domains: bytes, labels: bytes = LABELS) -> bytes:
    return b"<qubes>" + labels + b"<domains>" + b"".join(domains) + b"</domains></qubes>"


DAMAGED = {
    "truncated": (sample_bytes()[:2000], "not well-formed XML: unclosed token at line"),
    "empty": (b"", "not well-formed XML: no element found at line 1, column 1"),
    "garbage": (b"\x00\xff garbage {", "not well-formed XML"),
    "wrong root": (b"<domain/>", "root element is <domain>, expected <qubes>"),
    "doctype": (b'<!DOCTYPE qubes [<!ENTITY a "aaaa">]><qubes>&a;</qubes>', "<!DOCTYPE"),
    "external entity": (b'<!DOCTYPE q SYSTEM "file:///etc/passwd"><qubes/>', "<!DOCTYPE"),
    "undefined entity": (b"<qubes>&lol;</qubes>", "undefined entity at line 1"),
    "duplicate qid": (qubes(appvm("3", "a"), appvm("3", "b")), "qid 3 used twice"),
    "duplicate name": (qubes(appvm("3", "a"), appvm("4", "a")), "name 'a' used twice"),
    "domain without class": (
        b"<qubes><domains><domain/></domains></qubes>",
        "domain without class attribute at line 1",
    ),
    "bad qid": (qubes(appvm("x1")), "bad qid 'x1'"),
    "qid in other digits": (qubes(appvm("\u0663")), "bad qid '\u0663'"),
    "qid out of range": (qubes(appvm("10001")), "bad qid '10001'"),
    "missing qid": (
        b'<qubes><domains><domain class="AppVM" id="domain-4"/></domains></qubes>',
        "domain 'domain-4' has no qid",
    ),
    "id and qid disagree": (
        qubes(appvm("3", attrs=b' id="domain-4"')),
        "'domain-4' does not match its qid 3",
    ),
    "appvm with qid 0": (qubes(appvm("0")), "qid 0 belongs to the AdminVM"),
    "dom0 renamed": (
        b'<qubes><domains><domain class="AdminVM"><properties>'
        b'<property name="name">root</property></properties></domain>'
        b"</domains></qubes>",
        "the AdminVM's name can only be 'dom0'",
    ),
    "domain without name": (
        b'<qubes><domains><domain class="AppVM"><properties>'
        b'<property name="qid">2</property></properties></domain>'
        b"</domains></qubes>",
        "domain 2 (AppVM) has no name",
    ),
    "label without id": (
        qubes(labels=b'<labels><label color="0x000000">x</label></labels>'),
        "label without id attribute at line 1",
    ),
    "label id malformed": (
        qubes(labels=b'<labels><label id="red" color="0x1">r</label></labels>'),
        "label id 'red' is not label-<number>",
    ),
    "label twice": (qubes(labels=LABELS + LABELS), "second <labels> element"),
    "label index twice": (
        qubes(labels=b"<labels>" + LABELS[8:-9] + LABELS[8:-9] + b"</labels>"),
        "label 'label-1' (red) defined twice",
    ),
    "undefined label": (
        qubes(appvm("3").replace(b"label-1<", b"label-7<")),
        "label 'label-7' is not defined",
    ),
    "dangling vm reference": (
        qubes(appvm("3", extra=b'<property name="netvm">gone</property>')),
        "'netvm' names qube 'gone', which does not exist",
    ),
    "property twice": (
        qubes(appvm("3", extra=b'<property name="name">b</property>')),
        "property 'name' set twice",
    ),
    "pool without driver": (
        b'<qubes><pools><pool name="p"/></pools></qubes>',
        "pool 'p' without driver attribute",
    ),
    "unknown device mode": (
        qubes(
            appvm("3").replace(
                b"</domain>",
                b'<devices class="pci"><device backend-domain="dom0" id="1" '
                b'mode="manual"/></devices></domain>',
            )
        ),
        "unknown mode 'manual'",
    ),
}


@pytest.mark.parametrize("data, problem", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_document_is_refused_naming_file_and_problem(data: bytes, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        from_xml(data, "/var/lib/qubes/qubes.xml")
    assert caught.value.path == "/var/lib/qubes/qubes.xml"
    assert problem in caught.value.problem
    assert str(caught.value).startswith("/var/lib/qubes/qubes.xml: ")
