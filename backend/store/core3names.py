"""The vocabulary of qubes.xml shared by its reader and writer: which properties are
VM references, dom0's fixed values, label references."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from backend.store.document import DomainRecord, LabelRecord

#: Domain properties that reference another qube (stored by name, None as empty text).
DOMAIN_VM_REFS = frozenset(
    {"template", "netvm", "guivm", "audiovm", "default_dispvm", "management_dispvm", "relayvm"}
)
#: Global properties that reference a qube.
GLOBAL_VM_REFS = frozenset(
    {
        "default_template",
        "default_netvm",
        "default_guivm",
        "default_audiovm",
        "default_dispvm",
        "management_dispvm",
        "updatevm",
        "clockvm",
    }
)
#: Domain properties qubesd loads in its stage 4, after every qube exists; it writes
#: properties sorted by (stage, name), and so do we.
STAGE4 = frozenset(
    {
        "template",
        "netvm",
        "guivm",
        "audiovm",
        "default_dispvm",
        "management_dispvm",
        "kernelopts",
        "bootmode",
        "appvm_default_bootmode",
    }
)
ASSIGNMENT_MODES = ("required", "ask-to-attach", "auto-attach")
MAX_QID = 10000
ADMIN_CLASS = "AdminVM"
ADMIN_NAME = "dom0"
#: dom0's properties that cannot be set: a record may carry them, the file never does.
ADMIN_FIXED = {"name": ADMIN_NAME, "qid": "0", "uuid": "00000000-0000-0000-0000-000000000000"}

LABEL_ID = re.compile(r"label-([0-9]+)\Z")
DOMAIN_ID = re.compile(r"domain-([0-9]+)\Z")
CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TRUE_WORDS = frozenset({"1", "yes", "true", "on"})

PathLike = str | os.PathLike[str]


def label_ref(index: int) -> str:
    """The value of a ``label`` property naming the label with this index."""
    return f"label-{index}"


def find_label(labels: Iterable[LabelRecord], ref: str) -> LabelRecord | None:
    """Resolve a ``label`` property value as qubesd does: ``label-N``, index or name."""
    labels = tuple(labels)
    match = LABEL_ID.match(ref)
    index = match.group(1) if match else ref
    if index.isascii() and index.isdigit():
        found = next((label for label in labels if label.index == int(index)), None)
        if found is not None:
            return found
    return next((label for label in labels if label.name == ref), None)


def domain_name(domain: DomainRecord) -> str | None:
    """The name other qubes use to reference this one."""
    if domain.klass == ADMIN_CLASS:
        return ADMIN_NAME
    return domain.properties.get("name")
