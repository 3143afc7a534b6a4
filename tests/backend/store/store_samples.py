"""Sample documents and hypothesis strategies shared by the store tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import strategies as st

from backend.store.core3 import DOMAIN_VM_REFS, GLOBAL_VM_REFS, label_ref
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord

DATA = Path(__file__).parent / "data"
SAMPLE_PATH = DATA / "qubes-sample.xml"
REPO_ROOT = Path(__file__).resolve().parents[3]


def sample_bytes() -> bytes:
    return SAMPLE_PATH.read_bytes()


def small_document() -> Core3Document:
    """dom0 and one AppVM: enough for the file and writer tests."""
    return Core3Document(
        labels=(LabelRecord(1, "0xcc0000", "red"), LabelRecord(8, "0x000000", "black")),
        pools=({"name": "varlibqubes", "driver": "file-reflink", "dir_path": "/var/lib/qubes"},),
        properties={"default_netvm": None},
        domains=(
            DomainRecord(0, "AdminVM", {"name": "dom0", "label": "label-8"}),
            DomainRecord(1, "AppVM", {"name": "work", "label": "label-1"}),
        ),
    )


def with_dom0_feature(doc: Core3Document, name: str, value: str) -> Core3Document:
    dom0 = doc.domains[0]
    dom0 = dataclasses.replace(dom0, features={**dom0.features, name: value})
    return dataclasses.replace(doc, domains=(dom0, *doc.domains[1:]))


# -- hypothesis ---------------------------------------------------------------------

# Anything XML 1.0 can carry, with the characters that need escaping made likely.
_chars = st.characters(exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r&<>\"' ]")
texts = st.text(_chars, max_size=12)
keys = st.text(_chars, min_size=1, max_size=12)
attr_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
qube_names = st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True).filter(lambda n: n != "dom0")
_RESERVED = {"qid", "name", "label", "uuid"} | DOMAIN_VM_REFS | GLOBAL_VM_REFS
plain_keys = keys.filter(lambda k: k not in _RESERVED)


@st.composite
def labels(draw: st.DrawFn) -> tuple[LabelRecord, ...]:
    indexes = draw(st.lists(st.integers(1, 200), min_size=1, max_size=5, unique=True))
    names = draw(st.lists(keys, min_size=len(indexes), max_size=len(indexes), unique=True))
    colors = st.from_regex(r"0x[0-9a-f]{6}", fullmatch=True)
    return tuple(LabelRecord(i, draw(colors), n) for i, n in zip(indexes, names, strict=True))


@st.composite
def pools(draw: st.DrawFn) -> tuple[dict[str, str], ...]:
    names = draw(st.lists(keys, max_size=4, unique=True))
    drivers = st.sampled_from(["file", "file-reflink", "lvm_thin", "linux-kernel", "zfs"])
    extra = st.dictionaries(
        attr_names.filter(lambda k: k not in ("name", "driver")), texts, max_size=3
    )
    return tuple({**draw(extra), "name": name, "driver": draw(drivers)} for name in names)


def _refs(names: list[str], which: frozenset[str]) -> st.SearchStrategy[dict[str, str | None]]:
    targets = st.sampled_from([*names, "dom0"]) | st.none()
    return st.dictionaries(st.sampled_from(sorted(which)), targets, max_size=3)


devices = st.builds(
    DeviceRecord,
    backend_domain=keys,
    port_id=keys,
    device_id=keys | st.just("*"),
    mode=st.sampled_from(["required", "ask-to-attach", "auto-attach"]),
    options=st.dictionaries(keys, texts, max_size=2),
)


@st.composite
def domain(
    draw: st.DrawFn, qid: int, klass: str, name: str, label_refs: list[str], names: list[str]
) -> DomainRecord:
    properties: dict[str, str | None] = {"name": name, "label": draw(st.sampled_from(label_refs))}
    properties.update(draw(st.dictionaries(plain_keys, texts, max_size=4)))
    properties.update(draw(_refs(names, DOMAIN_VM_REFS)))
    return DomainRecord(
        qid=qid,
        klass=klass,
        properties=properties,
        features=draw(st.dictionaries(keys, texts, max_size=4)),
        tags=tuple(draw(st.lists(keys, max_size=3, unique=True))),
        devices=draw(st.dictionaries(keys, st.lists(devices, max_size=2).map(tuple), max_size=2)),
        volume_config={
            volume: {**attrs, "name": volume}
            for volume, attrs in draw(
                st.dictionaries(keys, st.dictionaries(attr_names, texts, max_size=4), max_size=3)
            ).items()
        },
    )


@st.composite
def documents(draw: st.DrawFn) -> Core3Document:
    label_records = draw(labels())
    label_refs = [label_ref(label.index) for label in label_records]
    names = draw(st.lists(qube_names, max_size=4, unique=True))
    qids = draw(
        st.lists(st.integers(1, 10000), min_size=len(names), max_size=len(names), unique=True)
    )
    classes = st.sampled_from(["TemplateVM", "AppVM", "DispVM", "StandaloneVM"])
    domains = [
        draw(domain(qid, draw(classes), name, label_refs, names))
        for qid, name in zip(qids, names, strict=True)
    ]
    if draw(st.booleans()):
        domains.insert(
            draw(st.integers(0, len(domains))),
            draw(domain(0, "AdminVM", "dom0", label_refs, names)),
        )
    properties = draw(st.dictionaries(plain_keys, texts, max_size=4))
    properties.update(draw(_refs(names, GLOBAL_VM_REFS)))
    return Core3Document(label_records, draw(pools()), properties, tuple(domains))
