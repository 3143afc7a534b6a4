"""The model round-trips through a Core3Document; bad documents name the problem."""

from __future__ import annotations

import dataclasses

import pytest

from backend.errors import QubesValueError
from backend.model.app import Qubes
from backend.model.persist import from_document, to_document
from backend.model.vm import DeviceAssignment


def test_round_trip_keeps_everything(app: Qubes) -> None:
    work = app.domains["work"]
    work.set("vcpus", 3)
    work.set("netvm", None)
    work.features.set("service.cups", "")
    work.tags.add("project-x")
    work.devices["usb"] = [DeviceAssignment("sys-usb", "2-1", "1234:5678", "auto-attach",
                                            {"read-only": "yes"})]
    work.volume_config["private"] = {"name": "private", "pool": "varlibqubes", "size": "100"}
    app.labels.add("teal", "0x008080")
    app.create_dispvm(app.domains["default-dvm"], auto_cleanup=False)
    doc = to_document(app)
    loaded = from_document(doc, host=app.host, kernels={"6.6.1": app.kernel_info("6.6.1")})
    assert to_document(loaded) == doc
    again = loaded.domains["work"]
    assert again.get("vcpus") == 3 and again.netvm is None and not again.is_default("netvm")
    assert again.template is loaded.domains["fedora"]
    assert loaded.globals.get("default_netvm") is loaded.domains["sys-firewall"]
    assert loaded.labels.get("teal").index == 9


def test_explicit_none_is_stored_as_none(app: Qubes) -> None:
    doc = to_document(app)
    vault = next(d for d in doc.domains if d.properties.get("name") == "vault")
    assert "netvm" in vault.properties and vault.properties["netvm"] is None


def test_labels_are_stored_as_label_references(app: Qubes) -> None:
    doc = to_document(app)
    work = next(d for d in doc.domains if d.properties.get("name") == "work")
    assert work.properties["label"] == "label-6"


def test_unknown_class_is_refused_with_its_place(app: Qubes) -> None:
    doc = to_document(app)
    bad = dataclasses.replace(doc.domains[3], klass="WeirdVM")
    doc = dataclasses.replace(doc, domains=(*doc.domains[:3], bad, *doc.domains[4:]))
    with pytest.raises(QubesValueError, match="WeirdVM"):
        from_document(doc)


def test_reference_to_a_missing_qube_is_refused_with_its_place(app: Qubes) -> None:
    doc = to_document(app)
    records = list(doc.domains)
    idx = next(i for i, d in enumerate(records) if d.properties.get("name") == "work")
    records[idx] = dataclasses.replace(
        records[idx], properties={**records[idx].properties, "netvm": "ghost"}
    )
    with pytest.raises(QubesValueError, match="work: property netvm"):
        from_document(dataclasses.replace(doc, domains=tuple(records)))


def test_duplicate_names_are_refused(app: Qubes) -> None:
    doc = to_document(app)
    dup = dataclasses.replace(doc.domains[-1], qid=999)
    with pytest.raises(QubesValueError, match="duplicate"):
        from_document(dataclasses.replace(doc, domains=(*doc.domains, dup)))
